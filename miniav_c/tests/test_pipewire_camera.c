/* PipeWire camera backend against the project's PipeWire rig (scripts/rigs/pipewire.sh)
 * and tests/pw_fake_camera.c (a camera node of known content, started here):
 * enumerate finds it; its formats; frames carry its frame numbers and content; a held
 * frame never changes while newer frames flow (PipeWire does not reuse it); releasing
 * gives buffers back; holding all drops frames, counted; the camera going away ends the
 * stream with DEVICE_LOST; bad ids and formats.
 * usage: test_pipewire_camera PATH/pw_fake_camera   (exit 77 = skipped: no PipeWire rig) */
#define _GNU_SOURCE
#include "miniav.h"
#include "check.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NODE "miniav_test_camera"
#define ID "pipewire:" NODE

static pid_t camera_pid;

static void start_camera(const char *exe) {
    int fds[2];
    if (pipe(fds)) return;
    camera_pid = fork();
    if (camera_pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(exe, exe, NODE, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[16] = "";
    ssize_t n = read(fds[0], line, sizeof line - 1); /* "ready" once connected */
    close(fds[0]);
    CHECK(n > 0 && !strncmp(line, "ready", 5));
}

static void stop_camera(void) {
    if (camera_pid > 0) {
        kill(camera_pid, SIGTERM);
        waitpid(camera_pid, NULL, 0);
        camera_pid = 0;
    }
}

static bool camera_listed(void) {
    MiniAVDeviceInfo *d;
    uint32_t n;
    bool found = false;
    if (MiniAV_Camera_EnumerateDevices(&d, &n)) return false;
    for (uint32_t i = 0; i < n; i++) found |= !strcmp(d[i].device_id, ID) && !strcmp(d[i].backend, "pipewire");
    MiniAV_FreeDeviceList(d, n);
    return found;
}

/* Checks a YUY2/BGRx frame against the fake camera's content; returns its frame number or -1. */
static long check_content(const MiniAVBuffer *b, uint32_t bpp) {
    const uint8_t *p = b->data.video.planes[0];
    uint32_t stride = b->data.video.stride_bytes[0], w = b->data.video.width, h = b->data.video.height;
    if (!p || stride < w * bpp) return -1;
    uint32_t n;
    memcpy(&n, p, 4);
    for (uint32_t y = 0; y < h; y += 7) {
        uint8_t want = (uint8_t)(y * 3 + n * 7);
        const uint8_t *row = p + (size_t)y * stride;
        for (uint32_t x = y ? 0 : 4; x < w * bpp; x += 13)
            if (row[x] != want) return -1;
    }
    return n;
}

typedef struct {
    atomic_int frames;
    int bad_content, bad_order, bad_ts;
    long last_number;
    int64_t last_ts;
    uint32_t bpp;
    bool hold_first;
    MiniAVBuffer first;
    void *first_handle;
    atomic_int have_first;
    bool hold_all;
    void *held[64];
    atomic_int held_count;
    atomic_int event;
    MiniAVResultCode event_code;
} catcher;

static void on_frame(const MiniAVBuffer *b, void *user) {
    catcher *c = user;
    long n = check_content(b, c->bpp);
    int64_t now = MiniAV_GetTimeUs();
    if (n < 0) c->bad_content++;
    else if (atomic_load(&c->frames) > 0 && n <= c->last_number) c->bad_order++;
    if (b->timestamp_us > now || b->timestamp_us < now - 1000000 || b->timestamp_us < c->last_ts) c->bad_ts++;
    c->last_ts = b->timestamp_us;
    c->last_number = n;
    atomic_fetch_add(&c->frames, 1);
    if (c->hold_first && !atomic_load(&c->have_first)) {
        c->first = *b;
        c->first_handle = b->internal_handle;
        atomic_store(&c->have_first, 1);
        return;
    }
    if (c->hold_all && atomic_load(&c->held_count) < 64) {
        c->held[atomic_fetch_add(&c->held_count, 1)] = b->internal_handle;
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

static MiniAVCameraContextHandle open_camera(MiniAVPixelFormat pf, uint32_t w, uint32_t h, uint32_t pool) {
    MiniAVCameraContextHandle ctx;
    MiniAV_Camera_CreateContext(&ctx);
    if (pool) {
        MiniAVStreamOptions o = {.pool_size = pool};
        CHECK_EQ_INT(MiniAV_Stream_SetOptions(ctx, &o), MINIAV_SUCCESS);
    }
    MiniAVVideoFormatInfo f = {w, h, pf, 30, 1, MINIAV_OUTPUT_PREFERENCE_CPU, 0};
    CHECK_EQ_INT(MiniAV_Camera_Configure(ctx, ID, &f), MINIAV_SUCCESS);
    return ctx;
}

static void test_formats(void) {
    MiniAVVideoFormatInfo *f;
    uint32_t n;
    CHECK_EQ_INT(MiniAV_Camera_GetSupportedFormats(ID, &f, &n), MINIAV_SUCCESS);
    int found = 0;
    for (uint32_t i = 0; i < n; i++) {
        printf("format %s %ux%u %u/%u\n", MiniAV_PixelFormatName(f[i].pixel_format), f[i].width, f[i].height, f[i].frame_rate_numerator,
               f[i].frame_rate_denominator);
        found += (f[i].pixel_format == MINIAV_PIXEL_FORMAT_YUY2 || f[i].pixel_format == MINIAV_PIXEL_FORMAT_BGRX32) &&
                 ((f[i].width == 320 && f[i].height == 240) || (f[i].width == 640 && f[i].height == 480)) &&
                 f[i].frame_rate_numerator == 30 && f[i].frame_rate_denominator == 1;
    }
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(found, 4);
    MiniAV_FreeFormatList(f, n);
}

/* Frames have the camera's content and numbers; a held frame is never overwritten. */
static void test_capture_and_hold(MiniAVPixelFormat pf, uint32_t w, uint32_t h, uint32_t bpp) {
    MiniAVCameraContextHandle ctx = open_camera(pf, w, h, 0);
    MiniAVVideoFormatInfo got;
    CHECK_EQ_INT(MiniAV_Camera_GetConfiguredFormat(ctx, &got), MINIAV_SUCCESS);
    CHECK(got.width == w && got.height == h && got.pixel_format == pf);
    catcher c = {.bpp = bpp, .hold_first = true};
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(ctx, on_frame, &c), MINIAV_SUCCESS);
    WAIT_FOR(atomic_load(&c.frames) >= 30, 5000);
    CHECK(atomic_load(&c.frames) >= 30);
    CHECK_EQ_INT(c.bad_content, 0);
    CHECK_EQ_INT(c.bad_order, 0);
    CHECK_EQ_INT(c.bad_ts, 0);
    if (atomic_load(&c.have_first)) {
        CHECK_EQ_INT(c.first.data.video.width, w);
        CHECK_EQ_INT(c.first.data.video.pixel_format, pf);
        /* 30 newer frames went by: the held one still has its own content. */
        CHECK(check_content(&c.first, bpp) >= 0);
        CHECK_EQ_INT(MiniAV_ReleaseBuffer(c.first_handle), MINIAV_SUCCESS);
    }
    MiniAVStats st;
    MiniAV_Stream_GetStats(ctx, &st);
    CHECK_EQ_INT(st.held, 0);
    CHECK_EQ_INT(st.copies, 0);
    printf("%s %ux%u: %d frames, delivered %llu dropped %llu\n", MiniAV_PixelFormatName(pf), w, h, atomic_load(&c.frames),
           (unsigned long long)st.delivered, (unsigned long long)st.dropped);
    CHECK_EQ_INT(MiniAV_Camera_StopCapture(ctx), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Camera_DestroyContext(ctx), MINIAV_SUCCESS);
}

/* Holding every buffer: frames are dropped and counted, and flow again after release. */
static void test_hold_all(void) {
    MiniAVCameraContextHandle ctx = open_camera(MINIAV_PIXEL_FORMAT_YUY2, 320, 240, 4);
    catcher c = {.bpp = 2, .hold_all = true};
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(ctx, on_frame, &c), MINIAV_SUCCESS);
    WAIT_FOR(atomic_load(&c.held_count) >= 3, 5000);
    sleep_ms(500);
    MiniAVStats st;
    MiniAV_Stream_GetStats(ctx, &st);
    printf("holding all: delivered %llu dropped %llu held %llu pool %u\n", (unsigned long long)st.delivered, (unsigned long long)st.dropped,
           (unsigned long long)st.held, st.pool_size);
    CHECK(st.held >= 1 && st.held + 1 <= st.pool_size); /* one buffer stays with PipeWire */
    CHECK(st.dropped >= 5);
    /* Held frames keep their content. */
    c.hold_all = false;
    int held = atomic_load(&c.held_count);
    for (int i = 0; i < held; i++) MiniAV_ReleaseBuffer(c.held[i]);
    int before = atomic_load(&c.frames);
    WAIT_FOR(atomic_load(&c.frames) >= before + 10, 5000);
    CHECK(atomic_load(&c.frames) >= before + 10);
    CHECK_EQ_INT(c.bad_content, 0);
    MiniAV_Camera_StopCapture(ctx);
    MiniAV_Camera_DestroyContext(ctx);
}

/* Held after Destroy: still readable, release still works. */
static void test_release_after_destroy(void) {
    MiniAVCameraContextHandle ctx = open_camera(MINIAV_PIXEL_FORMAT_BGRX32, 320, 240, 0);
    catcher c = {.bpp = 4, .hold_first = true};
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(ctx, on_frame, &c), MINIAV_SUCCESS);
    WAIT_FOR(atomic_load(&c.have_first), 5000);
    MiniAV_Camera_StopCapture(ctx);
    MiniAV_Camera_DestroyContext(ctx);
    if (atomic_load(&c.have_first)) {
        CHECK(check_content(&c.first, 4) >= 0);
        CHECK_EQ_INT(MiniAV_ReleaseBuffer(c.first_handle), MINIAV_SUCCESS);
        CHECK_EQ_INT(MiniAV_ReleaseBuffer(c.first_handle), MINIAV_SUCCESS); /* idempotent */
    }
}

static void test_camera_goes_away(const char *exe) {
    MiniAVCameraContextHandle ctx = open_camera(MINIAV_PIXEL_FORMAT_YUY2, 320, 240, 0);
    catcher c = {.bpp = 2};
    MiniAV_Stream_SetEventCallback(ctx, on_event, &c);
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(ctx, on_frame, &c), MINIAV_SUCCESS);
    WAIT_FOR(atomic_load(&c.frames) >= 5, 5000);
    stop_camera();
    WAIT_FOR(atomic_load(&c.event) != 0, 5000);
    CHECK_EQ_INT(atomic_load(&c.event), MINIAV_EVENT_ERROR);
    CHECK_EQ_INT(c.event_code, MINIAV_ERROR_DEVICE_LOST);
    CHECK_EQ_INT(MiniAV_Camera_StopCapture(ctx), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Camera_DestroyContext(ctx), MINIAV_SUCCESS);
    WAIT_FOR(!camera_listed(), 3000);
    CHECK(!camera_listed());
    MiniAV_Camera_CreateContext(&ctx);
    CHECK_EQ_INT(MiniAV_Camera_Configure(ctx, ID, NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
    MiniAV_Camera_DestroyContext(ctx);
    start_camera(exe); /* back for anything after */
}

/* GPU output from a source without DMA-BUF (the fake camera offers no modifiers): shared
 * memory frames, and the format says so. */
static void test_gpu_falls_back_to_shared_memory(void) {
    MiniAVCameraContextHandle ctx;
    MiniAV_Camera_CreateContext(&ctx);
    MiniAVVideoFormatInfo f = {320, 240, MINIAV_PIXEL_FORMAT_YUY2, 30, 1, MINIAV_OUTPUT_PREFERENCE_GPU, 0};
    CHECK_EQ_INT(MiniAV_Camera_Configure(ctx, ID, &f), MINIAV_SUCCESS);
    catcher c = {.bpp = 2};
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(ctx, on_frame, &c), MINIAV_SUCCESS);
    WAIT_FOR(atomic_load(&c.frames) >= 5, 5000);
    CHECK(atomic_load(&c.frames) >= 5);
    CHECK_EQ_INT(c.bad_content, 0);
    MiniAVVideoFormatInfo got;
    MiniAV_Camera_GetConfiguredFormat(ctx, &got);
    CHECK_EQ_INT(got.output_preference, MINIAV_OUTPUT_PREFERENCE_CPU);
    MiniAV_Camera_StopCapture(ctx);
    MiniAV_Camera_DestroyContext(ctx);
}

static void test_bad_input(void) {
    MiniAVCameraContextHandle ctx;
    MiniAV_Camera_CreateContext(&ctx);
    MiniAVVideoFormatInfo f = {320, 240, MINIAV_PIXEL_FORMAT_NV12, 30, 1, MINIAV_OUTPUT_PREFERENCE_CPU, 0};
    CHECK_EQ_INT(MiniAV_Camera_Configure(ctx, ID, &f), MINIAV_ERROR_FORMAT_NOT_SUPPORTED);
    CHECK(strstr(MiniAV_GetLastErrorMessage(), "yuyv") && strstr(MiniAV_GetLastErrorMessage(), "bgrx"));
    CHECK_EQ_INT(MiniAV_Camera_Configure(ctx, "pipewire:no-such-node", NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
    MiniAV_Camera_DestroyContext(ctx);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) return 2;
    if (getenv("MINIAV_DEBUG")) MiniAV_SetLogLevel(MINIAV_LOG_LEVEL_DEBUG);
    if (!getenv("PIPEWIRE_RUNTIME_DIR")) {
        fprintf(stderr, "no PipeWire rig (PIPEWIRE_RUNTIME_DIR unset): start scripts/rigs/pipewire.sh\n");
        return getenv("MINIAV_REQUIRE_PIPEWIRE") ? 1 : 77;
    }
    start_camera(argv[1]);
    WAIT_FOR(camera_listed(), 5000);
    CHECK(camera_listed());
    test_formats();
    test_capture_and_hold(MINIAV_PIXEL_FORMAT_YUY2, 320, 240, 2);
    test_capture_and_hold(MINIAV_PIXEL_FORMAT_BGRX32, 640, 480, 4);
    test_hold_all();
    test_release_after_destroy();
    test_gpu_falls_back_to_shared_memory();
    test_bad_input();
    test_camera_goes_away(argv[1]);
    stop_camera();
    TEST_DONE();
}
