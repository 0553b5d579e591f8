/* V4L2 backend against the vivid virtual driver, inside the project's VM rig
 * (scripts/rigs/vivid-vm.sh; vivid loaded with two capture-only instances):
 * the device and format lists equal what v4l2-ctl reports; frames of vivid's
 * deterministic pattern are byte-identical to v4l2-ctl's own capture (packed, planar and a
 * padded stride); properties round-trip and change pixels; DMA-BUF descriptors map to the
 * same bytes; held buffers drop frames without stalling and every frame is counted once;
 * an unplugged device ends the stream with DEVICE_LOST and leaks nothing; bad input.
 * usage: test_v4l2   (exit 77 = skipped: no vivid device, i.e. not inside the VM rig) */
#define _GNU_SOURCE
#include "miniav.h"
#include "check.h"

#include <dirent.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <errno.h>
#include <linux/dma-buf.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define FOURCC(a, b, c, d) ((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))

static char dev_id[256], dev_path[64]; /* the first vivid capture node */

/* ------------------------------------------------------------------ helpers */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int r = system(cmd);
    return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

static uint8_t *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
    *size = fread(data, 1, (size_t)n, f);
    fclose(f);
    return data;
}

static int count_fds(void) {
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

/* Mappings of V4L2 buffers or DMA-BUFs in this process. */
static int count_video_maps(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int n = 0;
    while (f && fgets(line, sizeof line, f)) n += strstr(line, "/dev/video") || strstr(line, "dmabuf");
    if (f) fclose(f);
    return n;
}

/* A stream that keeps the first `keep` frames after `skip`, and counts the rest. */
typedef struct {
    atomic_int frames;
    int skip, keep;
    MiniAVBuffer kept[8];
    void *handles[8];
    int kept_count;
    bool hold_all;                 /* never release (the drop test) */
    void *held[64];
    atomic_int held_count;
    int64_t last_ts;
    int bad_ts;
    uint64_t last_seq;
    atomic_int event;
    MiniAVResultCode event_code;
} catcher;

static void on_frame(const MiniAVBuffer *b, void *user) {
    catcher *c = user;
    int n = atomic_fetch_add(&c->frames, 1);
    int64_t now = MiniAV_GetTimeUs();
    if (b->timestamp_us > now || (n > 0 && b->timestamp_us <= c->last_ts)) c->bad_ts++;
    c->last_ts = b->timestamp_us;
    c->last_seq = b->sequence;
    if (c->hold_all) {
        int h = atomic_load(&c->held_count);
        if (h < 64) {
            c->held[h] = b->internal_handle;
            atomic_store(&c->held_count, h + 1);
            return;
        }
    }
    if (n >= c->skip && c->kept_count < c->keep) {
        c->kept[c->kept_count] = *b;
        c->handles[c->kept_count++] = b->internal_handle;
        return;
    }
    MiniAV_ReleaseBuffer(b->internal_handle);
}

static void on_event(MiniAVStreamEventType ev, MiniAVResultCode code, const char *msg, void *user) {
    catcher *c = user;
    printf("event %d %s: %s\n", ev, MiniAV_GetErrorName(code), msg);
    c->event_code = code;
    atomic_store(&c->event, ev);
}

static void release_kept(catcher *c) {
    for (int i = 0; i < c->kept_count; i++) CHECK_EQ_INT(MiniAV_ReleaseBuffer(c->handles[i]), MINIAV_SUCCESS);
    c->kept_count = 0;
}

static MiniAVCameraContextHandle open_camera(const char *id, uint32_t fourcc, uint32_t w, uint32_t h, uint32_t fps, bool gpu) {
    MiniAVCameraContextHandle ctx = NULL;
    CHECK_EQ_INT(MiniAV_Camera_CreateContext(&ctx), MINIAV_SUCCESS);
    MiniAVVideoFormatInfo f = {w, h, MINIAV_PIXEL_FORMAT_UNKNOWN, fps, 1, gpu ? MINIAV_OUTPUT_PREFERENCE_GPU : MINIAV_OUTPUT_PREFERENCE_CPU,
                               fourcc};
    MiniAVResultCode r = MiniAV_Camera_Configure(ctx, id, &f);
    CHECK_EQ_INT(r, MINIAV_SUCCESS);
    if (r) {
        MiniAV_Camera_DestroyContext(ctx);
        return NULL;
    }
    return ctx;
}

/* Copies the visible bytes of a frame (rows without stride padding) into one block. */
static size_t visible_bytes(const MiniAVBuffer *b, uint8_t *out) {
    size_t n = 0;
    uint32_t w = b->data.video.width, h = b->data.video.height;
    for (uint32_t p = 0; p < b->data.video.num_planes; p++) {
        uint32_t row = 0, rows = h;
        switch (b->data.video.fourcc) {
        case FOURCC('Y', 'U', 'Y', 'V'): row = w * 2; break;
        case FOURCC('R', 'G', 'B', '3'): row = w * 3; break;
        case FOURCC('N', 'V', '1', '2'): row = w, rows = p ? h / 2 : h; break;
        default: return 0;
        }
        for (uint32_t y = 0; y < rows; y++) {
            if (out) memcpy(out + n, (const uint8_t *)b->data.video.planes[p] + (size_t)y * b->data.video.stride_bytes[p], row);
            n += row;
        }
    }
    return n;
}

/* The same, from v4l2-ctl's file of whole frames (rows `stride` apart). */
static size_t visible_bytes_of_file(const uint8_t *file, uint32_t fourcc, uint32_t w, uint32_t h, uint32_t stride, uint8_t *out) {
    size_t n = 0;
    uint32_t row = fourcc == FOURCC('Y', 'U', 'Y', 'V') ? w * 2 : fourcc == FOURCC('R', 'G', 'B', '3') ? w * 3 : w;
    uint32_t rows = fourcc == FOURCC('N', 'V', '1', '2') ? h + h / 2 : h;
    for (uint32_t y = 0; y < rows; y++, n += row) memcpy(out + n, file + (size_t)y * stride, row);
    return n;
}

/* One frame through MiniAV (after a few, so settings have taken effect), as visible bytes. */
static uint8_t *capture_visible(const char *id, uint32_t fourcc, uint32_t w, uint32_t h, size_t *size, uint32_t *stride0) {
    MiniAVCameraContextHandle ctx = open_camera(id, fourcc, w, h, 30, false);
    if (!ctx) return NULL;
    catcher c = {.skip = 3, .keep = 1};
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(ctx, on_frame, &c), MINIAV_SUCCESS);
    WAIT_FOR(c.kept_count == 1, 5000);
    CHECK_EQ_INT(c.kept_count, 1);
    uint8_t *out = NULL;
    if (c.kept_count) {
        const MiniAVBuffer *b = &c.kept[0];
        CHECK_EQ_INT(b->data.video.width, w);
        CHECK_EQ_INT(b->data.video.height, h);
        CHECK_EQ_INT(b->data.video.fourcc, fourcc);
        *size = visible_bytes(b, NULL);
        out = malloc(*size ? *size : 1);
        visible_bytes(b, out);
        *stride0 = b->data.video.stride_bytes[0];
        CHECK_EQ_INT(c.bad_ts, 0);
    }
    CHECK_EQ_INT(MiniAV_Camera_StopCapture(ctx), MINIAV_SUCCESS);
    release_kept(&c);
    CHECK_EQ_INT(MiniAV_Camera_DestroyContext(ctx), MINIAV_SUCCESS);
    return out;
}

/* ------------------------------------------------------------------ tests */

static void test_enumerate(void) {
    MiniAVDeviceInfo *devs;
    uint32_t n;
    CHECK_EQ_INT(MiniAV_Camera_EnumerateDevices(&devs, &n), MINIAV_SUCCESS);
    int vivid = 0;
    for (uint32_t i = 0; i < n; i++) {
        printf("camera %s '%s' (%s)%s\n", devs[i].device_id, devs[i].name, devs[i].backend, devs[i].is_default ? " default" : "");
        if (!strcmp(devs[i].backend, "v4l2") && !strcmp(devs[i].name, "vivid")) vivid++;
    }
    CHECK_EQ_INT(vivid, 2); /* the rig loads two instances */
    CHECK(n > 0 && devs[0].is_default);
    CHECK(!strcmp(devs[0].device_id, "v4l2:platform:vivid-000"));
    CHECK(n > 1 && !strcmp(devs[1].device_id, "v4l2:platform:vivid-001"));
    MiniAV_FreeDeviceList(devs, n);
}

/* The format list equals v4l2-ctl --list-formats-ext: every (fourcc, size, rate). */
static void test_formats(void) {
    MiniAVVideoFormatInfo *f;
    uint32_t n;
    CHECK_EQ_INT(MiniAV_Camera_GetSupportedFormats(dev_id, &f, &n), MINIAV_SUCCESS);
    FILE *p = popen("v4l2-ctl -d /dev/video0 --list-formats-ext", "r");
    char line[256], cur[5] = "";
    uint32_t w = 0, h = 0, listed = 0, matched = 0;
    while (p && fgets(line, sizeof line, p)) {
        char fcc[5];
        double fps;
        if (sscanf(line, " [%*d]: '%4[^']'", fcc) == 1) memcpy(cur, fcc, 5);
        else if (sscanf(line, " Size: Discrete %ux%u", &w, &h) == 2) {
        } else if (strstr(line, "Interval:") && sscanf(strchr(line, '(') ? strchr(line, '(') : "", "(%lf fps)", &fps) == 1) {
            listed++;
            uint32_t code = FOURCC(cur[0], cur[1], cur[2], cur[3] ? cur[3] : ' ');
            bool found = false;
            for (uint32_t i = 0; i < n && !found; i++)
                found = f[i].fourcc == code && f[i].width == w && f[i].height == h && f[i].frame_rate_denominator &&
                        (uint32_t)(1000.0 * f[i].frame_rate_numerator / f[i].frame_rate_denominator + 0.5) == (uint32_t)(fps * 1000 + 0.5);
            if (found) matched++;
            else fprintf(stderr, "not listed by MiniAV: %s %ux%u %.3f fps\n", cur, w, h, fps);
        }
    }
    if (p) pclose(p);
    printf("formats: MiniAV %u, v4l2-ctl %u, matched %u\n", n, listed, matched);
    CHECK(listed > 100);
    CHECK_EQ_INT(matched, listed);
    CHECK_EQ_INT(n, listed);
    /* Known formats get MiniAV names; others keep their fourcc. */
    bool yuy2 = false, nv12 = false, unnamed = false;
    for (uint32_t i = 0; i < n; i++) {
        yuy2 |= f[i].fourcc == FOURCC('Y', 'U', 'Y', 'V') && f[i].pixel_format == MINIAV_PIXEL_FORMAT_YUY2;
        nv12 |= f[i].fourcc == FOURCC('N', 'V', '1', '2') && f[i].pixel_format == MINIAV_PIXEL_FORMAT_NV12;
        unnamed |= f[i].fourcc == FOURCC('Y', 'V', 'Y', 'U') && f[i].pixel_format == MINIAV_PIXEL_FORMAT_UNKNOWN;
    }
    CHECK(yuy2 && nv12 && unnamed);
    MiniAV_FreeFormatList(f, n);
}

/* bytesperline: 0 = the driver's choice; else a padded stride set up with v4l2-ctl
 * first, which MiniAV keeps for the same format. */
static void compare_with_v4l2_ctl(uint32_t fourcc, uint32_t w, uint32_t h, uint32_t bytesperline) {
    char code[5] = {(char)fourcc, (char)(fourcc >> 8), (char)(fourcc >> 16), (char)(fourcc >> 24), 0};
    char set[128];
    snprintf(set, sizeof set, "width=%u,height=%u,pixelformat=%s,bytesperline=%u", w, h, code, bytesperline);
    if (bytesperline) CHECK_EQ_INT(sh("v4l2-ctl -d %s --set-fmt-video=%s", dev_path, set), 0);
    size_t ours_size = 0;
    uint32_t stride = 0;
    uint8_t *ours = capture_visible(dev_id, fourcc, w, h, &ours_size, &stride);
    if (!ours) return;
    if (bytesperline) CHECK_EQ_INT(stride, bytesperline);
    CHECK_EQ_INT(sh("v4l2-ctl -d %s --set-fmt-video=%s --stream-mmap --stream-count=4 --stream-to=/tmp/ref.raw 2>/dev/null", dev_path, set),
                 0);
    size_t file_size = 0;
    uint8_t *file = read_file("/tmp/ref.raw", &file_size);
    CHECK(file && file_size % 4 == 0);
    size_t frame = file_size / 4;
    uint32_t rows = fourcc == FOURCC('N', 'V', '1', '2') ? h + h / 2 : h;
    CHECK_EQ_INT(frame, (size_t)stride * rows);
    if (file && frame == (size_t)stride * rows) {
        uint8_t *ref = malloc(ours_size);
        size_t n = visible_bytes_of_file(file + 3 * frame, fourcc, w, h, stride, ref);
        CHECK_EQ_INT(n, ours_size);
        CHECK(n == ours_size && memcmp(ours, ref, n) == 0);
        printf("%s %ux%u stride %u: %zu bytes %s v4l2-ctl's\n", code, w, h, stride, n,
               n == ours_size && !memcmp(ours, ref, n) ? "identical to" : "DIFFERENT from");
        free(ref);
    }
    free(file);
    free(ours);
}

static double mean_luma_yuyv(const MiniAVBuffer *b) {
    double sum = 0;
    for (uint32_t y = 0; y < b->data.video.height; y++) {
        const uint8_t *row = (const uint8_t *)b->data.video.planes[0] + (size_t)y * b->data.video.stride_bytes[0];
        for (uint32_t x = 0; x < b->data.video.width; x++) sum += row[2 * x];
    }
    return sum / ((double)b->data.video.width * b->data.video.height);
}

static const MiniAVCameraProperty *find_prop(const MiniAVCameraProperty *p, uint32_t n, const char *name) {
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(p[i].name, name)) return &p[i];
    return NULL;
}

static void test_properties(void) {
    MiniAVCameraContextHandle ctx = open_camera(dev_id, FOURCC('Y', 'U', 'Y', 'V'), 320, 180, 30, false);
    if (!ctx) return;
    MiniAVCameraProperty *props;
    uint32_t n;
    CHECK_EQ_INT(MiniAV_Camera_ListProperties(ctx, &props, &n), MINIAV_SUCCESS);
    printf("%u properties\n", n);
    const MiniAVCameraProperty *p = find_prop(props, n, "brightness");
    CHECK(p && p->type == MINIAV_PROPERTY_TYPE_INTEGER && p->min == 0 && p->max == 255 && p->default_value == 128 && !p->has_auto);
    p = find_prop(props, n, "gain");
    CHECK(p && p->has_auto && p->is_auto && p->inactive);
    CHECK(!find_prop(props, n, "gain_automatic")); /* part of "gain" */
    p = find_prop(props, n, "test_pattern");       /* a driver control, by its v4l2-ctl name */
    CHECK(p && p->type == MINIAV_PROPERTY_TYPE_MENU && p->menu_count == 22 && !strcmp(p->menu[0].name, "75% Colorbar"));
    p = find_prop(props, n, "integer_menu");
    CHECK(p && p->menu_count == 7 && p->menu[2].value == 4 && !strcmp(p->menu[2].name, "5"));
    p = find_prop(props, n, "disconnect");
    CHECK(p && p->type == MINIAV_PROPERTY_TYPE_BUTTON);
    CHECK(!find_prop(props, n, "string")); /* string controls are not properties */
    MiniAV_FreeFormatList(props, n);

    int64_t v;
    int is_auto;
    CHECK_EQ_INT(MiniAV_Camera_SetProperty(ctx, "brightness", 200), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Camera_GetProperty(ctx, "brightness", &v, &is_auto), MINIAV_SUCCESS);
    CHECK_EQ_INT(v, 200);
    CHECK_EQ_INT(is_auto, 0);
    /* Automatic mode: a manual value turns it off. */
    CHECK_EQ_INT(MiniAV_Camera_SetPropertyAuto(ctx, "gain", 0), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Camera_GetProperty(ctx, "gain", &v, &is_auto), MINIAV_SUCCESS);
    CHECK_EQ_INT(is_auto, 0);
    CHECK_EQ_INT(MiniAV_Camera_SetPropertyAuto(ctx, "gain", 1), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Camera_GetProperty(ctx, "gain", &v, &is_auto), MINIAV_SUCCESS);
    CHECK_EQ_INT(is_auto, 1);
    CHECK_EQ_INT(MiniAV_Camera_SetProperty(ctx, "gain", 60), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Camera_GetProperty(ctx, "gain", &v, &is_auto), MINIAV_SUCCESS);
    CHECK_EQ_INT(v, 60);
    CHECK_EQ_INT(is_auto, 0);
    /* Bad input. */
    CHECK_EQ_INT(MiniAV_Camera_SetProperty(ctx, "brightness", 300), MINIAV_ERROR_INVALID_ARG);
    CHECK(strstr(MiniAV_GetLastErrorMessage(), "0..255"));
    CHECK_EQ_INT(MiniAV_Camera_GetProperty(ctx, "no-such-thing", &v, NULL), MINIAV_ERROR_NOT_SUPPORTED);
    CHECK_EQ_INT(MiniAV_Camera_SetPropertyAuto(ctx, "brightness", 1), MINIAV_ERROR_NOT_SUPPORTED);
    CHECK_EQ_INT(MiniAV_Camera_SetProperty(ctx, "read_only_integer_32_bits", 1), MINIAV_ERROR_NOT_SUPPORTED);
    CHECK_EQ_INT(MiniAV_Camera_DestroyContext(ctx), MINIAV_SUCCESS);
    MiniAVCameraContextHandle unconfigured;
    MiniAV_Camera_CreateContext(&unconfigured);
    CHECK_EQ_INT(MiniAV_Camera_GetProperty(unconfigured, "brightness", &v, NULL), MINIAV_ERROR_NOT_INITIALIZED);
    MiniAV_Camera_DestroyContext(unconfigured);
}

/* Brightness changes the pixels: mean luma of frames at 128 and at 230. */
static void test_brightness_changes_pixels(void) {
    double mean[2];
    const int64_t levels[2] = {128, 230};
    for (int i = 0; i < 2; i++) {
        MiniAVCameraContextHandle ctx = open_camera(dev_id, FOURCC('Y', 'U', 'Y', 'V'), 320, 180, 30, false);
        if (!ctx) return;
        CHECK_EQ_INT(MiniAV_Camera_SetProperty(ctx, "brightness", levels[i]), MINIAV_SUCCESS);
        catcher c = {.skip = 3, .keep = 1};
        CHECK_EQ_INT(MiniAV_Camera_StartCapture(ctx, on_frame, &c), MINIAV_SUCCESS);
        WAIT_FOR(c.kept_count == 1, 5000);
        mean[i] = c.kept_count ? mean_luma_yuyv(&c.kept[0]) : 0;
        MiniAV_Camera_StopCapture(ctx);
        release_kept(&c);
        MiniAV_Camera_DestroyContext(ctx);
    }
    printf("mean luma: brightness 128 -> %.1f, 230 -> %.1f\n", mean[0], mean[1]);
    CHECK(mean[1] > mean[0] + 30);
}

static void test_dmabuf(void) {
    MiniAVCameraContextHandle ctx = open_camera(dev_id, FOURCC('N', 'V', '1', '2'), 640, 360, 30, true);
    if (!ctx) return;
    MiniAVVideoFormatInfo got;
    MiniAV_Camera_GetConfiguredFormat(ctx, &got);
    CHECK_EQ_INT(got.output_preference, MINIAV_OUTPUT_PREFERENCE_GPU);
    catcher c = {.skip = 2, .keep = 1};
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(ctx, on_frame, &c), MINIAV_SUCCESS);
    WAIT_FOR(c.kept_count == 1, 5000);
    CHECK_EQ_INT(c.kept_count, 1);
    if (c.kept_count) {
        const MiniAVBuffer *b = &c.kept[0];
        const MiniAVDmaBufInfo *d = &b->data.video.dmabuf;
        CHECK_EQ_INT(b->content_type, MINIAV_BUFFER_CONTENT_TYPE_GPU_DMABUF_FD);
        CHECK_EQ_INT(d->drm_fourcc, FOURCC('N', 'V', '1', '2'));
        CHECK_EQ_INT(d->num_planes, 2);
        CHECK(d->fd[0] >= 0 && d->fd[1] == d->fd[0] && b->data.video.native_gpu_dmabuf_fd == d->fd[0]);
        CHECK_EQ_INT(d->offset[1], d->stride[0] * 360);
        size_t len = d->offset[1] + (size_t)d->stride[1] * 180;
        uint8_t *map = mmap(NULL, len, PROT_READ, MAP_SHARED, d->fd[0], 0);
        CHECK(map != MAP_FAILED);
        if (map != MAP_FAILED) {
            struct dma_buf_sync sync = {DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ};
            ioctl(d->fd[0], DMA_BUF_IOCTL_SYNC, &sync);
            bool same = !memcmp(map, b->data.video.planes[0], b->data.video.plane_size_bytes[0]) &&
                        !memcmp(map + d->offset[1], b->data.video.planes[1], b->data.video.plane_size_bytes[1]);
            sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
            ioctl(d->fd[0], DMA_BUF_IOCTL_SYNC, &sync);
            CHECK(same);
            printf("dmabuf fd %d: %zu bytes mapped, %s the CPU planes\n", d->fd[0], len, same ? "equal to" : "DIFFERENT from");
            munmap(map, len);
        }
    }
    MiniAV_Camera_StopCapture(ctx);
    release_kept(&c);
    MiniAV_Camera_DestroyContext(ctx);
}

/* The application holds every buffer: frames are dropped and counted, the device keeps
 * running, and each frame is either delivered or dropped. */
static void test_hold_and_drop(void) {
    MiniAVCameraContextHandle ctx;
    MiniAV_Camera_CreateContext(&ctx);
    MiniAVStreamOptions opt = {.pool_size = 4};
    CHECK_EQ_INT(MiniAV_Stream_SetOptions(ctx, &opt), MINIAV_SUCCESS);
    MiniAVVideoFormatInfo f = {320, 180, MINIAV_PIXEL_FORMAT_YUY2, 60, 1, MINIAV_OUTPUT_PREFERENCE_CPU, 0};
    CHECK_EQ_INT(MiniAV_Camera_Configure(ctx, dev_id, &f), MINIAV_SUCCESS);
    catcher c = {.hold_all = true};
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(ctx, on_frame, &c), MINIAV_SUCCESS);
    sleep_ms(800);
    MiniAVStats st;
    MiniAV_Stream_GetStats(ctx, &st);
    printf("holding: delivered %llu dropped %llu held %llu pool %u\n", (unsigned long long)st.delivered, (unsigned long long)st.dropped,
           (unsigned long long)st.held, st.pool_size);
    CHECK_EQ_INT(st.delivered, 3); /* one buffer always stays with the driver */
    CHECK_EQ_INT(st.held, 3);
    CHECK(st.dropped >= 10);
    c.hold_all = false;
    int held = atomic_load(&c.held_count);
    for (int i = 0; i < held; i++) MiniAV_ReleaseBuffer(c.held[i]);
    int before = atomic_load(&c.frames);
    WAIT_FOR(atomic_load(&c.frames) >= before + 10, 5000);
    CHECK(atomic_load(&c.frames) >= before + 10); /* streaming again */
    MiniAV_Camera_StopCapture(ctx);
    MiniAV_Stream_GetStats(ctx, &st);
    CHECK_EQ_INT(c.last_seq + 1, st.delivered + st.dropped); /* every frame counted once */
    CHECK_EQ_INT(c.bad_ts, 0);
    CHECK_EQ_INT(c.kept_count, 0);
    /* Restart reuses the buffers. */
    int frames = atomic_load(&c.frames);
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(ctx, on_frame, &c), MINIAV_SUCCESS);
    WAIT_FOR(atomic_load(&c.frames) >= frames + 5, 5000);
    CHECK(atomic_load(&c.frames) >= frames + 5);
    MiniAV_Camera_StopCapture(ctx);
    MiniAV_Camera_DestroyContext(ctx);
}

static void test_bad_input(void) {
    MiniAVCameraContextHandle ctx;
    MiniAV_Camera_CreateContext(&ctx);
    MiniAVVideoFormatInfo f = {640, 360, MINIAV_PIXEL_FORMAT_MJPEG, 30, 1, MINIAV_OUTPUT_PREFERENCE_CPU, 0};
    CHECK_EQ_INT(MiniAV_Camera_Configure(ctx, "v4l2:platform:nothing", &f), MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK_EQ_INT(MiniAV_Camera_Configure(ctx, dev_id, &f), MINIAV_ERROR_FORMAT_NOT_SUPPORTED); /* vivid has no MJPEG */
    CHECK(strstr(MiniAV_GetLastErrorMessage(), "yuyv"));
    f.pixel_format = MINIAV_PIXEL_FORMAT_UNKNOWN;
    f.fourcc = FOURCC('Z', 'Z', 'Z', 'Z');
    CHECK_EQ_INT(MiniAV_Camera_Configure(ctx, dev_id, &f), MINIAV_ERROR_FORMAT_NOT_SUPPORTED);
    /* The node path is an id too; a second stream on a busy device is refused clearly. */
    f.fourcc = FOURCC('Y', 'U', 'Y', 'V');
    CHECK_EQ_INT(MiniAV_Camera_Configure(ctx, dev_path, &f), MINIAV_SUCCESS);
    catcher c = {0};
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(ctx, on_frame, &c), MINIAV_SUCCESS);
    MiniAVCameraContextHandle other;
    MiniAV_Camera_CreateContext(&other);
    CHECK_EQ_INT(MiniAV_Camera_Configure(other, dev_id, &f), MINIAV_ERROR_DEVICE_BUSY);
    MiniAV_Camera_DestroyContext(other);
    MiniAV_Camera_StopCapture(ctx);
    MiniAV_Camera_DestroyContext(ctx);
}

typedef struct {
    atomic_int removed, added;
    char id[256];
} watch_state;

static void on_device(MiniAVDeviceEvent ev, const MiniAVDeviceInfo *d, void *user) {
    watch_state *w = user;
    printf("device %s: %s\n", ev == MINIAV_DEVICE_ADDED ? "added" : "removed", d->device_id);
    if (ev == MINIAV_DEVICE_REMOVED && !strcmp(d->device_id, w->id)) atomic_store(&w->removed, 1);
    if (ev == MINIAV_DEVICE_ADDED && !strcmp(d->device_id, w->id) && atomic_load(&w->removed)) atomic_store(&w->added, 1);
}

/* vivid's "disconnect" button unplugs the second instance while it streams; the device
 * watch sees it go and come back. */
static void test_unplug(void) {
    const char *id = "v4l2:platform:vivid-001";
    watch_state w = {0};
    strcpy(w.id, id);
    MiniAVDeviceWatchHandle watch;
    CHECK_EQ_INT(MiniAV_WatchDevices(MINIAV_DEVICE_TYPE_CAMERA, 100, on_device, &w, &watch), MINIAV_SUCCESS);
    int fds = count_fds(), maps = count_video_maps();
    MiniAVCameraContextHandle ctx = open_camera(id, FOURCC('Y', 'U', 'Y', 'V'), 320, 180, 30, true);
    if (!ctx) return;
    catcher c = {.skip = 0, .keep = 1};
    MiniAV_Stream_SetEventCallback(ctx, on_event, &c);
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(ctx, on_frame, &c), MINIAV_SUCCESS);
    WAIT_FOR(c.kept_count == 1, 5000);
    CHECK(count_video_maps() > maps);
    CHECK_EQ_INT(MiniAV_Camera_SetProperty(ctx, "disconnect", 0), MINIAV_SUCCESS);
    WAIT_FOR(atomic_load(&c.event) != 0, 3000);
    CHECK_EQ_INT(atomic_load(&c.event), MINIAV_EVENT_ERROR);
    CHECK_EQ_INT(c.event_code, MINIAV_ERROR_DEVICE_LOST);
    /* vivid keeps the device unplugged while a descriptor is open, then plugs it back. */
    WAIT_FOR(atomic_load(&w.removed), 3000);
    CHECK(atomic_load(&w.removed));
    MiniAVCameraContextHandle again;
    MiniAV_Camera_CreateContext(&again);
    CHECK_EQ_INT(MiniAV_Camera_Configure(again, id, NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
    MiniAV_Camera_DestroyContext(again);
    if (c.kept_count) { /* the held frame is still readable */
        volatile uint8_t sum = 0;
        for (size_t i = 0; i < c.kept[0].data.video.plane_size_bytes[0]; i++) sum ^= ((const uint8_t *)c.kept[0].data.video.planes[0])[i];
        (void)sum;
    }
    CHECK_EQ_INT(MiniAV_Camera_StopCapture(ctx), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Camera_DestroyContext(ctx), MINIAV_SUCCESS);
    CHECK(count_video_maps() > maps); /* until the held buffer is released */
    release_kept(&c);
    CHECK_EQ_INT(count_fds(), fds);
    CHECK_EQ_INT(count_video_maps(), maps);
    WAIT_FOR(atomic_load(&w.added), 3000);
    CHECK(atomic_load(&w.added));
    MiniAV_UnwatchDevices(watch);
}

/* A real unplug removes the node: unbinding the driver does that (vivid.0 holds both
 * instances). The watch polls only
 * once a minute here, so seeing the change in time proves the /dev notification. */
static void test_unbind(void) {
    const char *id = dev_id;
    watch_state w = {0};
    strcpy(w.id, id);
    MiniAVDeviceWatchHandle watch;
    CHECK_EQ_INT(MiniAV_WatchDevices(MINIAV_DEVICE_TYPE_CAMERA, 60000, on_device, &w, &watch), MINIAV_SUCCESS);
    int fds = count_fds(), maps = count_video_maps();
    MiniAVCameraContextHandle ctx = open_camera(id, FOURCC('Y', 'U', 'Y', 'V'), 320, 180, 30, false);
    if (!ctx) return;
    catcher c = {.keep = 1};
    MiniAV_Stream_SetEventCallback(ctx, on_event, &c);
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(ctx, on_frame, &c), MINIAV_SUCCESS);
    WAIT_FOR(c.kept_count == 1, 5000);
    CHECK_EQ_INT(sh("echo vivid.0 > /sys/bus/platform/drivers/vivid/unbind"), 0);
    WAIT_FOR(atomic_load(&c.event) != 0, 3000);
    CHECK_EQ_INT(atomic_load(&c.event), MINIAV_EVENT_ERROR);
    CHECK_EQ_INT(c.event_code, MINIAV_ERROR_DEVICE_LOST);
    WAIT_FOR(atomic_load(&w.removed), 3000);
    CHECK(atomic_load(&w.removed));
    CHECK_EQ_INT(MiniAV_Camera_StopCapture(ctx), MINIAV_SUCCESS);
    release_kept(&c);
    CHECK_EQ_INT(MiniAV_Camera_DestroyContext(ctx), MINIAV_SUCCESS);
    CHECK_EQ_INT(count_fds(), fds);
    CHECK_EQ_INT(count_video_maps(), maps);
    CHECK_EQ_INT(sh("echo vivid.0 > /sys/bus/platform/drivers/vivid/bind"), 0);
    WAIT_FOR(atomic_load(&w.added), 3000);
    CHECK(atomic_load(&w.added));
    MiniAV_UnwatchDevices(watch);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    MiniAVDeviceInfo *devs;
    uint32_t n = 0;
    MiniAV_Camera_EnumerateDevices(&devs, &n);
    for (uint32_t i = 0; i < n && !dev_id[0]; i++)
        if (!strcmp(devs[i].backend, "v4l2") && !strcmp(devs[i].name, "vivid")) strcpy(dev_id, devs[i].device_id);
    MiniAV_FreeDeviceList(devs, n);
    if (!dev_id[0]) {
        fprintf(stderr, "no vivid camera: run inside scripts/rigs/vivid-vm.sh\n");
        return getenv("MINIAV_IN_VIVID_VM") ? 1 : 77; /* inside the rig it must be there */
    }
    strcpy(dev_path, "/dev/video0");
    test_enumerate();
    test_formats();
    /* vivid's picture without its text overlay is the same in every frame. */
    MiniAVCameraContextHandle ctx = open_camera(dev_id, 0, 0, 0, 0, false);
    if (ctx) {
        CHECK_EQ_INT(MiniAV_Camera_SetProperty(ctx, "osd_text_mode", 2), MINIAV_SUCCESS);
        MiniAV_Camera_DestroyContext(ctx);
    }
    compare_with_v4l2_ctl(FOURCC('Y', 'U', 'Y', 'V'), 640, 360, 0);
    compare_with_v4l2_ctl(FOURCC('N', 'V', '1', '2'), 640, 360, 0);
    compare_with_v4l2_ctl(FOURCC('R', 'G', 'B', '3'), 320, 180, 0);
    compare_with_v4l2_ctl(FOURCC('Y', 'U', 'Y', 'V'), 320, 180, 1280); /* 640 bytes of pixels, 640 of padding per row */
    /* The next format gets the driver's own stride again, not the stale padded one. */
    size_t size = 0;
    uint32_t stride = 0;
    free(capture_visible(dev_id, FOURCC('N', 'V', '1', '2'), 320, 180, &size, &stride));
    CHECK_EQ_INT(stride, 320);
    test_properties();
    test_brightness_changes_pixels();
    test_dmabuf();
    test_hold_and_drop();
    test_bad_input();
    test_unplug();
    test_unbind();
    TEST_DONE();
}
