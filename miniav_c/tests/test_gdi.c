/* GDI screen backend under Wine on the Xvfb rig (root painted #336699): a window of our
 * own (#CC3300) at a known place, captured as part of the display, as a window and in a
 * region; resize and close of the window; bad ids; buffers held past destroy; drops;
 * DXGI reported unavailable where Desktop Duplication is missing (Wine); a 1080p rate;
 * a stream switched from composite to metadata cursor between runs; a black window of
 * ours whose thread is busy: listed, captured and stopped without waiting for that thread.
 * usage: test_gdi   (exit 77 = skipped: no display) */
#define WIN32_LEAN_AND_MEAN
#include "miniav.h"
#include "check.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <windows.h>

#define WIN_X 300
#define WIN_Y 200
#define WIN_W 320
#define WIN_H 240
#define TITLE "miniav gdi test window"
#define WM_APP_RESIZE (WM_APP + 1)
#define WM_APP_MOVE (WM_APP + 2)

static const uint8_t WINDOW_BGR[3] = {0x00, 0x33, 0xCC}, ROOT_BGR[3] = {0x99, 0x66, 0x33};

/* ------------------------------------------------------------------ the test window (its own thread) */

static HWND test_hwnd;
static HANDLE window_ready;

static LRESULT CALLBACK wndproc(HWND h, UINT m, WPARAM w, LPARAM l) {
    if (m == WM_APP_RESIZE) {
        SetWindowPos(h, NULL, 0, 0, (int)w, (int)l, SWP_NOMOVE | SWP_NOZORDER);
        return 0;
    }
    if (m == WM_APP_MOVE) {
        SetWindowPos(h, NULL, (int)w, (int)l, 0, 0, SWP_NOSIZE | SWP_NOZORDER);
        return 0;
    }
    if (m == WM_DESTROY) {
        PostQuitMessage(0);
        return 0;
    }
    return DefWindowProcW(h, m, w, l);
}

static DWORD WINAPI window_thread(void *arg) {
    (void)arg;
    WNDCLASSW wc = {0};
    wc.lpfnWndProc = wndproc;
    wc.hInstance = GetModuleHandleW(NULL);
    wc.lpszClassName = L"miniav_gdi_test";
    wc.hbrBackground = CreateSolidBrush(RGB(0xCC, 0x33, 0x00));
    wc.hCursor = LoadCursorW(NULL, (LPCWSTR)IDC_ARROW);
    RegisterClassW(&wc);
    /* A popup: no frame, so the client area is the window and its place is known. */
    test_hwnd = CreateWindowExW(WS_EX_TOPMOST, L"miniav_gdi_test", L"" TITLE, WS_POPUP | WS_VISIBLE, WIN_X, WIN_Y, WIN_W, WIN_H, NULL, NULL,
                                wc.hInstance, NULL);
    UpdateWindow(test_hwnd);
    SetEvent(window_ready);
    MSG msg;
    while (GetMessageW(&msg, NULL, 0, 0) > 0) {
        TranslateMessage(&msg);
        DispatchMessageW(&msg);
    }
    return 0;
}

/* ------------------------------------------------------------------ a black window whose thread gets busy */

#define BUSY_TITLE "miniav gdi busy window"
#define WM_APP_BUSY (WM_APP + 3)
static HWND busy_hwnd;
static HANDLE busy_ready, busy_release, busy_started;

static LRESULT CALLBACK busy_wndproc(HWND h, UINT m, WPARAM w, LPARAM l) {
    if (m == WM_APP_BUSY) {
        /* A UI thread doing something else (or waiting for the capture to stop): it answers
         * no sent message meanwhile. */
        SetEvent(busy_started);
        WaitForSingleObject(busy_release, 15000);
        return 0;
    }
    if (m == WM_DESTROY) {
        PostQuitMessage(0);
        return 0;
    }
    return DefWindowProcW(h, m, w, l);
}

static DWORD WINAPI busy_window_thread(void *arg) {
    (void)arg;
    WNDCLASSW wc = {0};
    wc.lpfnWndProc = busy_wndproc;
    wc.hInstance = GetModuleHandleW(NULL);
    wc.lpszClassName = L"miniav_gdi_busy";
    wc.hbrBackground = (HBRUSH)GetStockObject(BLACK_BRUSH); /* black: BitBlt's probe would try PrintWindow */
    RegisterClassW(&wc);
    busy_hwnd = CreateWindowExW(WS_EX_TOPMOST, L"miniav_gdi_busy", L"" BUSY_TITLE, WS_POPUP | WS_VISIBLE, 1200, 700, 200, 150, NULL, NULL,
                                wc.hInstance, NULL);
    UpdateWindow(busy_hwnd);
    SetEvent(busy_ready);
    MSG msg;
    while (GetMessageW(&msg, NULL, 0, 0) > 0) {
        TranslateMessage(&msg);
        DispatchMessageW(&msg);
    }
    return 0;
}

/* ------------------------------------------------------------------ capture helpers */

typedef struct {
    CRITICAL_SECTION lock;
    const MiniAVBuffer *last;   /* held until replaced (or kept when hold_all) */
    bool hold_all;
    uint64_t count, last_seq;
    int64_t last_ts;
    bool seq_ok, ts_ok;
    uint32_t last_w, last_h;
    atomic_int format_changed, ended, paused, resumed;
    MiniAVResultCode ended_code;
} sink;

static void sink_init(sink *k) {
    memset(k, 0, sizeof *k);
    InitializeCriticalSection(&k->lock);
    k->seq_ok = k->ts_ok = true;
}

static void on_buffer(const MiniAVBuffer *b, void *user) {
    sink *k = user;
    EnterCriticalSection(&k->lock);
    if (k->count && b->sequence <= k->last_seq) k->seq_ok = false;
    if (k->count && b->timestamp_us <= k->last_ts) k->ts_ok = false;
    if (b->timestamp_us > MiniAV_GetTimeUs()) k->ts_ok = false;
    k->last_seq = b->sequence, k->last_ts = b->timestamp_us;
    k->count++;
    k->last_w = b->data.video.width, k->last_h = b->data.video.height;
    const MiniAVBuffer *old = k->last;
    k->last = b;
    LeaveCriticalSection(&k->lock);
    if (old && !k->hold_all) MiniAV_ReleaseBuffer(old->internal_handle);
}

static void on_event(MiniAVStreamEventType e, MiniAVResultCode r, const char *msg, void *user) {
    sink *k = user;
    printf("  event %d (%s): %s\n", (int)e, MiniAV_GetErrorName(r), msg ? msg : "");
    if (e == MINIAV_EVENT_FORMAT_CHANGED) atomic_fetch_add(&k->format_changed, 1);
    if (e == MINIAV_EVENT_SOURCE_PAUSED) atomic_fetch_add(&k->paused, 1);
    if (e == MINIAV_EVENT_SOURCE_RESUMED) atomic_fetch_add(&k->resumed, 1);
    if (e == MINIAV_EVENT_ENDED) {
        k->ended_code = r;
        atomic_fetch_add(&k->ended, 1);
    }
}

static void on_log(MiniAVLogLevel level, const char *message, void *user) {
    (void)user;
    if (level >= MINIAV_LOG_LEVEL_INFO) printf("  log: %s\n", message);
}

static uint64_t sink_count(sink *k) {
    EnterCriticalSection(&k->lock);
    uint64_t n = k->count;
    LeaveCriticalSection(&k->lock);
    return n;
}

static bool pixel_is(const MiniAVBuffer *b, uint32_t x, uint32_t y, const uint8_t bgr[3]) {
    const uint8_t *p = (const uint8_t *)b->data.video.planes[0] + (size_t)y * b->data.video.stride_bytes[0] + (size_t)x * 4;
    bool ok = p[0] == bgr[0] && p[1] == bgr[1] && p[2] == bgr[2];
    if (!ok) fprintf(stderr, "  pixel (%u,%u) = #%02x%02x%02x, expected #%02x%02x%02x\n", x, y, p[2], p[1], p[0], bgr[2], bgr[1], bgr[0]);
    return ok;
}

static bool all_pixels_are(const MiniAVBuffer *b, const uint8_t bgr[3]) {
    for (uint32_t y = 0; y < b->data.video.height; y++)
        for (uint32_t x = 0; x < b->data.video.width; x++) {
            const uint8_t *p = (const uint8_t *)b->data.video.planes[0] + (size_t)y * b->data.video.stride_bytes[0] + (size_t)x * 4;
            if (p[0] != bgr[0] || p[1] != bgr[1] || p[2] != bgr[2]) return pixel_is(b, x, y, bgr);
        }
    return true;
}

/* Starts capture on a configured context and waits for n frames. */
static bool run_until(MiniAVScreenContextHandle ctx, sink *k, uint64_t n) {
    MiniAV_Stream_SetEventCallback(ctx, on_event, k);
    MiniAVResultCode r = MiniAV_Screen_StartCapture(ctx, on_buffer, k, NULL);
    CHECK_EQ_INT(r, MINIAV_SUCCESS);
    if (r) return false;
    WAIT_FOR(sink_count(k) >= n, 5000);
    CHECK(sink_count(k) >= n);
    return sink_count(k) >= n;
}

static void finish(MiniAVScreenContextHandle ctx, sink *k) {
    MiniAV_Screen_StopCapture(ctx);
    MiniAV_Screen_DestroyContext(ctx);
    if (k->last) MiniAV_ReleaseBuffer(k->last->internal_handle); /* after destroy: must be safe */
    k->last = NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    HDC screen = GetDC(NULL);
    if (!screen) {
        printf("skipped: no display (GetDC(NULL) failed)\n");
        return getenv("MINIAV_REQUIRE_RIGS") ? 1 : 77;
    }
    ReleaseDC(NULL, screen);
    MiniAV_SetLogCallback(on_log, NULL);
    MiniAV_SetLogLevel(MINIAV_LOG_LEVEL_INFO);
    window_ready = CreateEventW(NULL, TRUE, FALSE, NULL);
    HANDLE thread = CreateThread(NULL, 0, window_thread, NULL, 0, NULL);
    WaitForSingleObject(window_ready, 5000);
    CHECK(test_hwnd != NULL);
    Sleep(700); /* Wine maps and paints the X window */
    SetCursorPos(WIN_X + 100, WIN_Y + 100); /* over the window: its arrow cursor */
    Sleep(100);

    /* --- backends: dxgi reported unavailable under Wine (no Desktop Duplication) */
    const char *names = MiniAV_GetBackendNames(MINIAV_DEVICE_TYPE_SCREEN);
    printf("screen backends: %s\n", names);
    CHECK(strstr(names, "gdi") != NULL);
    MiniAVDeviceInfo *devs = NULL;
    uint32_t n = 0;
    if (strstr(names, "dxgi")) {
        CHECK_EQ_INT(MiniAV_SetBackend(MINIAV_DEVICE_TYPE_SCREEN, "dxgi"), MINIAV_SUCCESS);
        MiniAVResultCode r = MiniAV_Screen_EnumerateDisplays(&devs, &n);
        printf("forced dxgi: %s: %s\n", MiniAV_GetErrorName(r), MiniAV_GetLastErrorMessage());
        CHECK_EQ_INT(r, MINIAV_ERROR_BACKEND_UNAVAILABLE);
        MiniAVScreenContextHandle ctx;
        MiniAV_Screen_CreateContext(&ctx);
        r = MiniAV_Screen_ConfigureDisplay(ctx, "dxgi:display:\\\\.\\DISPLAY1", NULL);
        printf("configure dxgi id: %s: %s\n", MiniAV_GetErrorName(r), MiniAV_GetLastErrorMessage());
        CHECK_EQ_INT(r, MINIAV_ERROR_BACKEND_UNAVAILABLE);
        MiniAV_Screen_DestroyContext(ctx);
        CHECK_EQ_INT(MiniAV_SetBackend(MINIAV_DEVICE_TYPE_SCREEN, NULL), MINIAV_SUCCESS);
    }

    /* --- enumeration */
    CHECK_EQ_INT(MiniAV_Screen_EnumerateDisplays(&devs, &n), MINIAV_SUCCESS);
    char display[256] = "";
    int defaults = 0;
    for (uint32_t i = 0; i < n; i++) {
        printf("display %s \"%s\" [%s] %d,%d %ux%u%s\n", devs[i].device_id, devs[i].name, devs[i].backend, devs[i].x, devs[i].y,
               devs[i].width, devs[i].height, devs[i].is_default ? " default" : "");
        defaults += devs[i].is_default != 0;
        if (!strcmp(devs[i].backend, "gdi") && (!display[0] || devs[i].is_default)) snprintf(display, sizeof display, "%s", devs[i].device_id);
    }
    CHECK(n >= 1);
    CHECK_EQ_INT(defaults, 1);
    CHECK(!strncmp(display, "gdi:display:", 12));
    MiniAV_FreeDeviceList(devs, n);

    CHECK_EQ_INT(MiniAV_Screen_EnumerateWindows(&devs, &n), MINIAV_SUCCESS);
    char window[256] = "";
    for (uint32_t i = 0; i < n; i++) {
        if (strcmp(devs[i].name, TITLE)) continue;
        snprintf(window, sizeof window, "%s", devs[i].device_id);
        printf("window %s \"%s\" class=%s pid=%u %d,%d %ux%u\n", devs[i].device_id, devs[i].name, devs[i].class_name, devs[i].process_id,
               devs[i].x, devs[i].y, devs[i].width, devs[i].height);
        CHECK_EQ_INT(devs[i].process_id, GetCurrentProcessId());
        CHECK(!strcmp(devs[i].class_name, "miniav_gdi_test"));
        CHECK_EQ_INT(devs[i].width, WIN_W);
        CHECK_EQ_INT(devs[i].height, WIN_H);
        CHECK_EQ_INT(devs[i].x, WIN_X);
        CHECK_EQ_INT(devs[i].y, WIN_Y);
    }
    printf("%u windows listed\n", n);
    CHECK(window[0] != 0);
    MiniAV_FreeDeviceList(devs, n);

    /* --- display: the window where it is, the root colour elsewhere */
    MiniAVScreenContextHandle ctx;
    sink k;
    sink_init(&k);
    int64_t t0 = MiniAV_GetTimeUs();
    CHECK_EQ_INT(MiniAV_Screen_CreateContext(&ctx), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureDisplay(ctx, display, NULL), MINIAV_SUCCESS);
    CHECK(!strcmp(MiniAV_Stream_GetBackendName(ctx), "gdi"));
    if (run_until(ctx, &k, 5)) {
        MiniAV_Screen_StopCapture(ctx);
        const MiniAVBuffer *b = k.last;
        printf("display frame %ux%u seq %llu\n", b->data.video.width, b->data.video.height, (unsigned long long)b->sequence);
        CHECK_EQ_INT(b->data.video.pixel_format, MINIAV_PIXEL_FORMAT_BGRA32);
        CHECK(pixel_is(b, WIN_X + 10, WIN_Y + 10, WINDOW_BGR));
        CHECK(pixel_is(b, WIN_X + WIN_W - 2, WIN_Y + WIN_H - 2, WINDOW_BGR));
        CHECK(pixel_is(b, WIN_X - 5, WIN_Y - 5, ROOT_BGR));
        CHECK(pixel_is(b, 5, 5, ROOT_BGR));
        CHECK_EQ_INT(((const uint8_t *)b->data.video.planes[0])[3], 0xff); /* bgra: alpha set */
        CHECK(k.seq_ok);
        CHECK(k.ts_ok);
        CHECK(b->timestamp_us >= t0 && b->timestamp_us <= MiniAV_GetTimeUs());
        MiniAVStats st;
        MiniAV_Stream_GetStats(ctx, &st);
        CHECK_EQ_INT(st.copies, 0);
        /* Frames are fresh: the window moved away shows up in the next frames. */
        MiniAV_Screen_StartCapture(ctx, on_buffer, &k, NULL);
        PostMessageW(test_hwnd, WM_APP_MOVE, WIN_X + 600, WIN_Y);
        Sleep(400);
        uint64_t seen = sink_count(&k);
        WAIT_FOR(sink_count(&k) >= seen + 2, 3000);
        MiniAV_Screen_StopCapture(ctx);
        b = k.last;
        CHECK(pixel_is(b, WIN_X + 10, WIN_Y + 10, ROOT_BGR));
        CHECK(pixel_is(b, WIN_X + 610, WIN_Y + 10, WINDOW_BGR));
        PostMessageW(test_hwnd, WM_APP_MOVE, WIN_X, WIN_Y);
        Sleep(300);
    }
    finish(ctx, &k);

    /* --- the whole virtual desktop (one monitor here: the same size) */
    MiniAV_Screen_CreateContext(&ctx);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureDisplay(ctx, "gdi:desktop", NULL), MINIAV_SUCCESS);
    MiniAVVideoFormatInfo desk;
    MiniAV_Screen_GetConfiguredFormat(ctx, &desk);
    CHECK_EQ_INT(desk.width, 1920);
    CHECK_EQ_INT(desk.height, 1080);
    MiniAV_Screen_DestroyContext(ctx);

    /* --- region around the window's top-left corner */
    sink_init(&k);
    MiniAV_Screen_CreateContext(&ctx);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureRegion(ctx, display, WIN_X - 20, WIN_Y - 20, 100, 80, NULL), MINIAV_SUCCESS);
    if (run_until(ctx, &k, 2)) {
        MiniAV_Screen_StopCapture(ctx);
        const MiniAVBuffer *b = k.last;
        CHECK_EQ_INT(b->data.video.width, 100);
        CHECK_EQ_INT(b->data.video.height, 80);
        CHECK(pixel_is(b, 5, 5, ROOT_BGR));
        CHECK(pixel_is(b, 30, 30, WINDOW_BGR));
        CHECK(pixel_is(b, 99, 79, WINDOW_BGR));
    }
    finish(ctx, &k);

    /* --- rgba (a counted pass) and the cursor metadata path */
    sink_init(&k);
    MiniAV_Screen_CreateContext(&ctx);
    MiniAVVideoFormatInfo rgba = {.pixel_format = MINIAV_PIXEL_FORMAT_RGBA32};
    CHECK_EQ_INT(MiniAV_Screen_ConfigureRegion(ctx, display, WIN_X, WIN_Y, 64, 64, &rgba), MINIAV_SUCCESS);
    MiniAVScreenOptions so = {.cursor = MINIAV_CURSOR_METADATA};
    if (run_until(ctx, &k, 2)) {
        MiniAV_Screen_StopCapture(ctx);
        const MiniAVBuffer *b = k.last;
        static const uint8_t window_rgb[3] = {0xCC, 0x33, 0x00};
        CHECK(pixel_is(b, 10, 10, window_rgb));
        MiniAVStats st;
        MiniAV_Stream_GetStats(ctx, &st);
        CHECK(st.copies >= 2);
    }
    finish(ctx, &k);

    /* --- cursor: metadata (position + image after the frame), composite (drawn in) */
    sink_init(&k);
    MiniAV_Screen_CreateContext(&ctx);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureRegion(ctx, display, WIN_X, WIN_Y, 200, 200, NULL), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Screen_SetOptions(ctx, &so), MINIAV_SUCCESS);
    if (run_until(ctx, &k, 2)) {
        MiniAV_Screen_StopCapture(ctx);
        const MiniAVBuffer *b = k.last;
        const MiniAVCursorInfo *c = &b->data.video.cursor;
        printf("cursor metadata: visible=%d at %d,%d hot %u,%u %ux%u serial %u image=%s\n", c->visible, c->x, c->y, c->hot_x, c->hot_y,
               c->width, c->height, c->serial, c->image ? "yes" : "no");
        CHECK(c->visible);
        CHECK_EQ_INT(c->x, 100);
        CHECK_EQ_INT(c->y, 100);
        CHECK(c->image != NULL && c->width > 0 && c->height > 0);
        if (c->image) {
            const uint8_t *base = b->data.video.planes[0];
            CHECK(c->image >= base + b->data.video.plane_size_bytes[0]);
            uint32_t opaque = 0;
            for (uint32_t i = 0; i < c->width * c->height; i++) opaque += c->image[i * 4 + 3] == 255;
            printf("cursor image: %u opaque pixels of %u\n", opaque, c->width * c->height);
            CHECK(opaque > 10);
        }
        CHECK(all_pixels_are(b, WINDOW_BGR)); /* metadata: not drawn in */
    }
    finish(ctx, &k);
    sink_init(&k);
    MiniAV_Screen_CreateContext(&ctx);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureRegion(ctx, display, WIN_X, WIN_Y, 200, 200, NULL), MINIAV_SUCCESS);
    MiniAVScreenOptions composite = {.cursor = MINIAV_CURSOR_COMPOSITE};
    CHECK_EQ_INT(MiniAV_Screen_SetOptions(ctx, &composite), MINIAV_SUCCESS);
    if (run_until(ctx, &k, 2)) {
        MiniAV_Screen_StopCapture(ctx);
        const MiniAVBuffer *b = k.last;
        uint32_t changed = 0;
        for (uint32_t y = 90; y < 140; y++)
            for (uint32_t x = 90; x < 140; x++) {
                const uint8_t *p = (const uint8_t *)b->data.video.planes[0] + (size_t)y * b->data.video.stride_bytes[0] + (size_t)x * 4;
                changed += p[0] != WINDOW_BGR[0] || p[1] != WINDOW_BGR[1] || p[2] != WINDOW_BGR[2];
            }
        printf("cursor composite: %u pixels drawn near the pointer\n", changed);
        CHECK(changed > 10);
        CHECK(pixel_is(b, 10, 10, WINDOW_BGR));
        /* The same stream again, now with metadata: the composite run's cursor cache has no
         * image, and must not be taken for one. */
        CHECK_EQ_INT(MiniAV_Screen_SetOptions(ctx, &so), MINIAV_SUCCESS);
        uint64_t seen = sink_count(&k);
        if (run_until(ctx, &k, seen + 2)) {
            MiniAV_Screen_StopCapture(ctx);
            const MiniAVCursorInfo *c = &k.last->data.video.cursor;
            printf("composite then metadata: visible=%d %ux%u image=%s\n", c->visible, c->width, c->height, c->image ? "yes" : "no");
            CHECK(c->visible);
            CHECK(c->image != NULL && c->width > 0 && c->height > 0 && c->width <= 256 && c->height <= 256);
            CHECK(all_pixels_are(k.last, WINDOW_BGR)); /* metadata: not drawn in */
        }
    }
    finish(ctx, &k);

    /* --- window: all #CC3300 at its client size; resize; close */
    sink_init(&k);
    MiniAV_Screen_CreateContext(&ctx);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureWindow(ctx, window, NULL), MINIAV_SUCCESS);
    MiniAVVideoFormatInfo fmt;
    CHECK_EQ_INT(MiniAV_Screen_GetConfiguredFormat(ctx, &fmt), MINIAV_SUCCESS);
    CHECK_EQ_INT(fmt.width, WIN_W);
    CHECK_EQ_INT(fmt.height, WIN_H);
    if (run_until(ctx, &k, 3)) {
        EnterCriticalSection(&k.lock);
        const MiniAVBuffer *b = k.last;
        CHECK_EQ_INT(b->data.video.width, WIN_W);
        CHECK_EQ_INT(b->data.video.height, WIN_H);
        CHECK(all_pixels_are(b, WINDOW_BGR));
        LeaveCriticalSection(&k.lock);

        PostMessageW(test_hwnd, WM_APP_RESIZE, 400, 300);
        WAIT_FOR(atomic_load(&k.format_changed) > 0, 3000);
        CHECK(atomic_load(&k.format_changed) > 0);
        uint64_t seen = sink_count(&k);
        WAIT_FOR(sink_count(&k) >= seen + 3, 3000);
        EnterCriticalSection(&k.lock);
        b = k.last;
        CHECK_EQ_INT(b->data.video.width, 400);
        CHECK_EQ_INT(b->data.video.height, 300);
        CHECK(all_pixels_are(b, WINDOW_BGR));
        LeaveCriticalSection(&k.lock);
        CHECK_EQ_INT(MiniAV_Screen_GetConfiguredFormat(ctx, &fmt), MINIAV_SUCCESS);
        CHECK_EQ_INT(fmt.width, 400);

        ShowWindowAsync(test_hwnd, SW_MINIMIZE);
        WAIT_FOR(atomic_load(&k.paused) > 0, 3000);
        CHECK(atomic_load(&k.paused) > 0);
        ShowWindowAsync(test_hwnd, SW_RESTORE);
        WAIT_FOR(atomic_load(&k.resumed) > 0, 3000);
        CHECK(atomic_load(&k.resumed) > 0);

        PostMessageW(test_hwnd, WM_CLOSE, 0, 0);
        WAIT_FOR(atomic_load(&k.ended) > 0, 3000);
        CHECK_EQ_INT(atomic_load(&k.ended), 1);
        CHECK_EQ_INT(k.ended_code, MINIAV_ERROR_DEVICE_LOST);
        CHECK(k.seq_ok);
        CHECK(k.ts_ok);
    }
    finish(ctx, &k);
    WaitForSingleObject(thread, 5000);

    /* --- a window of ours whose thread is busy: listing it sends it nothing (the title is
     * read without WM_GETTEXT), its capture uses no PrintWindow (which would wait for that
     * thread although the window is black), and Stop returns at once. */
    busy_ready = CreateEventW(NULL, TRUE, FALSE, NULL);
    busy_release = CreateEventW(NULL, TRUE, FALSE, NULL);
    busy_started = CreateEventW(NULL, TRUE, FALSE, NULL);
    HANDLE busy_thread = CreateThread(NULL, 0, busy_window_thread, NULL, 0, NULL);
    WaitForSingleObject(busy_ready, 5000);
    CHECK(busy_hwnd != NULL);
    Sleep(500);
    PostMessageW(busy_hwnd, WM_APP_BUSY, 0, 0);
    CHECK_EQ_INT(WaitForSingleObject(busy_started, 3000), WAIT_OBJECT_0);
    char busy_id[256];
    snprintf(busy_id, sizeof busy_id, "gdi:window:0x%llx", (unsigned long long)(uintptr_t)busy_hwnd);
    sink_init(&k);
    MiniAV_Screen_CreateContext(&ctx);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureWindow(ctx, busy_id, NULL), MINIAV_SUCCESS);
    if (run_until(ctx, &k, 3)) {
        EnterCriticalSection(&k.lock);
        CHECK_EQ_INT(k.last->data.video.width, 200);
        CHECK_EQ_INT(k.last->data.video.height, 150);
        LeaveCriticalSection(&k.lock);
    }
    /* Listed while its thread is busy and its capture runs. */
    int64_t e0 = MiniAV_GetTimeUs();
    CHECK_EQ_INT(MiniAV_Screen_EnumerateWindows(&devs, &n), MINIAV_SUCCESS);
    int64_t enum_us = MiniAV_GetTimeUs() - e0;
    bool busy_listed = false;
    for (uint32_t i = 0; i < n; i++) busy_listed = busy_listed || (!strcmp(devs[i].name, BUSY_TITLE) && !strcmp(devs[i].device_id, busy_id));
    MiniAV_FreeDeviceList(devs, n);
    printf("windows listed in %.1f ms while a window's thread is busy; busy window %s %s\n", enum_us / 1000.0, busy_id,
           busy_listed ? "listed" : "NOT listed");
    CHECK(enum_us < 2000000);
    CHECK(busy_listed);
    int64_t stop0 = MiniAV_GetTimeUs();
    MiniAV_Screen_StopCapture(ctx);
    int64_t stop_us = MiniAV_GetTimeUs() - stop0;
    printf("stopped the busy window's capture in %.1f ms\n", stop_us / 1000.0);
    CHECK(stop_us < 1000000);
    finish(ctx, &k);
    SetEvent(busy_release);
    PostMessageW(busy_hwnd, WM_CLOSE, 0, 0);
    CHECK_EQ_INT(WaitForSingleObject(busy_thread, 5000), WAIT_OBJECT_0);

    /* --- bad ids and regions */
    MiniAV_Screen_CreateContext(&ctx);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureWindow(ctx, window, NULL), MINIAV_ERROR_DEVICE_NOT_FOUND); /* closed */
    printf("closed window: %s\n", MiniAV_GetLastErrorMessage());
    CHECK_EQ_INT(MiniAV_Screen_ConfigureWindow(ctx, "gdi:window:zz", NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureDisplay(ctx, "gdi:display:\\\\.\\DISPLAY99", NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
    printf("bad display: %s\n", MiniAV_GetLastErrorMessage());
    CHECK_EQ_INT(MiniAV_Screen_ConfigureWindow(ctx, display, NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureRegion(ctx, display, 1900, 1000, 100, 100, NULL), MINIAV_ERROR_INVALID_ARG);
    printf("bad region: %s\n", MiniAV_GetLastErrorMessage());
    MiniAVVideoFormatInfo nv12 = {.pixel_format = MINIAV_PIXEL_FORMAT_NV12};
    CHECK_EQ_INT(MiniAV_Screen_ConfigureDisplay(ctx, display, &nv12), MINIAV_ERROR_FORMAT_NOT_SUPPORTED);
    MiniAVVideoFormatInfo scaled = {.width = 640, .height = 480};
    CHECK_EQ_INT(MiniAV_Screen_ConfigureDisplay(ctx, display, &scaled), MINIAV_ERROR_NOT_SUPPORTED);
    MiniAV_Screen_DestroyContext(ctx);

    /* --- drops: the test holds every buffer */
    sink_init(&k);
    k.hold_all = true;
    MiniAV_Screen_CreateContext(&ctx);
    MiniAVStreamOptions opts = {.pool_size = 2};
    CHECK_EQ_INT(MiniAV_Stream_SetOptions(ctx, &opts), MINIAV_SUCCESS);
    MiniAVVideoFormatInfo fast = {.frame_rate_numerator = 100, .frame_rate_denominator = 1};
    CHECK_EQ_INT(MiniAV_Screen_ConfigureRegion(ctx, display, 0, 0, 64, 64, &fast), MINIAV_SUCCESS);
    MiniAV_Screen_StartCapture(ctx, on_buffer, &k, NULL);
    Sleep(300);
    MiniAV_Screen_StopCapture(ctx);
    MiniAVStats st;
    MiniAV_Stream_GetStats(ctx, &st);
    printf("held all: delivered %llu dropped %llu held %llu pool %u\n", (unsigned long long)st.delivered, (unsigned long long)st.dropped,
           (unsigned long long)st.held, st.pool_size);
    CHECK_EQ_INT(st.delivered, 2);
    CHECK(st.dropped > 5);
    CHECK_EQ_INT(st.held, 2);
    MiniAV_Stream_ReleaseAll(ctx);
    MiniAV_Screen_DestroyContext(ctx);

    /* --- the default rate (30 fps) is kept */
    sink_init(&k);
    MiniAV_Screen_CreateContext(&ctx);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureDisplay(ctx, display, NULL), MINIAV_SUCCESS);
    MiniAV_Screen_StartCapture(ctx, on_buffer, &k, NULL);
    Sleep(200);
    uint64_t p0 = sink_count(&k);
    int64_t q0 = MiniAV_GetTimeUs();
    Sleep(1000);
    double paced_fps = (double)(sink_count(&k) - p0) * 1e6 / (double)(MiniAV_GetTimeUs() - q0);
    printf("gdi 1920x1080 at the default rate: %.1f fps\n", paced_fps);
    CHECK(paced_fps > 25 && paced_fps < 35);
    finish(ctx, &k);

    /* --- rate at full size, unpaced */
    sink_init(&k);
    MiniAV_Screen_CreateContext(&ctx);
    MiniAVVideoFormatInfo unlimited = {.frame_rate_numerator = MINIAV_FRAME_RATE_UNLIMITED_NUMERATOR,
                                       .frame_rate_denominator = MINIAV_FRAME_RATE_UNLIMITED_DENOMINATOR};
    CHECK_EQ_INT(MiniAV_Screen_ConfigureDisplay(ctx, display, &unlimited), MINIAV_SUCCESS);
    MiniAV_Screen_GetConfiguredFormat(ctx, &fmt);
    MiniAV_Screen_StartCapture(ctx, on_buffer, &k, NULL);
    Sleep(300);
    uint64_t c0 = sink_count(&k);
    int64_t s0 = MiniAV_GetTimeUs();
    Sleep(2000);
    uint64_t c1 = sink_count(&k);
    int64_t s1 = MiniAV_GetTimeUs();
    double fps = (double)(c1 - c0) * 1e6 / (double)(s1 - s0);
    printf("gdi %ux%u unpaced: %.1f fps, %.1f ms/frame\n", fmt.width, fmt.height, fps, fps > 0 ? 1000.0 / fps : 0);
    CHECK(c1 > c0);
    finish(ctx, &k);

    TEST_DONE();
}
