/* Media Foundation camera backend. Under Wine 8 (no MF capture devices) it checks what can
 * be checked without a camera: the backend loads (mfplat exists), enumeration succeeds with
 * no MF devices and the default list still has the test pattern, made-up and foreign ids
 * give clear errors, a forced backend without devices errors clearly. With a camera (real
 * Windows) it also captures: frames arrive with the configured size, a held buffer's bytes
 * stay as they were until released, drops are counted, properties list, and a buffer held
 * past Destroy is released safely.
 * usage: test_mediafoundation   (exit 77 = capture part skipped: no Media Foundation camera)
 *        test_mediafoundation --no-mf   (run with mfplat.dll missing, e.g. under Wine with
 *        WINEDLLOVERRIDES=mfplat=d: an "N" edition of Windows; the backend is unavailable,
 *        says why, and the other backends still work) */
#define WIN32_LEAN_AND_MEAN
#include "miniav.h"
#include "check.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <windows.h>

#define CAMERA MINIAV_DEVICE_TYPE_CAMERA

static bool has_backend(const char *name) {
    const char *names = MiniAV_GetBackendNames(CAMERA);
    size_t n = strlen(name);
    for (const char *p = names; p && (p = strstr(p, name)); p += n)
        if ((p == names || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return true;
    return false;
}

/* Counts of devices of one backend in the list. */
static uint32_t count_prefix(const MiniAVDeviceInfo *d, uint32_t n, const char *prefix) {
    uint32_t c = 0;
    for (uint32_t i = 0; i < n; i++) c += !strncmp(d[i].device_id, prefix, strlen(prefix));
    return c;
}

static bool message_mentions(const char *what) {
    const char *m = MiniAV_GetLastErrorMessage();
    if (!m || !strstr(m, what)) {
        fprintf(stderr, "  message \"%s\" does not mention \"%s\"\n", m ? m : "(null)", what);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ without a camera */

static void ignore_frame(const MiniAVBuffer *b, void *user) {
    (void)user;
    MiniAV_ReleaseBuffer(b->internal_handle);
}


static uint32_t checks_without_camera(char first_mf_id[256]) {
    CHECK(has_backend("mediafoundation"));
    printf("camera backends: %s\n", MiniAV_GetBackendNames(CAMERA));

    /* Forced: the backend must be available (mfplat.dll is in Wine and every non-N Windows). */
    CHECK_EQ_INT(MiniAV_SetBackend(CAMERA, "mediafoundation"), MINIAV_SUCCESS);
    MiniAVDeviceInfo *devices = NULL;
    uint32_t count = 99;
    CHECK_EQ_INT(MiniAV_Camera_EnumerateDevices(&devices, &count), MINIAV_SUCCESS);
    uint32_t mf = devices ? count_prefix(devices, count, "mf:") : 0;
    printf("forced mediafoundation: %u device(s), %u with the mf: prefix\n", count, mf);
    CHECK_EQ_INT(mf, count); /* only its own devices when forced */
    first_mf_id[0] = '\0';
    for (uint32_t i = 0; i < count; i++) {
        printf("  %s%s  %s\n", devices[i].is_default ? "*" : " ", devices[i].device_id, devices[i].name);
        CHECK(!strcmp(devices[i].backend, "mediafoundation"));
        CHECK(devices[i].name[0] != '\0');
        CHECK_EQ_INT(devices[i].is_default, i == 0);
    }
    if (count) strcpy(first_mf_id, devices[0].device_id);
    MiniAV_FreeDeviceList(devices, count);

    /* A forced backend with no such device: a clear error, never a crash. */
    MiniAVCameraContextHandle ctx = NULL;
    CHECK_EQ_INT(MiniAV_Camera_CreateContext(&ctx), MINIAV_SUCCESS);
    MiniAVResultCode r = MiniAV_Camera_Configure(ctx, "test-pattern", NULL);
    printf("forced mediafoundation, configure test-pattern: %s: %s\n", MiniAV_GetErrorName(r), MiniAV_GetLastErrorMessage());
    CHECK(r != MINIAV_SUCCESS);
    CHECK(MiniAV_GetLastErrorMessage()[0] != '\0');
    if (!mf) {
        /* The default camera of a forced backend without cameras. */
        r = MiniAV_Camera_Configure(ctx, "mf:\\\\?\\usb#vid_0000&pid_0000#0#{e5323777-f976-4f5b-9b55-b94699c46e44}\\global", NULL);
        printf("forced mediafoundation, configure a made-up mf: id: %s: %s\n", MiniAV_GetErrorName(r), MiniAV_GetLastErrorMessage());
        CHECK_EQ_INT(r, MINIAV_ERROR_DEVICE_NOT_FOUND);
        CHECK(message_mentions("0 cameras present"));
    }
    CHECK_EQ_INT(MiniAV_Camera_DestroyContext(ctx), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_SetBackend(CAMERA, NULL), MINIAV_SUCCESS);

    /* Automatic: MF's cameras (none under Wine) plus the test pattern. */
    devices = NULL;
    count = 0;
    CHECK_EQ_INT(MiniAV_Camera_EnumerateDevices(&devices, &count), MINIAV_SUCCESS);
    printf("automatic: %u device(s)\n", count);
    CHECK_EQ_INT(count_prefix(devices, count, "test-pattern"), 1);
    CHECK_EQ_INT(count_prefix(devices, count, "mf:"), mf);
    MiniAV_FreeDeviceList(devices, count);

    /* Made-up ids: DEVICE_NOT_FOUND with a message naming the id. */
    const char *bogus = "mf:\\\\?\\no-such-camera";
    MiniAVVideoFormatInfo *formats = NULL;
    uint32_t n_formats = 0;
    r = MiniAV_Camera_GetSupportedFormats(bogus, &formats, &n_formats);
    printf("formats of %s: %s: %s\n", bogus, MiniAV_GetErrorName(r), MiniAV_GetLastErrorMessage());
    CHECK_EQ_INT(r, MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK(message_mentions("no-such-camera"));
    CHECK(formats == NULL);
    r = MiniAV_Camera_GetSupportedFormats("mf:", &formats, &n_formats);
    CHECK_EQ_INT(r, MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK(MiniAV_GetLastErrorMessage()[0] != '\0');
    r = MiniAV_Camera_GetSupportedFormats(bogus, NULL, &n_formats);
    CHECK_EQ_INT(r, MINIAV_ERROR_INVALID_ARG);

    CHECK_EQ_INT(MiniAV_Camera_CreateContext(&ctx), MINIAV_SUCCESS);
    r = MiniAV_Camera_Configure(ctx, bogus, NULL);
    printf("configure %s: %s: %s\n", bogus, MiniAV_GetErrorName(r), MiniAV_GetLastErrorMessage());
    CHECK_EQ_INT(r, MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK(message_mentions("no-such-camera"));
    CHECK(MiniAV_Camera_StartCapture(ctx, ignore_frame, NULL) != MINIAV_SUCCESS); /* not configured */
    /* Properties need a configured camera. */
    MiniAVCameraProperty *props = NULL;
    uint32_t n_props = 0;
    CHECK(MiniAV_Camera_ListProperties(ctx, &props, &n_props) != MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Camera_DestroyContext(ctx), MINIAV_SUCCESS);

    /* The stream option naming the backend behaves like the global switch. */
    CHECK_EQ_INT(MiniAV_Camera_CreateContext(&ctx), MINIAV_SUCCESS);
    MiniAVStreamOptions opt;
    memset(&opt, 0, sizeof opt);
    strcpy(opt.backend, "mediafoundation");
    CHECK_EQ_INT(MiniAV_Stream_SetOptions(ctx, &opt), MINIAV_SUCCESS);
    r = MiniAV_Camera_Configure(ctx, "test-pattern", NULL);
    CHECK(r != MINIAV_SUCCESS);
    CHECK(MiniAV_GetLastErrorMessage()[0] != '\0');
    CHECK_EQ_INT(MiniAV_Camera_DestroyContext(ctx), MINIAV_SUCCESS);
    return mf;
}

/* ------------------------------------------------------------------ with a camera */

typedef struct {
    atomic_int frames;
    atomic_int bad_size;
    MiniAVVideoFormatInfo format;
    /* The first frame is kept, with a copy of its first bytes, to check it stays put. */
    atomic_bool have_kept;
    MiniAVBuffer kept;
    uint8_t kept_copy[4096];
    size_t kept_len;
    atomic_bool hold_all; /* never release (drop check) */
    void *held[64];
    atomic_int n_held;
} capture_state;

static void on_frame(const MiniAVBuffer *b, void *user) {
    capture_state *cs = user;
    atomic_fetch_add(&cs->frames, 1);
    bool ok = b->type == MINIAV_BUFFER_TYPE_VIDEO && b->data.video.width == cs->format.width &&
              b->data.video.height == cs->format.height;
    if (b->content_type == MINIAV_BUFFER_CONTENT_TYPE_CPU) {
        ok = ok && b->data.video.planes[0] && b->data_size_bytes > 0;
        if (cs->format.pixel_format != MINIAV_PIXEL_FORMAT_MJPEG && cs->format.pixel_format != MINIAV_PIXEL_FORMAT_UNKNOWN)
            ok = ok && b->data.video.stride_bytes[0] >= b->data.video.width &&
                 b->data.video.plane_size_bytes[0] >= (size_t)b->data.video.stride_bytes[0] * b->data.video.height;
    }
    if (!ok) atomic_fetch_add(&cs->bad_size, 1);
    if (!atomic_load(&cs->have_kept) && b->content_type == MINIAV_BUFFER_CONTENT_TYPE_CPU && b->data.video.planes[0]) {
        cs->kept = *b;
        cs->kept_len = b->data_size_bytes < sizeof cs->kept_copy ? b->data_size_bytes : sizeof cs->kept_copy;
        memcpy(cs->kept_copy, b->data.video.planes[0], cs->kept_len);
        atomic_store(&cs->have_kept, true);
        return; /* held until the test releases it */
    }
    if (atomic_load(&cs->hold_all)) {
        int i = atomic_fetch_add(&cs->n_held, 1);
        if (i < 64) {
            cs->held[i] = b->internal_handle;
            return;
        }
    }
    MiniAV_ReleaseBuffer(b->internal_handle);
}

/* A small uncompressed format if the camera has one, else its first. */
static bool pick_format(const char *id, MiniAVVideoFormatInfo *out) {
    MiniAVVideoFormatInfo *formats = NULL;
    uint32_t n = 0;
    if (MiniAV_Camera_GetSupportedFormats(id, &formats, &n) != MINIAV_SUCCESS || !n) return false;
    int best = 0;
    for (uint32_t i = 0; i < n; i++) {
        const MiniAVVideoFormatInfo *f = &formats[i];
        printf("  %s (0x%08x) %ux%u @ %u/%u\n", MiniAV_PixelFormatName(f->pixel_format), f->fourcc, f->width, f->height,
               f->frame_rate_numerator, f->frame_rate_denominator);
        bool raw = f->pixel_format == MINIAV_PIXEL_FORMAT_NV12 || f->pixel_format == MINIAV_PIXEL_FORMAT_YUY2;
        bool best_raw = formats[best].pixel_format == MINIAV_PIXEL_FORMAT_NV12 || formats[best].pixel_format == MINIAV_PIXEL_FORMAT_YUY2;
        if (raw && f->width <= 1280 && (!best_raw || f->width > formats[best].width || formats[best].width > 1280)) best = (int)i;
    }
    *out = formats[best];
    MiniAV_FreeFormatList(formats, n);
    return true;
}

static void capture_checks(const char *id) {
    printf("capture from %s; formats:\n", id);
    MiniAVVideoFormatInfo want;
    CHECK(pick_format(id, &want));
    /* A format the camera does not give natively: refused, listing what it gives. */
    MiniAVCameraContextHandle ctx = NULL;
    CHECK_EQ_INT(MiniAV_Camera_CreateContext(&ctx), MINIAV_SUCCESS);
    MiniAVVideoFormatInfo odd = {.pixel_format = MINIAV_PIXEL_FORMAT_ABGR32};
    MiniAVResultCode r = MiniAV_Camera_Configure(ctx, id, &odd);
    printf("abgr32: %s: %s\n", MiniAV_GetErrorName(r), MiniAV_GetLastErrorMessage());
    CHECK_EQ_INT(r, MINIAV_ERROR_FORMAT_NOT_SUPPORTED);
    CHECK(message_mentions("it gives"));

    CHECK_EQ_INT(MiniAV_Camera_Configure(ctx, id, &want), MINIAV_SUCCESS);
    static capture_state cs;
    memset(&cs, 0, sizeof cs);
    CHECK_EQ_INT(MiniAV_Camera_GetConfiguredFormat(ctx, &cs.format), MINIAV_SUCCESS);
    CHECK_EQ_INT(cs.format.width, want.width);
    CHECK_EQ_INT(cs.format.height, want.height);
    CHECK_EQ_INT(cs.format.fourcc, want.fourcc);

    MiniAVCameraProperty *props = NULL;
    uint32_t n_props = 0;
    CHECK_EQ_INT(MiniAV_Camera_ListProperties(ctx, &props, &n_props), MINIAV_SUCCESS);
    for (uint32_t i = 0; i < n_props; i++)
        printf("  property %s = %lld (%lld..%lld)%s\n", props[i].name, (long long)props[i].value, (long long)props[i].min,
               (long long)props[i].max, props[i].is_auto ? " auto" : "");
    if (n_props) {
        int64_t v = -1;
        int is_auto = -1;
        CHECK_EQ_INT(MiniAV_Camera_GetProperty(ctx, props[0].name, &v, &is_auto), MINIAV_SUCCESS);
        CHECK_EQ_INT(MiniAV_Camera_SetProperty(ctx, props[0].name, props[0].max + 1), MINIAV_ERROR_INVALID_ARG);
    }
    MiniAV_FreeFormatList(props, n_props);
    CHECK(MiniAV_Camera_SetProperty(ctx, "no-such-property", 1) == MINIAV_ERROR_NOT_SUPPORTED);

    CHECK_EQ_INT(MiniAV_Camera_StartCapture(ctx, on_frame, &cs), MINIAV_SUCCESS);
    WAIT_FOR(atomic_load(&cs.frames) >= 10, 10000);
    printf("frames: %d, bad: %d\n", atomic_load(&cs.frames), atomic_load(&cs.bad_size));
    CHECK(atomic_load(&cs.frames) >= 10);
    CHECK_EQ_INT(atomic_load(&cs.bad_size), 0);
    CHECK(atomic_load(&cs.have_kept));
    /* The held frame's bytes have not changed while newer frames arrived. */
    if (atomic_load(&cs.have_kept)) CHECK(!memcmp(cs.kept.data.video.planes[0], cs.kept_copy, cs.kept_len));
    int64_t now = MiniAV_GetTimeUs();
    CHECK(cs.kept.timestamp_us > 0 && cs.kept.timestamp_us <= now);

    /* Hold everything: frames are dropped, counted, and capture goes on. */
    atomic_store(&cs.hold_all, true);
    sleep_ms(1500);
    MiniAVStats st;
    CHECK_EQ_INT(MiniAV_Stream_GetStats(ctx, &st), MINIAV_SUCCESS);
    printf("stats: delivered %llu dropped %llu held %llu pool %u copies %llu\n", (unsigned long long)st.delivered,
           (unsigned long long)st.dropped, (unsigned long long)st.held, st.pool_size, (unsigned long long)st.copies);
    CHECK(st.held <= st.pool_size);
    CHECK(st.dropped > 0);
    atomic_store(&cs.hold_all, false);
    int held = atomic_load(&cs.n_held);
    for (int i = 0; i < held && i < 64; i++) CHECK_EQ_INT(MiniAV_ReleaseBuffer(cs.held[i]), MINIAV_SUCCESS);
    int before = atomic_load(&cs.frames);
    WAIT_FOR(atomic_load(&cs.frames) >= before + 5, 5000);
    CHECK(atomic_load(&cs.frames) >= before + 5); /* flows again after the releases */

    CHECK_EQ_INT(MiniAV_Camera_StopCapture(ctx), MINIAV_SUCCESS);
    int after_stop = atomic_load(&cs.frames);
    sleep_ms(300);
    CHECK_EQ_INT(atomic_load(&cs.frames), after_stop);

    /* Start again on the same context, then destroy while the first frame is still held. */
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(ctx, on_frame, &cs), MINIAV_SUCCESS);
    before = atomic_load(&cs.frames);
    WAIT_FOR(atomic_load(&cs.frames) >= before + 3, 5000);
    CHECK(atomic_load(&cs.frames) >= before + 3);
    CHECK_EQ_INT(MiniAV_Camera_StopCapture(ctx), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Camera_DestroyContext(ctx), MINIAV_SUCCESS);
    if (atomic_load(&cs.have_kept)) {
        CHECK(!memcmp(cs.kept.data.video.planes[0], cs.kept_copy, cs.kept_len)); /* still readable after Destroy */
        CHECK_EQ_INT(MiniAV_ReleaseBuffer(cs.kept.internal_handle), MINIAV_SUCCESS);
        CHECK_EQ_INT(MiniAV_ReleaseBuffer(cs.kept.internal_handle), MINIAV_SUCCESS); /* idempotent */
    }
}

/* ------------------------------------------------------------------ without Media Foundation */

static char logged[4096];
static void on_log(MiniAVLogLevel level, const char *message, void *user) {
    (void)level, (void)user;
    size_t len = strlen(logged);
    snprintf(logged + len, sizeof logged - len, "%s\n", message);
}

static int checks_without_mf(void) {
    MiniAV_SetLogCallback(on_log, NULL);
    MiniAV_SetLogLevel(MINIAV_LOG_LEVEL_INFO);
    CHECK_EQ_INT(MiniAV_SetBackend(CAMERA, "mediafoundation"), MINIAV_SUCCESS);
    MiniAVDeviceInfo *devices = NULL;
    uint32_t count = 0;
    MiniAVResultCode r = MiniAV_Camera_EnumerateDevices(&devices, &count);
    printf("forced mediafoundation without mfplat.dll: %s: %s\n", MiniAV_GetErrorName(r), MiniAV_GetLastErrorMessage());
    printf("log: %s", logged);
    CHECK_EQ_INT(r, MINIAV_ERROR_BACKEND_UNAVAILABLE);
    CHECK(strstr(logged, "Media Feature Pack") != NULL);
    CHECK(strstr(MiniAV_GetLastErrorMessage(), "Media Feature Pack") != NULL); /* the reason is in the error itself */
    CHECK_EQ_INT(MiniAV_SetBackend(CAMERA, NULL), MINIAV_SUCCESS);
    r = MiniAV_Camera_EnumerateDevices(&devices, &count);
    CHECK_EQ_INT(r, MINIAV_SUCCESS);
    CHECK_EQ_INT(count_prefix(devices, count, "test-pattern"), 1);
    CHECK_EQ_INT(count_prefix(devices, count, "mf:"), 0);
    MiniAV_FreeDeviceList(devices, count);
    MiniAVVideoFormatInfo *formats = NULL;
    uint32_t n = 0;
    r = MiniAV_Camera_GetSupportedFormats("mf:\\\\?\\usb#whatever", &formats, &n);
    printf("formats of an mf: id: %s: %s\n", MiniAV_GetErrorName(r), MiniAV_GetLastErrorMessage());
    CHECK_EQ_INT(r, MINIAV_ERROR_BACKEND_UNAVAILABLE);
    CHECK(strstr(MiniAV_GetLastErrorMessage(), "mfplat.dll") != NULL);
    MiniAV_SetLogCallback(NULL, NULL);
    TEST_DONE();
}

int main(int argc, char **argv) {
    setenv("MINIAV_FAKE_DEVICES", "1", 1); /* the test pattern in the default list */
    if (argc > 1 && !strcmp(argv[1], "--no-mf")) return checks_without_mf();
    char id[256];
    uint32_t cameras = checks_without_camera(id);
    if (!cameras) {
        if (check_failures) TEST_DONE();
        printf("all checks without a camera passed; capture part skipped: no Media Foundation camera (Wine has none)\n");
        return 77;
    }
    capture_checks(id);
    TEST_DONE();
}
