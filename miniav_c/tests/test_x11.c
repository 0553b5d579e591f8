/* X11 backend against the Xvfb rig (scripts/rigs/x11.sh: 1920x1080, root #336699):
 * known pixels of the root, a window and a region; window moves, resizes, recolours
 * and closing; cursor; damage; buffers held past destroy; bad ids.
 * usage: test_x11 PATH/TO/x11_test_window   (exit 77 = skipped: no DISPLAY) */
#define _GNU_SOURCE
#include "miniav.h"
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *helper_path;

/* The x11 backend says at configure how it reads frames (RENDER or GetImage). */
static char read_path[160];
static void on_log(MiniAVLogLevel level, const char *message, void *user) {
    (void)level, (void)user;
    if (strstr(message, "x11: x11:root: frames")) snprintf(read_path, sizeof read_path, "%s", message);
}

typedef struct {
    pid_t pid;
    FILE *in, *out;
    char id[64];
} test_window;

static bool window_open(test_window *w, const char *title, const char *color, int x, int y, int width, int height) {
    int to_child[2], from_child[2];
    if (pipe(to_child) || pipe(from_child)) return false;
    char sx[16], sy[16], sw[16], sh[16];
    snprintf(sx, sizeof sx, "%d", x), snprintf(sy, sizeof sy, "%d", y);
    snprintf(sw, sizeof sw, "%d", width), snprintf(sh, sizeof sh, "%d", height);
    w->pid = fork();
    if (w->pid == 0) {
        dup2(to_child[0], 0);
        dup2(from_child[1], 1);
        close(to_child[1]);
        close(from_child[0]);
        execl(helper_path, helper_path, title, color, sx, sy, sw, sh, (char *)NULL);
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    w->in = fdopen(to_child[1], "w");
    w->out = fdopen(from_child[0], "r");
    char line[128];
    unsigned id;
    if (!fgets(line, sizeof line, w->out) || sscanf(line, "ready 0x%x", &id) != 1) return false;
    snprintf(w->id, sizeof w->id, "x11:window:0x%x", id);
    return true;
}

static bool window_do(test_window *w, const char *command) {
    fprintf(w->in, "%s\n", command);
    fflush(w->in);
    char line[64];
    return fgets(line, sizeof line, w->out) && !strncmp(line, "ok", 2);
}

static void window_close(test_window *w) {
    fprintf(w->in, "quit\n");
    fclose(w->in);
    fclose(w->out);
    waitpid(w->pid, NULL, 0);
}

/* ------------------------------------------------------------------ device events */

typedef struct {
    pthread_mutex_t lock;
    char added[16][256], removed[16][256];
    int n_added, n_removed;
} watch_log;

static void on_device(MiniAVDeviceEvent e, const MiniAVDeviceInfo *d, void *user) {
    watch_log *wl = user;
    pthread_mutex_lock(&wl->lock);
    if (e == MINIAV_DEVICE_ADDED && wl->n_added < 16) snprintf(wl->added[wl->n_added++], 256, "%s", d->device_id);
    if (e == MINIAV_DEVICE_REMOVED && wl->n_removed < 16) snprintf(wl->removed[wl->n_removed++], 256, "%s", d->device_id);
    pthread_mutex_unlock(&wl->lock);
}

static bool watch_saw(watch_log *wl, MiniAVDeviceEvent e, const char *id) {
    bool found = false;
    pthread_mutex_lock(&wl->lock);
    int n = e == MINIAV_DEVICE_ADDED ? wl->n_added : wl->n_removed;
    for (int i = 0; i < n; i++) found |= !strcmp(e == MINIAV_DEVICE_ADDED ? wl->added[i] : wl->removed[i], id);
    pthread_mutex_unlock(&wl->lock);
    return found;
}

/* Resizes the rig's X screen with xrandr: smaller with Xvfb's one output ("screen") off,
 * back to 1920x1080 with it on again; true when an x11 display then has that size (the
 * monitor "screen", or x11:root while no monitor is on). */
static bool resize_screen(uint32_t w, uint32_t h) {
    char cmd[128];
    if (w == 1920 && h == 1080)
        snprintf(cmd, sizeof cmd, "xrandr --fb 1920x1080 --output screen --mode 1920x1080 >/dev/null 2>&1");
    else
        snprintf(cmd, sizeof cmd, "xrandr --output screen --off --fb %ux%u >/dev/null 2>&1", w, h);
    if (system(cmd) != 0) return false;
    MiniAVDeviceInfo *devs;
    uint32_t n;
    bool ok = false;
    if (MiniAV_Screen_EnumerateDisplays(&devs, &n)) return false;
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(devs[i].backend, "x11") && devs[i].width == w && devs[i].height == h) ok = true;
    MiniAV_FreeDeviceList(devs, n);
    return ok;
}

/* ------------------------------------------------------------------ a stream that keeps its latest frame */

typedef struct {
    pthread_mutex_t lock;
    void *handle;          /* latest frame, held */
    MiniAVBuffer latest;
    atomic_int frames;
    atomic_int ended, resized, paused, resumed;
    MiniAVResultCode ended_code;
} latest_frame;

static void on_frame(const MiniAVBuffer *b, void *user) {
    latest_frame *lf = user;
    pthread_mutex_lock(&lf->lock);
    if (lf->handle) MiniAV_ReleaseBuffer(lf->handle);
    lf->handle = b->internal_handle;
    lf->latest = *b;
    pthread_mutex_unlock(&lf->lock);
    atomic_fetch_add(&lf->frames, 1);
}

static void on_event(MiniAVStreamEventType e, MiniAVResultCode code, const char *message, void *user) {
    latest_frame *lf = user;
    (void)message;
    if (e == MINIAV_EVENT_ENDED) lf->ended_code = code, atomic_store(&lf->ended, 1);
    if (e == MINIAV_EVENT_FORMAT_CHANGED) atomic_fetch_add(&lf->resized, 1);
    if (e == MINIAV_EVENT_SOURCE_PAUSED) atomic_fetch_add(&lf->paused, 1);
    if (e == MINIAV_EVENT_SOURCE_RESUMED) atomic_fetch_add(&lf->resumed, 1);
}

static uint32_t pixel(latest_frame *lf, uint32_t x, uint32_t y) {
    pthread_mutex_lock(&lf->lock);
    const uint8_t *p = (const uint8_t *)lf->latest.data.video.planes[0] + (size_t)y * lf->latest.data.video.stride_bytes[0] + x * 4;
    uint32_t v = p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
    pthread_mutex_unlock(&lf->lock);
    return v;
}

/* Waits for the frame count to pass `after` and returns the newest count. */
static int next_frames(latest_frame *lf, int after, int more) {
    WAIT_FOR(atomic_load(&lf->frames) >= after + more, 5000);
    return atomic_load(&lf->frames);
}

static MiniAVScreenContextHandle start_screen(latest_frame *lf, const char *id, int kind, int x, int y, int w, int h,
                                              MiniAVPixelFormat fmt, MiniAVCursorMode cursor, int skip_unchanged, MiniAVResultCode *result) {
    memset(lf, 0, sizeof *lf);
    pthread_mutex_init(&lf->lock, NULL);
    MiniAVScreenContextHandle ctx;
    MiniAV_Screen_CreateContext(&ctx);
    MiniAVVideoFormatInfo f = {0, 0, fmt, 60, 1, 0, 0};
    MiniAVResultCode r = kind == 0   ? MiniAV_Screen_ConfigureDisplay(ctx, id, &f)
                         : kind == 1 ? MiniAV_Screen_ConfigureWindow(ctx, id, &f)
                                     : MiniAV_Screen_ConfigureRegion(ctx, id, x, y, w, h, &f);
    if (!r) {
        MiniAVScreenOptions o = {.cursor = cursor, .skip_unchanged = skip_unchanged};
        r = MiniAV_Screen_SetOptions(ctx, &o);
    }
    if (!r) r = MiniAV_Stream_SetEventCallback(ctx, on_event, lf);
    if (!r) r = MiniAV_Screen_StartCapture(ctx, on_frame, lf, NULL);
    if (result) *result = r;
    if (r) {
        MiniAV_Screen_DestroyContext(ctx);
        return NULL;
    }
    return ctx;
}

static void stop_screen(MiniAVScreenContextHandle ctx, latest_frame *lf) {
    MiniAV_Screen_DestroyContext(ctx);
    if (lf->handle) MiniAV_ReleaseBuffer(lf->handle);
    lf->handle = NULL;
}

/* A capture of `id` (display, or region with kind 2) that the screen's shrinking to
 * 1280x720 ends with DEVICE_LOST; the screen is 1920x1080 again afterwards. */
static void check_ends_when_screen_shrinks(latest_frame *lf, const char *id, int kind, int x, int y, int w, int h, uint32_t first_width) {
    MiniAVScreenContextHandle s = start_screen(lf, id, kind, x, y, w, h, MINIAV_PIXEL_FORMAT_BGRA32, MINIAV_CURSOR_NONE, 0, NULL);
    CHECK(s != NULL);
    if (!s) return;
    next_frames(lf, 0, 2);
    CHECK_EQ_INT(lf->latest.data.video.width, first_width);
    CHECK(resize_screen(1280, 720));
    WAIT_FOR(atomic_load(&lf->ended), 3000);
    CHECK(atomic_load(&lf->ended));
    CHECK_EQ_INT(lf->ended_code, MINIAV_ERROR_DEVICE_LOST);
    stop_screen(s, lf);
    CHECK(resize_screen(1920, 1080));
}

#define ROOT 0xff336699u   /* B,G,R,A little-endian read of #336699 */
#define RED 0xffcc3300u
#define GREEN 0xff00cc66u

int main(int argc, char **argv) {
    if (!getenv("DISPLAY") || !*getenv("DISPLAY")) {
        fprintf(stderr, "no DISPLAY: start scripts/rigs/x11.sh\n");
        return getenv("MINIAV_REQUIRE_RIGS") ? 1 : 77;
    }
    helper_path = argc > 1 ? argv[1] : "./x11_test_window";

    /* Displays. */
    MiniAVDeviceInfo *devs;
    uint32_t n;
    CHECK_EQ_INT(MiniAV_Screen_EnumerateDisplays(&devs, &n), MINIAV_SUCCESS);
    int x11_displays = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(devs[i].backend, "x11")) {
            x11_displays++;
            CHECK_EQ_INT(devs[i].width, 1920);
            CHECK_EQ_INT(devs[i].height, 1080);
        }
    CHECK(x11_displays >= 1);
    MiniAV_FreeDeviceList(devs, n);

    /* Device lists that update: a window that appears and goes away. */
    MiniAVDeviceWatchHandle watch;
    watch_log wl = {.lock = PTHREAD_MUTEX_INITIALIZER};
    CHECK_EQ_INT(MiniAV_WatchDevices(MINIAV_DEVICE_TYPE_SCREEN, 20, on_device, &wl, &watch), MINIAV_SUCCESS);
    test_window brief;
    CHECK(window_open(&brief, "miniav brief", "ffffff", 10, 10, 50, 50));
    WAIT_FOR(watch_saw(&wl, MINIAV_DEVICE_ADDED, brief.id), 3000);
    CHECK(watch_saw(&wl, MINIAV_DEVICE_ADDED, brief.id));
    window_close(&brief);
    WAIT_FOR(watch_saw(&wl, MINIAV_DEVICE_REMOVED, brief.id), 3000);
    CHECK(watch_saw(&wl, MINIAV_DEVICE_REMOVED, brief.id));
    CHECK_EQ_INT(MiniAV_UnwatchDevices(watch), MINIAV_SUCCESS);

    test_window a, b;
    CHECK(window_open(&a, "miniav red", "cc3300", 100, 100, 400, 300));
    CHECK(window_open(&b, "miniav green", "00cc66", 1300, 700, 300, 200));

    /* Windows: title, class, pid, geometry. */
    CHECK_EQ_INT(MiniAV_Screen_EnumerateWindows(&devs, &n), MINIAV_SUCCESS);
    int seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!strcmp(devs[i].device_id, a.id)) {
            seen++;
            CHECK(!strcmp(devs[i].name, "miniav red"));
            CHECK(!strcmp(devs[i].class_name, "MiniAVTest"));
            CHECK_EQ_INT(devs[i].process_id, a.pid);
            CHECK_EQ_INT(devs[i].x, 100);
            CHECK_EQ_INT(devs[i].y, 100);
            CHECK_EQ_INT(devs[i].width, 400);
            CHECK_EQ_INT(devs[i].height, 300);
        }
        if (!strcmp(devs[i].device_id, b.id)) seen++;
    }
    CHECK_EQ_INT(seen, 2);
    MiniAV_FreeDeviceList(devs, n);
    /* With an EWMH window manager, its _NET_CLIENT_LIST is the list. */
    CHECK(window_do(&b, "ewmh"));
    CHECK_EQ_INT(MiniAV_Screen_EnumerateWindows(&devs, &n), MINIAV_SUCCESS);
    CHECK_EQ_INT(n, 1);
    if (n == 1) CHECK(!strcmp(devs[0].device_id, b.id));
    MiniAV_FreeDeviceList(devs, n);
    CHECK(window_do(&b, "noewmh"));

    /* The whole screen: root colour, and each window at its place. */
    /* Displays are copied by RENDER unless MINIAV_X11_GETIMAGE=1 (ctest runs both). */
    latest_frame lf;
    MiniAV_SetLogCallback(on_log, NULL);
    MiniAV_SetLogLevel(MINIAV_LOG_LEVEL_DEBUG);
    MiniAVScreenContextHandle s = start_screen(&lf, "x11:root", 0, 0, 0, 0, 0, MINIAV_PIXEL_FORMAT_BGRA32, MINIAV_CURSOR_NONE, 0, NULL);
    CHECK(s != NULL);
    MiniAV_SetLogLevel(MINIAV_LOG_LEVEL_WARN);
    MiniAV_SetLogCallback(NULL, NULL);
    const char *getimage = getenv("MINIAV_X11_GETIMAGE");
    CHECK(strstr(read_path, getimage && !strcmp(getimage, "1") ? "ShmGetImage" : "RENDER") != NULL);
    next_frames(&lf, 0, 2);
    CHECK_EQ_INT(lf.latest.data.video.width, 1920);
    CHECK_EQ_INT(pixel(&lf, 5, 5), ROOT);
    CHECK_EQ_INT(pixel(&lf, 100, 100), RED);
    CHECK_EQ_INT(pixel(&lf, 499, 399), RED);
    CHECK_EQ_INT(pixel(&lf, 500, 400), ROOT);
    CHECK_EQ_INT(pixel(&lf, 1400, 800), GREEN);
    /* Hold the latest buffer past destroy: it stays readable, then releases cleanly. */
    pthread_mutex_lock(&lf.lock);
    void *kept = lf.handle;
    const uint8_t *kept_px = lf.latest.data.video.planes[0];
    lf.handle = NULL;
    pthread_mutex_unlock(&lf.lock);
    stop_screen(s, &lf);
    CHECK_EQ_INT(kept_px[0], 0x99);
    CHECK_EQ_INT(MiniAV_ReleaseBuffer(kept), MINIAV_SUCCESS);

    /* rgba, and a region exactly over the corner of the red window. */
    s = start_screen(&lf, "x11:root", 2, 90, 95, 40, 30, MINIAV_PIXEL_FORMAT_RGBA32, MINIAV_CURSOR_NONE, 0, NULL);
    CHECK(s != NULL);
    next_frames(&lf, 0, 2);
    CHECK_EQ_INT(lf.latest.data.video.width, 40);
    CHECK_EQ_INT(lf.latest.data.video.height, 30);
    CHECK_EQ_INT(pixel(&lf, 0, 0), 0xff996633u);   /* R,G,B,A bytes of the root */
    CHECK_EQ_INT(pixel(&lf, 9, 4), 0xff996633u);
    CHECK_EQ_INT(pixel(&lf, 10, 5), 0xff0033ccu);  /* (100,100): the red window */
    CHECK_EQ_INT(pixel(&lf, 39, 29), 0xff0033ccu);
    stop_screen(s, &lf);

    /* The window itself: follows a move, a resize, a recolour; closing ends the stream. */
    s = start_screen(&lf, a.id, 1, 0, 0, 0, 0, MINIAV_PIXEL_FORMAT_BGRA32, MINIAV_CURSOR_NONE, 0, NULL);
    CHECK(s != NULL);
    int count = next_frames(&lf, 0, 2);
    CHECK_EQ_INT(lf.latest.data.video.width, 400);
    CHECK_EQ_INT(pixel(&lf, 0, 0), RED);
    CHECK(window_do(&a, "move 300 200"));
    count = next_frames(&lf, count, 3);
    CHECK_EQ_INT(pixel(&lf, 399, 299), RED);
    CHECK(window_do(&a, "resize 200 150"));
    WAIT_FOR(atomic_load(&lf.resized) >= 1, 3000);
    count = next_frames(&lf, atomic_load(&lf.frames), 3);
    CHECK_EQ_INT(atomic_load(&lf.resized), 1);
    CHECK_EQ_INT(lf.latest.data.video.width, 200);
    CHECK_EQ_INT(lf.latest.data.video.height, 150);
    CHECK_EQ_INT(pixel(&lf, 199, 149), RED);
    MiniAVVideoFormatInfo now;
    MiniAV_Screen_GetConfiguredFormat(s, &now);
    CHECK_EQ_INT(now.width, 200);
    CHECK(window_do(&a, "color 0000ff"));
    count = next_frames(&lf, count, 3);
    CHECK_EQ_INT(pixel(&lf, 10, 10), 0xff0000ffu); /* X pixel 0x0000ff: blue */
    CHECK(window_do(&a, "unmap"));
    WAIT_FOR(atomic_load(&lf.paused) >= 1, 3000);
    CHECK_EQ_INT(atomic_load(&lf.paused), 1);
    CHECK(window_do(&a, "map"));
    WAIT_FOR(atomic_load(&lf.resumed) >= 1, 3000);
    CHECK_EQ_INT(atomic_load(&lf.resumed), 1);
    window_close(&a);
    WAIT_FOR(atomic_load(&lf.ended), 3000);
    CHECK(atomic_load(&lf.ended));
    CHECK_EQ_INT(lf.ended_code, MINIAV_ERROR_DEVICE_LOST);
    stop_screen(s, &lf);

    /* Cursor: composited pixels near the pointer differ from the bare screen. Xvfb puts
     * the pointer in the middle of the screen. */
    s = start_screen(&lf, "x11:root", 2, 930, 510, 60, 60, MINIAV_PIXEL_FORMAT_BGRA32, MINIAV_CURSOR_NONE, 0, NULL);
    next_frames(&lf, 0, 2);
    int bare_differs = 0;
    for (uint32_t y = 0; y < 60; y++)
        for (uint32_t x = 0; x < 60; x++) bare_differs += pixel(&lf, x, y) != ROOT;
    stop_screen(s, &lf);
    CHECK_EQ_INT(bare_differs, 0);
    s = start_screen(&lf, "x11:root", 2, 930, 510, 60, 60, MINIAV_PIXEL_FORMAT_BGRA32, MINIAV_CURSOR_COMPOSITE, 0, NULL);
    next_frames(&lf, 0, 2);
    int cursor_differs = 0;
    for (uint32_t y = 0; y < 60; y++)
        for (uint32_t x = 0; x < 60; x++) cursor_differs += pixel(&lf, x, y) != ROOT;
    stop_screen(s, &lf);
    CHECK(cursor_differs > 10);
    s = start_screen(&lf, "x11:root", 2, 930, 510, 60, 60, MINIAV_PIXEL_FORMAT_BGRA32, MINIAV_CURSOR_METADATA, 0, NULL);
    next_frames(&lf, 0, 2);
    pthread_mutex_lock(&lf.lock);
    MiniAVCursorInfo ci = lf.latest.data.video.cursor;
    pthread_mutex_unlock(&lf.lock);
    CHECK(ci.visible);
    CHECK_EQ_INT(ci.x, 30);
    CHECK_EQ_INT(ci.y, 30);
    CHECK(ci.width > 0 && ci.image != NULL);
    stop_screen(s, &lf);

    /* Damage: a still screen produces (almost) no frames; a change produces one. */
    s = start_screen(&lf, "x11:root", 0, 0, 0, 0, 0, MINIAV_PIXEL_FORMAT_BGRA32, MINIAV_CURSOR_NONE, 1, NULL);
    CHECK(s != NULL);
    next_frames(&lf, 0, 1);
    sleep_ms(300);
    int still = atomic_load(&lf.frames);
    MiniAVStats st;
    MiniAV_Stream_GetStats(s, &st);
    CHECK(still <= 2);
    CHECK(st.skipped >= 5);
    CHECK(window_do(&b, "color ff00ff"));
    next_frames(&lf, still, 1);
    CHECK(atomic_load(&lf.frames) > still);
    CHECK_EQ_INT(pixel(&lf, 1350, 750), 0xffff00ffu);
    stop_screen(s, &lf);
    window_close(&b);

    /* The screen is resized (RandR): a display capture follows it with a `format` event
     * and frames of the new size; a region that no longer fits ends with DEVICE_LOST. */
    s = start_screen(&lf, "x11:root", 0, 0, 0, 0, 0, MINIAV_PIXEL_FORMAT_BGRA32, MINIAV_CURSOR_NONE, 0, NULL);
    CHECK(s != NULL);
    next_frames(&lf, 0, 2);
    CHECK(resize_screen(1280, 720));
    WAIT_FOR(atomic_load(&lf.resized) >= 1, 3000);
    next_frames(&lf, atomic_load(&lf.frames), 2);
    CHECK_EQ_INT(atomic_load(&lf.resized), 1);
    CHECK_EQ_INT(lf.latest.data.video.width, 1280);
    CHECK_EQ_INT(lf.latest.data.video.height, 720);
    CHECK_EQ_INT(pixel(&lf, 1279, 719), ROOT);
    CHECK(resize_screen(1920, 1080));
    WAIT_FOR(atomic_load(&lf.resized) >= 2, 3000);
    next_frames(&lf, atomic_load(&lf.frames), 2);
    CHECK_EQ_INT(lf.latest.data.video.width, 1920);
    CHECK_EQ_INT(pixel(&lf, 1919, 1079), ROOT);
    CHECK_EQ_INT(atomic_load(&lf.ended), 0);
    stop_screen(s, &lf);
    check_ends_when_screen_shrinks(&lf, "x11:root", 2, 1800, 1000, 100, 50, 100);
    /* A monitor whose output is switched off is gone: its capture ends. */
    check_ends_when_screen_shrinks(&lf, "x11:monitor:screen", 0, 0, 0, 0, 0, 1920);

    /* Bad ids and arguments. */
    MiniAVResultCode r;
    CHECK(start_screen(&lf, "x11:window:0x1", 1, 0, 0, 0, 0, 0, 0, 0, &r) == NULL);
    CHECK_EQ_INT(r, MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK(start_screen(&lf, "x11:window:zzz", 1, 0, 0, 0, 0, 0, 0, 0, &r) == NULL);
    CHECK_EQ_INT(r, MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK(start_screen(&lf, "x11:monitor:nope", 0, 0, 0, 0, 0, 0, 0, 0, &r) == NULL);
    CHECK_EQ_INT(r, MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK(start_screen(&lf, "x11:root", 2, 1900, 0, 100, 100, 0, 0, 0, &r) == NULL);
    CHECK_EQ_INT(r, MINIAV_ERROR_INVALID_ARG);
    CHECK(start_screen(&lf, "x11:root", 0, 0, 0, 0, 0, MINIAV_PIXEL_FORMAT_NV12, 0, 0, &r) == NULL);
    CHECK_EQ_INT(r, MINIAV_ERROR_FORMAT_NOT_SUPPORTED);
    MiniAVScreenContextHandle ctx;
    MiniAV_Screen_CreateContext(&ctx);
    MiniAVVideoFormatInfo scaled = {1280, 720, 0, 30, 1, 0, 0};
    CHECK_EQ_INT(MiniAV_Screen_ConfigureDisplay(ctx, "x11:root", &scaled), MINIAV_ERROR_NOT_SUPPORTED);
    MiniAV_Screen_DestroyContext(ctx);
    TEST_DONE();
}
