/* Pixel/sample format tables, frame layouts, device/format list helpers. */
#define _GNU_SOURCE
#include "miniav_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#endif

typedef struct {
    MiniAVPixelFormat format;
    const char *name;
    const char *alias;
} pixel_name;

/* Names are what JavaScript and the CLI use. */
static const pixel_name pixel_names[] = {
    {MINIAV_PIXEL_FORMAT_I420, "i420", "yu12"},   {MINIAV_PIXEL_FORMAT_NV12, "nv12", NULL},
    {MINIAV_PIXEL_FORMAT_NV21, "nv21", NULL},     {MINIAV_PIXEL_FORMAT_YUY2, "yuyv", "yuy2"},
    {MINIAV_PIXEL_FORMAT_UYVY, "uyvy", NULL},     {MINIAV_PIXEL_FORMAT_RGB24, "rgb24", NULL},
    {MINIAV_PIXEL_FORMAT_BGR24, "bgr24", NULL},   {MINIAV_PIXEL_FORMAT_RGBA32, "rgba", "rgba32"},
    {MINIAV_PIXEL_FORMAT_BGRA32, "bgra", "bgra32"}, {MINIAV_PIXEL_FORMAT_ARGB32, "argb", "argb32"},
    {MINIAV_PIXEL_FORMAT_ABGR32, "abgr", "abgr32"}, {MINIAV_PIXEL_FORMAT_MJPEG, "mjpeg", NULL},
    {MINIAV_PIXEL_FORMAT_GRAY8, "gray", "grey"},   {MINIAV_PIXEL_FORMAT_BGRX32, "bgrx", "bgr0"},
    {MINIAV_PIXEL_FORMAT_RGBX32, "rgbx", "rgb0"},
};

const char *MiniAV_PixelFormatName(MiniAVPixelFormat format) {
    for (size_t i = 0; i < sizeof pixel_names / sizeof pixel_names[0]; i++)
        if (pixel_names[i].format == format) return pixel_names[i].name;
    return "unknown";
}

MiniAVPixelFormat MiniAV_PixelFormatFromName(const char *name) {
    if (!name) return MINIAV_PIXEL_FORMAT_UNKNOWN;
    for (size_t i = 0; i < sizeof pixel_names / sizeof pixel_names[0]; i++)
        if (!strcasecmp(pixel_names[i].name, name) || (pixel_names[i].alias && !strcasecmp(pixel_names[i].alias, name)))
            return pixel_names[i].format;
    return MINIAV_PIXEL_FORMAT_UNKNOWN;
}

static const char *const audio_names[MINIAV_AUDIO_FORMAT_COUNT] = {"unknown", "u8", "s16", "s24", "s32", "f32"};

const char *MiniAV_AudioFormatName(MiniAVAudioFormat format) {
    return (unsigned)format < MINIAV_AUDIO_FORMAT_COUNT ? audio_names[format] : "unknown";
}

MiniAVAudioFormat MiniAV_AudioFormatFromName(const char *name) {
    if (!name) return MINIAV_AUDIO_FORMAT_UNKNOWN;
    for (int i = 1; i < MINIAV_AUDIO_FORMAT_COUNT; i++)
        if (!strcasecmp(audio_names[i], name)) return (MiniAVAudioFormat)i;
    if (!strcasecmp(name, "float32")) return MINIAV_AUDIO_FORMAT_F32;
    if (!strcasecmp(name, "int16")) return MINIAV_AUDIO_FORMAT_S16;
    return MINIAV_AUDIO_FORMAT_UNKNOWN;
}

uint32_t miniav_audio_format_bytes(MiniAVAudioFormat format) {
    switch (format) {
    case MINIAV_AUDIO_FORMAT_U8: return 1;
    case MINIAV_AUDIO_FORMAT_S16: return 2;
    case MINIAV_AUDIO_FORMAT_S24:
    case MINIAV_AUDIO_FORMAT_S32:
    case MINIAV_AUDIO_FORMAT_F32: return 4;
    default: return 0;
    }
}

static uint32_t align_up(uint32_t v, uint32_t a) { return a > 1 ? (v + a - 1) / a * a : v; }

MiniAVResultCode miniav_video_layout_compute(MiniAVPixelFormat format, uint32_t width, uint32_t height,
                                             uint32_t row_align, miniav_video_layout *out) {
    memset(out, 0, sizeof *out);
    if (!width || !height) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "frame size %ux%u is empty", width, height);
    uint32_t cw = (width + 1) / 2, ch = (height + 1) / 2;
    uint32_t row_bytes[MINIAV_MAX_PLANES] = {0}, rows[MINIAV_MAX_PLANES] = {0};
    switch (format) {
    case MINIAV_PIXEL_FORMAT_I420:
        out->num_planes = 3;
        row_bytes[0] = width, rows[0] = height;
        row_bytes[1] = row_bytes[2] = cw, rows[1] = rows[2] = ch;
        break;
    case MINIAV_PIXEL_FORMAT_NV12:
    case MINIAV_PIXEL_FORMAT_NV21:
        out->num_planes = 2;
        row_bytes[0] = width, rows[0] = height;
        row_bytes[1] = cw * 2, rows[1] = ch;
        break;
    case MINIAV_PIXEL_FORMAT_YUY2:
    case MINIAV_PIXEL_FORMAT_UYVY: out->num_planes = 1, row_bytes[0] = cw * 4, rows[0] = height; break;
    case MINIAV_PIXEL_FORMAT_RGB24:
    case MINIAV_PIXEL_FORMAT_BGR24: out->num_planes = 1, row_bytes[0] = width * 3, rows[0] = height; break;
    case MINIAV_PIXEL_FORMAT_RGBA32:
    case MINIAV_PIXEL_FORMAT_BGRA32:
    case MINIAV_PIXEL_FORMAT_ARGB32:
    case MINIAV_PIXEL_FORMAT_ABGR32:
    case MINIAV_PIXEL_FORMAT_BGRX32:
    case MINIAV_PIXEL_FORMAT_RGBX32: out->num_planes = 1, row_bytes[0] = width * 4, rows[0] = height; break;
    case MINIAV_PIXEL_FORMAT_GRAY8: out->num_planes = 1, row_bytes[0] = width, rows[0] = height; break;
    default:
        return miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "pixel format '%s' has no fixed layout",
                           MiniAV_PixelFormatName(format));
    }
    size_t offset = 0;
    for (uint32_t p = 0; p < out->num_planes; p++) {
        out->stride[p] = align_up(row_bytes[p], row_align);
        out->offset[p] = offset;
        out->size[p] = (size_t)out->stride[p] * rows[p];
        offset += (out->size[p] + 63) & ~(size_t)63; /* each plane starts on a cache line */
    }
    out->total = offset;
    return MINIAV_SUCCESS;
}

const char *miniav_getenv(const char *name) {
#ifdef _WIN32
    /* The process environment, not the C runtime's copy of it taken at start: Node (and
     * any program calling SetEnvironmentVariable) changes only the former. */
    static _Thread_local char value[1024];
    DWORD n = GetEnvironmentVariableA(name, value, sizeof value);
    return n && n < sizeof value ? value : NULL;
#else
    return getenv(name);
#endif
}

bool miniav_env_flag(const char *name) {
    const char *v = miniav_getenv(name);
    return v && *v && strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0;
}

void miniav_copy_string(char *dst, size_t dst_size, const char *src) {
    if (!dst_size) return;
    size_t n = src ? strlen(src) : 0;
    if (n >= dst_size) n = dst_size - 1;
    if (n) memcpy(dst, src, n);
    dst[n] = '\0';
}

MiniAVDeviceInfo *miniav_device_list_add(miniav_device_list *list) {
    if (list->count == list->capacity) {
        uint32_t cap = list->capacity ? list->capacity * 2 : 8;
        MiniAVDeviceInfo *items = realloc(list->items, cap * sizeof *items);
        if (!items) return NULL;
        list->items = items;
        list->capacity = cap;
    }
    MiniAVDeviceInfo *d = &list->items[list->count++];
    memset(d, 0, sizeof *d);
    return d;
}

MiniAVResultCode MiniAV_FreeDeviceList(MiniAVDeviceInfo *devices, uint32_t count) {
    (void)count;
    free(devices);
    return MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_FreeFormatList(void *formats, uint32_t count) {
    (void)count;
    free(formats);
    return MINIAV_SUCCESS;
}

MiniAVResultCode miniav_resolve_frame_rate(MiniAVVideoFormatInfo *f, uint32_t default_fps, double *period_us) {
    if (f->frame_rate_numerator == 0 && f->frame_rate_denominator == 0) {
        f->frame_rate_numerator = default_fps;
        f->frame_rate_denominator = 1;
        *period_us = 1e6 / default_fps;
    } else if (f->frame_rate_denominator == 0) {
        f->frame_rate_numerator = MINIAV_FRAME_RATE_UNLIMITED_NUMERATOR;
        *period_us = 0; /* as fast as possible */
    } else {
        double fps = (double)f->frame_rate_numerator / f->frame_rate_denominator;
        if (fps <= 0 || fps > 1000)
            return miniav_fail(MINIAV_ERROR_INVALID_ARG, "frame rate %u/%u is outside 0..1000 fps; use the unlimited rate for as fast as possible",
                               f->frame_rate_numerator, f->frame_rate_denominator);
        *period_us = 1e6 / fps;
    }
    return MINIAV_SUCCESS;
}

MiniAVResultCode miniav_resolve_audio_format(MiniAVAudioInfo *f, uint32_t default_rate, uint32_t default_channels, const char *who) {
    if (!f->sample_rate) f->sample_rate = default_rate;
    if (!f->channel_count) f->channel_count = default_channels;
    if (f->format == MINIAV_AUDIO_FORMAT_UNKNOWN) f->format = MINIAV_AUDIO_FORMAT_F32;
    if (f->sample_rate < 8000 || f->sample_rate > 192000)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "sample rate %u Hz is outside %s's 8000..192000 Hz", f->sample_rate, who);
    if (f->channel_count > 8) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "%u channels: %s gives 1 to 8", f->channel_count, who);
    if (f->format != MINIAV_AUDIO_FORMAT_F32 && f->format != MINIAV_AUDIO_FORMAT_S16)
        return miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "sample format '%s': %s gives f32 or s16", MiniAV_AudioFormatName(f->format), who);
    if (!f->buffer_frames) f->buffer_frames = f->sample_rate / 100; /* 10 ms */
    if (f->buffer_frames > f->sample_rate)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "%u frames per buffer is more than one second at %u Hz", f->buffer_frames, f->sample_rate);
    return MINIAV_SUCCESS;
}
