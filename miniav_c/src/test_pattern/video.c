/* Test-pattern video device, id "test-pattern", for cameras and screens.
 *
 * A real capture thread at the configured rate (or as fast as possible) fills pool
 * buffers with moving colour bars. Bytes 0-3 of plane 0 hold the frame's sequence
 * number (0 for the first frame after start), little-endian, so a consumer can check
 * that frames arrive in order and without gaps. The bars move 4 pixels per frame.
 *
 * As a screen it is a virtual 1920x1080 display; a region is cut from that display,
 * so region captures can be checked against the full picture.
 */
#define _GNU_SOURCE
#include "../common/miniav_internal.h"

#include <stdlib.h>
#include <string.h>

#define TEST_PATTERN_ID "test-pattern"
#define MAX_WIDTH 7680u
#define MAX_HEIGHT 4320u
#define DISPLAY_WIDTH 1920u
#define DISPLAY_HEIGHT 1080u
#define DEFAULT_POOL 4u
#define BAR_COUNT 8u
#define PIXELS_PER_FRAME 4u

typedef struct {
    miniav_capture_thread worker;
    miniav_video_layout layout;
    uint32_t virtual_width;   /* width the bars span (the display for a region) */
    uint32_t x_offset;        /* region origin within that width */
    double period_us;         /* 0 = as fast as possible */
    uint8_t *row[MINIAV_MAX_PLANES]; /* one generated row per plane, copied down the frame */
} video_state;

/* White, yellow, cyan, green, magenta, red, blue, black (RGB). */
static const uint8_t bar_rgb[BAR_COUNT][3] = {{235, 235, 235}, {235, 235, 16}, {16, 235, 235}, {16, 235, 16},
                                              {235, 16, 235},  {235, 16, 16},  {16, 16, 235},  {16, 16, 16}};

static void rgb_to_yuv(const uint8_t rgb[3], uint8_t *y, uint8_t *u, uint8_t *v) {
    /* BT.601 limited range; integer so every platform produces the same bytes. */
    int r = rgb[0], g = rgb[1], b = rgb[2];
    *y = (uint8_t)(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16);
    *u = (uint8_t)(((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128);
    *v = (uint8_t)(((112 * r - 94 * g - 18 * b + 128) >> 8) + 128);
}

static unsigned bar_at(const video_state *st, uint32_t x, uint64_t sequence) {
    uint64_t shifted = (uint64_t)x + st->x_offset + sequence * PIXELS_PER_FRAME;
    return (unsigned)((shifted % st->virtual_width) * BAR_COUNT / st->virtual_width);
}

/* Builds one row per plane for this frame, then copies it into every row. */
static void fill_frame(video_state *st, MiniAVPixelFormat fmt, uint32_t w, uint32_t h, uint8_t *mem, uint64_t sequence) {
    const miniav_video_layout *L = &st->layout;
    uint8_t *r0 = st->row[0], *r1 = st->row[1], *r2 = st->row[2];
    switch (fmt) {
    case MINIAV_PIXEL_FORMAT_BGRA32:
    case MINIAV_PIXEL_FORMAT_RGBA32:
    case MINIAV_PIXEL_FORMAT_RGB24:
    case MINIAV_PIXEL_FORMAT_BGR24: {
        bool bgr = fmt == MINIAV_PIXEL_FORMAT_BGRA32 || fmt == MINIAV_PIXEL_FORMAT_BGR24;
        unsigned bpp = (fmt == MINIAV_PIXEL_FORMAT_BGRA32 || fmt == MINIAV_PIXEL_FORMAT_RGBA32) ? 4 : 3;
        for (uint32_t x = 0; x < w; x++) {
            const uint8_t *c = bar_rgb[bar_at(st, x, sequence)];
            uint8_t *p = r0 + (size_t)x * bpp;
            p[0] = bgr ? c[2] : c[0];
            p[1] = c[1];
            p[2] = bgr ? c[0] : c[2];
            if (bpp == 4) p[3] = 255;
        }
        break;
    }
    case MINIAV_PIXEL_FORMAT_GRAY8:
        for (uint32_t x = 0; x < w; x++) {
            uint8_t y, u, v;
            rgb_to_yuv(bar_rgb[bar_at(st, x, sequence)], &y, &u, &v);
            r0[x] = y;
        }
        break;
    case MINIAV_PIXEL_FORMAT_I420:
    case MINIAV_PIXEL_FORMAT_NV12:
    case MINIAV_PIXEL_FORMAT_YUY2:
        for (uint32_t x = 0; x < w; x++) {
            uint8_t y, u, v;
            rgb_to_yuv(bar_rgb[bar_at(st, x, sequence)], &y, &u, &v);
            uint32_t cx = x / 2;
            if (fmt == MINIAV_PIXEL_FORMAT_YUY2) {
                r0[(size_t)x * 2] = y;
                if (x % 2 == 0) { /* a pair shares the chroma of its first pixel */
                    r0[(size_t)cx * 4 + 1] = u;
                    r0[(size_t)cx * 4 + 3] = v;
                    if (x + 1 == w) r0[(size_t)x * 2 + 2] = y; /* odd width: pad the last pair */
                }
            } else {
                r0[x] = y;
                if (x % 2 == 0) {
                    if (fmt == MINIAV_PIXEL_FORMAT_I420) {
                        r1[cx] = u;
                        r2[cx] = v;
                    } else {
                        r1[(size_t)cx * 2] = u;
                        r1[(size_t)cx * 2 + 1] = v;
                    }
                }
            }
        }
        break;
    default: break;
    }
    uint32_t plane_rows[MINIAV_MAX_PLANES] = {h, (h + 1) / 2, (h + 1) / 2, 0};
    if (L->num_planes == 1) plane_rows[0] = h;
    for (uint32_t p = 0; p < L->num_planes; p++) {
        uint8_t *dst = mem + L->offset[p];
        for (uint32_t row = 0; row < plane_rows[p]; row++) memcpy(dst + (size_t)row * L->stride[p], st->row[p], L->stride[p]);
    }
    /* Sequence number in bytes 0-3 of plane 0, little-endian. */
    uint32_t seq = (uint32_t)sequence;
    mem[0] = (uint8_t)seq;
    mem[1] = (uint8_t)(seq >> 8);
    mem[2] = (uint8_t)(seq >> 16);
    mem[3] = (uint8_t)(seq >> 24);
}

static void *capture_thread(void *arg) {
    miniav_stream *s = arg;
    video_state *st = s->backend_data;
    const MiniAVVideoFormatInfo *f = &s->video;
    miniav_pacer pacer;
    miniav_pacer_init(&pacer, st->period_us);
    while (!atomic_load(&st->worker.stop)) {
        if (!miniav_pacer_wait(&pacer, &st->worker.stop)) break;
        int64_t timestamp = MiniAV_GetTimeUs();
        uint64_t sequence = s->sequence;
        miniav_slot *slot = miniav_stream_acquire(s);
        if (!slot) {
            /* Unpaced, a source with no free buffer would spin and count millions of drops:
             * behave like a 1000 fps camera instead until the application releases one. */
            if (st->period_us == 0) miniav_sleep_until(MiniAV_GetTimeUs() + 1000, &st->worker.stop);
            continue;
        }
        fill_frame(st, f->pixel_format, f->width, f->height, slot->mem, sequence);
        MiniAVBuffer *b = &slot->buffer;
        memset(b, 0, sizeof *b);
        b->type = MINIAV_BUFFER_TYPE_VIDEO;
        b->content_type = MINIAV_BUFFER_CONTENT_TYPE_CPU;
        b->timestamp_us = timestamp;
        b->data.video.width = f->width;
        b->data.video.height = f->height;
        b->data.video.pixel_format = f->pixel_format;
        b->data.video.num_planes = st->layout.num_planes;
        b->data.video.native_gpu_dmabuf_fd = -1;
        for (uint32_t p = 0; p < st->layout.num_planes; p++) {
            b->data.video.planes[p] = slot->mem + st->layout.offset[p];
            b->data.video.stride_bytes[p] = st->layout.stride[p];
            b->data.video.plane_size_bytes[p] = st->layout.size[p];
        }
        b->data_size_bytes = st->layout.total;
        miniav_stream_deliver(s, slot);
    }
    return NULL;
}

/* ------------------------------------------------------------------ backend functions */

static bool always_available(void) { return true; }

static bool owns_id(const char *id) { return id && !strcmp(id, TEST_PATTERN_ID); }

static bool format_supported(MiniAVPixelFormat f) {
    switch (f) {
    case MINIAV_PIXEL_FORMAT_BGRA32:
    case MINIAV_PIXEL_FORMAT_RGBA32:
    case MINIAV_PIXEL_FORMAT_RGB24:
    case MINIAV_PIXEL_FORMAT_BGR24:
    case MINIAV_PIXEL_FORMAT_GRAY8:
    case MINIAV_PIXEL_FORMAT_I420:
    case MINIAV_PIXEL_FORMAT_NV12:
    case MINIAV_PIXEL_FORMAT_YUY2: return true;
    default: return false;
    }
}

static const MiniAVPixelFormat listed_formats[] = {MINIAV_PIXEL_FORMAT_BGRA32, MINIAV_PIXEL_FORMAT_RGBA32, MINIAV_PIXEL_FORMAT_NV12,
                                                   MINIAV_PIXEL_FORMAT_I420,   MINIAV_PIXEL_FORMAT_YUY2,   MINIAV_PIXEL_FORMAT_RGB24,
                                                   MINIAV_PIXEL_FORMAT_BGR24,  MINIAV_PIXEL_FORMAT_GRAY8};
static const uint32_t listed_sizes[][2] = {{640, 480}, {1280, 720}, {1920, 1080}, {3840, 2160}};
static const uint32_t listed_rates[] = {30, 60};

static MiniAVResultCode video_formats(const char *id, MiniAVVideoFormatInfo **formats, uint32_t *count) {
    (void)id;
    size_t n = sizeof listed_formats / sizeof listed_formats[0] * (sizeof listed_sizes / sizeof listed_sizes[0]) *
               (sizeof listed_rates / sizeof listed_rates[0]);
    MiniAVVideoFormatInfo *list = calloc(n, sizeof *list);
    if (!list) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    size_t i = 0;
    for (size_t f = 0; f < sizeof listed_formats / sizeof listed_formats[0]; f++)
        for (size_t z = 0; z < sizeof listed_sizes / sizeof listed_sizes[0]; z++)
            for (size_t r = 0; r < sizeof listed_rates / sizeof listed_rates[0]; r++)
                list[i++] = (MiniAVVideoFormatInfo){listed_sizes[z][0], listed_sizes[z][1], listed_formats[f], listed_rates[r], 1,
                                                    MINIAV_OUTPUT_PREFERENCE_CPU, 0};
    *formats = list;
    *count = (uint32_t)n;
    return MINIAV_SUCCESS;
}

static MiniAVResultCode configure(miniav_stream *s) {
    const MiniAVVideoFormatInfo *req = &s->requested_video;
    MiniAVVideoFormatInfo f = *req;
    bool screen = s->type == MINIAV_DEVICE_TYPE_SCREEN;
    if (screen && s->screen_target == MINIAV_SCREEN_TARGET_WINDOW)
        return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "the test pattern is a display and has no windows; use ConfigureDisplay");
    uint32_t x_offset = 0, virtual_width = 0;
    if (screen && s->screen_target == MINIAV_SCREEN_TARGET_REGION) {
        MiniAVResultCode r = miniav_screen_check_region(s, DISPLAY_WIDTH, DISPLAY_HEIGHT, "test-pattern display", NULL);
        if (r) return r;
        if ((f.width && f.width != s->region_width) || (f.height && f.height != s->region_height))
            return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "a region is captured at its own size (%ux%u); leave width and height unset",
                               s->region_width, s->region_height);
        f.width = s->region_width;
        f.height = s->region_height;
        x_offset = (uint32_t)s->region_x;
        virtual_width = DISPLAY_WIDTH;
    }
    if (!f.width && !f.height) {
        f.width = screen ? DISPLAY_WIDTH : 1280;
        f.height = screen ? DISPLAY_HEIGHT : 720;
    }
    if (!f.width || !f.height)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "size %ux%u: give both width and height, or neither for the default", f.width, f.height);
    if (f.width > MAX_WIDTH || f.height > MAX_HEIGHT)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "size %ux%u is larger than the test pattern's maximum of %ux%u", f.width, f.height,
                           MAX_WIDTH, MAX_HEIGHT);
    if (f.pixel_format == MINIAV_PIXEL_FORMAT_UNKNOWN) f.pixel_format = MINIAV_PIXEL_FORMAT_BGRA32;
    if ((unsigned)f.pixel_format >= MINIAV_PIXEL_FORMAT_COUNT)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "pixel format %d is not a MiniAVPixelFormat", (int)f.pixel_format);
    if (!format_supported(f.pixel_format))
        return miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED,
                           "the test pattern does not produce '%s'; use bgra, rgba, nv12, i420, yuyv, rgb24, bgr24 or gray",
                           MiniAV_PixelFormatName(f.pixel_format));
    double period_us;
    MiniAVResultCode rate = miniav_resolve_frame_rate(&f, 30, &period_us);
    if (rate) return rate;
    if (f.output_preference == MINIAV_OUTPUT_PREFERENCE_GPU) {
        miniav_log(MINIAV_LOG_LEVEL_INFO, "test pattern: no GPU output; delivering CPU buffers");
        f.output_preference = MINIAV_OUTPUT_PREFERENCE_CPU;
    }
    video_state *st = calloc(1, sizeof *st);
    if (!st) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    MiniAVResultCode r = miniav_video_layout_compute(f.pixel_format, f.width, f.height, 64, &st->layout);
    if (r) {
        free(st);
        return r;
    }
    for (uint32_t p = 0; p < st->layout.num_planes; p++) {
        st->row[p] = calloc(1, st->layout.stride[p]);
        if (!st->row[p]) {
            for (uint32_t q = 0; q < p; q++) free(st->row[q]);
            free(st);
            return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
        }
    }
    st->virtual_width = virtual_width ? virtual_width : f.width;
    st->x_offset = x_offset;
    st->period_us = period_us;
    s->backend_data = st;
    s->video = f;
    s->video.fourcc = 0; /* MiniAV pixel formats only */
    return MINIAV_SUCCESS;
}

static MiniAVResultCode start(miniav_stream *s) {
    video_state *st = s->backend_data;
    MiniAVResultCode r = miniav_stream_ensure_pool(s, miniav_stream_pool_size(s, DEFAULT_POOL), st->layout.total);
    if (r) return r;
    return miniav_capture_thread_start(&st->worker, capture_thread, s);
}

static void stop(miniav_stream *s) {
    video_state *st = s->backend_data;
    miniav_capture_thread_stop(&st->worker);
}

static void destroy(miniav_stream *s) {
    video_state *st = s->backend_data;
    if (!st) return;
    for (uint32_t p = 0; p < MINIAV_MAX_PLANES; p++) free(st->row[p]);
    free(st);
}

static MiniAVResultCode enumerate_camera(miniav_device_list *out, MiniAVLoopbackTargetType filter) {
    (void)filter;
    if (!miniav_env_flag("MINIAV_FAKE_DEVICES")) return MINIAV_SUCCESS;
    MiniAVDeviceInfo *d = miniav_device_list_add(out);
    if (!d) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    miniav_copy_string(d->device_id, sizeof d->device_id, TEST_PATTERN_ID);
    miniav_copy_string(d->name, sizeof d->name, "MiniAV test pattern camera");
    d->width = 1280;
    d->height = 720;
    return MINIAV_SUCCESS;
}

static MiniAVResultCode enumerate_display(miniav_device_list *out, MiniAVLoopbackTargetType filter) {
    (void)filter;
    if (!miniav_env_flag("MINIAV_FAKE_DEVICES")) return MINIAV_SUCCESS;
    MiniAVDeviceInfo *d = miniav_device_list_add(out);
    if (!d) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    miniav_copy_string(d->device_id, sizeof d->device_id, TEST_PATTERN_ID);
    miniav_copy_string(d->name, sizeof d->name, "MiniAV test pattern display");
    d->width = DISPLAY_WIDTH;
    d->height = DISPLAY_HEIGHT;
    return MINIAV_SUCCESS;
}

static MiniAVResultCode enumerate_no_windows(miniav_device_list *out) {
    (void)out;
    return MINIAV_SUCCESS;
}

const miniav_backend miniav_test_pattern_camera = {
    .name = "test-pattern", .type = MINIAV_DEVICE_TYPE_CAMERA, .available = always_available,
    .enumerate = enumerate_camera, .owns_id = owns_id, .video_formats = video_formats,
    .configure = configure, .start = start, .stop = stop, .destroy = destroy,
};

const miniav_backend miniav_test_pattern_screen = {
    .name = "test-pattern", .type = MINIAV_DEVICE_TYPE_SCREEN, .available = always_available,
    .enumerate = enumerate_display, .enumerate_windows = enumerate_no_windows, .owns_id = owns_id,
    .video_formats = video_formats, .configure = configure, .start = start, .stop = stop, .destroy = destroy,
};
