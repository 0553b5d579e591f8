/* GDI screen capture: displays, windows and regions with BitBlt, the fallback that works
 * everywhere (VMs, remote desktop sessions, Wine), where DXGI Desktop Duplication does not.
 *
 * Every pool buffer is a DIB section built over a file mapping of our own (one per slot),
 * and the buffer handed to the application is a view of that same mapping: BitBlt writes
 * the pixels where the application reads them, with no copy on our side. The mapping is a
 * little larger than the frame, so a cursor image (MINIAV_CURSOR_METADATA) can follow the
 * frame in the same buffer.
 *
 * Device ids: "gdi:display:\\.\DISPLAY1" (a monitor, by GDI device name), "gdi:desktop"
 * (the whole virtual desktop, listed when there are several monitors),
 * "gdi:window:0x<HWND>". When the dxgi backend is available it lists the displays and
 * this one lists windows only; gdi display ids still open (a user forcing gdi).
 */
#define WIN32_LEAN_AND_MEAN
#include "win32_screen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#define DEFAULT_POOL 3u
#define CURSOR_MAX 256u            /* largest cursor image kept in metadata mode (pixels per side) */
#define DISPLAY_RECHECK_US 1000000 /* how often a display stream looks for mode changes */
#ifndef PW_RENDERFULLCONTENT
#define PW_RENDERFULLCONTENT 0x00000002 /* Windows 8.1+; not in every SDK's headers */
#endif

#ifdef MINIAV_HAVE_DXGI
extern const miniav_backend miniav_dxgi_screen;
#endif
#ifdef MINIAV_HAVE_WGC
extern const miniav_backend miniav_wgc_screen;
#endif

static bool available(void) { return true; } /* user32/gdi32 are part of every Windows */

/* ------------------------------------------------------------------ displays */

/* Monitors, windows, ids and the thread's DPI awareness: win32_screen.c (shared with wgc). */

static RECT virtual_desktop(void) {
    DPI_AWARENESS_CONTEXT old = miniav_win32_dpi_enter();
    int x = GetSystemMetrics(SM_XVIRTUALSCREEN), y = GetSystemMetrics(SM_YVIRTUALSCREEN);
    RECT r = {x, y, x + GetSystemMetrics(SM_CXVIRTUALSCREEN), y + GetSystemMetrics(SM_CYVIRTUALSCREEN)};
    miniav_win32_dpi_leave(old);
    return r;
}

#define DISPLAY_PREFIX "gdi:display:"
#define WINDOW_PREFIX "gdi:window:"
#define DESKTOP_ID "gdi:desktop"

static MiniAVResultCode enumerate_displays(miniav_device_list *out, MiniAVLoopbackTargetType filter) {
    (void)filter;
    /* One list per kind of source: displays come from dxgi (faster), else wgc, and from gdi
     * only where neither runs (VMs, remote sessions, Wine) or gdi is forced. gdi: ids of
     * listed monitors open all the same. */
#ifdef MINIAV_HAVE_DXGI
    if (miniav_backend_usable(MINIAV_DEVICE_TYPE_SCREEN, &miniav_dxgi_screen)) return MINIAV_SUCCESS;
#endif
#ifdef MINIAV_HAVE_WGC
    if (miniav_backend_usable(MINIAV_DEVICE_TYPE_SCREEN, &miniav_wgc_screen)) return MINIAV_SUCCESS;
#endif
    uint32_t n;
    MiniAVResultCode r = miniav_win32_add_monitors(out, DISPLAY_PREFIX, &n);
    if (r) return r;
    /* All monitors in one frame: only worth an entry when it differs from the one monitor. */
    if (n > 1) return miniav_win32_add_display(out, DESKTOP_ID, "All displays", virtual_desktop(), false);
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ windows */

/* The client area (what window capture delivers) in screen pixels. */
static bool client_rect(HWND w, RECT *out) {
    RECT c;
    POINT origin = {0, 0};
    if (!GetClientRect(w, &c) || !ClientToScreen(w, &origin)) return false;
    *out = (RECT){origin.x, origin.y, origin.x + c.right, origin.y + c.bottom};
    return true;
}

/* Client size of a window, also when it is minimised (its client rect is 0x0 then): the
 * restored size less the frame. */
static void window_size(HWND w, uint32_t *width, uint32_t *height) {
    RECT c = {0};
    GetClientRect(w, &c);
    if (IsIconic(w)) {
        WINDOWPLACEMENT wp = {.length = sizeof wp};
        RECT frame = {0};
        if (GetWindowPlacement(w, &wp) &&
            AdjustWindowRectEx(&frame, (DWORD)GetWindowLongPtrW(w, GWL_STYLE), GetMenu(w) != NULL, (DWORD)GetWindowLongPtrW(w, GWL_EXSTYLE)))
            c = (RECT){0, 0, (wp.rcNormalPosition.right - wp.rcNormalPosition.left) - (frame.right - frame.left),
                       (wp.rcNormalPosition.bottom - wp.rcNormalPosition.top) - (frame.bottom - frame.top)};
    }
    *width = c.right > 0 ? (uint32_t)c.right : 0;
    *height = c.bottom > 0 ? (uint32_t)c.bottom : 0;
}

/* Where a listed window is, and its capture size (client area). */
static void window_geometry(HWND w, MiniAVDeviceInfo *dev) {
    RECT r;
    if (client_rect(w, &r)) dev->x = r.left, dev->y = r.top;
    window_size(w, &dev->width, &dev->height);
}

static MiniAVResultCode enumerate_windows(miniav_device_list *out) {
#ifdef MINIAV_HAVE_WGC
    /* Windows.Graphics.Capture sees windows GDI shows black (DirectX, DWM-composited): it
     * lists them where it runs; gdi:window: ids still open. */
    if (miniav_backend_usable(MINIAV_DEVICE_TYPE_SCREEN, &miniav_wgc_screen)) return MINIAV_SUCCESS;
#endif
    return miniav_win32_enumerate_windows(out, WINDOW_PREFIX, window_geometry);
}

/* ------------------------------------------------------------------ ids */

static bool owns_id(const char *id) { return id && !strncmp(id, "gdi:", 4); }

static bool parse_window_id(const char *id, HWND *w) { return miniav_win32_parse_window_id(id, WINDOW_PREFIX, w); }

/* The rectangle (virtual-screen pixels) of a display id. */
static MiniAVResultCode display_rect(const char *id, RECT *out) {
    if (!strcmp(id, DESKTOP_ID)) {
        *out = virtual_desktop();
        return MINIAV_SUCCESS;
    }
    miniav_win32_monitor mon;
    if (miniav_win32_find_monitor(id, DISPLAY_PREFIX, &mon)) {
        *out = mon.r;
        return MINIAV_SUCCESS;
    }
    return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND,
                       "no GDI display '%s'; list displays with enumerateDisplays() (ids look like gdi:display:\\\\.\\DISPLAY1; "
                       "gdi:desktop is all monitors)", id);
}

static MiniAVResultCode video_formats(const char *id, MiniAVVideoFormatInfo **formats, uint32_t *count) {
    uint32_t w, h;
    HWND hwnd;
    if (parse_window_id(id, &hwnd)) {
        if (!IsWindow(hwnd)) return miniav_win32_window_not_found(id);
        window_size(hwnd, &w, &h);
    } else {
        RECT r;
        MiniAVResultCode res = display_rect(id, &r);
        if (res) return res;
        w = (uint32_t)(r.right - r.left), h = (uint32_t)(r.bottom - r.top);
    }
    static const MiniAVPixelFormat fmts[] = {MINIAV_PIXEL_FORMAT_BGRA32, MINIAV_PIXEL_FORMAT_BGRX32, MINIAV_PIXEL_FORMAT_RGBA32};
    static const uint32_t rates[] = {30, 60};
    MiniAVVideoFormatInfo *list = calloc(6, sizeof *list);
    if (!list) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    for (int f = 0; f < 3; f++)
        for (int k = 0; k < 2; k++) list[f * 2 + k] = (MiniAVVideoFormatInfo){w, h, fmts[f], rates[k], 1, MINIAV_OUTPUT_PREFERENCE_CPU, 0};
    *formats = list;
    *count = 6;
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ buffers: DIB sections over our mappings */

typedef struct {
    HANDLE section;
    HBITMAP dib;   /* selected into the capture thread's memory DC only while it draws */
    uint8_t *mem;  /* our view of the section: what the application gets */
} gdi_buffer;

typedef struct {
    uint32_t count;
    gdi_buffer b[];
} gdi_set;

/* Runs when the pool is freed, perhaps after the stream (the last buffer released late),
 * on whatever thread released it: only frees. */
static void gdi_set_free(void *ctx) {
    gdi_set *set = ctx;
    for (uint32_t i = 0; i < set->count; i++) {
        if (set->b[i].dib) DeleteObject(set->b[i].dib);
        if (set->b[i].mem) UnmapViewOfFile(set->b[i].mem);
        if (set->b[i].section) CloseHandle(set->b[i].section);
    }
    free(set);
}

typedef struct {
    miniav_capture_thread worker;
    bool is_window;
    HWND hwnd;
    char display_id[256];   /* re-looked up for mode changes */
    bool is_region;
    RECT display;           /* the display's rectangle, virtual-screen pixels */
    uint32_t width, height; /* what is captured */
    double period_us;
    gdi_set *current;
    size_t frame_bytes;
    MiniAVCursorMode cursor;
    bool own_process;       /* the window belongs to this process: never PrintWindow (see grab_window) */
    bool use_print_window, probed;
    /* Cursor image for metadata mode, remade when the cursor changes (capture thread only). */
    HCURSOR cursor_handle;
    uint32_t cursor_w, cursor_h, hot_x, hot_y, cursor_serial;
    uint8_t *cursor_image;
} gdi_state;

/* Buffers of w x h. st->width/height/frame_bytes/current change only when it succeeds: a
 * failed resize or start leaves the old set, its size and the pool matching each other
 * (the capture thread and the next start rely on frame_bytes describing `current`). */
static MiniAVResultCode make_pool(miniav_stream *s, gdi_state *st, uint32_t w, uint32_t h) {
    uint32_t count = miniav_stream_pool_size(s, DEFAULT_POOL);
    size_t frame_bytes = (size_t)w * h * 4;
    /* Room for a cursor image after the frame, whatever the cursor mode, so the pool can
     * be made at configure, before the options of the start are known. */
    size_t size = frame_bytes + CURSOR_MAX * CURSOR_MAX * 4;
    gdi_set *set = calloc(1, sizeof *set + count * sizeof set->b[0]);
    if (!set) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    BITMAPINFO bi = {0};
    bi.bmiHeader.biSize = sizeof bi.bmiHeader;
    bi.bmiHeader.biWidth = (LONG)w;
    bi.bmiHeader.biHeight = -(LONG)h; /* top-down: row 0 first, as every MiniAV frame */
    bi.bmiHeader.biPlanes = 1;
    bi.bmiHeader.biBitCount = 32;
    bi.bmiHeader.biCompression = BI_RGB;
    for (uint32_t i = 0; i < count; i++, set->count++) {
        gdi_buffer *b = &set->b[i];
        b->section = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, (DWORD)((uint64_t)size >> 32), (DWORD)size, NULL);
        if (b->section) b->mem = MapViewOfFile(b->section, FILE_MAP_ALL_ACCESS, 0, 0, size);
        void *bits = NULL;
        if (b->mem) b->dib = CreateDIBSection(NULL, &bi, DIB_RGB_COLORS, &bits, b->section, 0);
        if (!b->dib) {
            DWORD err = GetLastError();
            set->count++;
            gdi_set_free(set);
            return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "cannot create a %ux%u capture buffer (%zu bytes, error %lu); ask for a smaller pool or region",
                               w, h, size, (unsigned long)err);
        }
        /* Touch every page now: the first frames would otherwise pay the page faults. */
        memset(b->mem, 0, size);
    }
    miniav_pool_hooks hooks = {.on_release = NULL, .on_free = gdi_set_free, .ctx = set};
    MiniAVResultCode r = miniav_stream_ensure_external_pool(s, count, &hooks);
    if (r) {
        gdi_set_free(set);
        return r;
    }
    st->current = set; /* the old set belongs to the old pool now, freed with it */
    st->width = w, st->height = h;
    st->frame_bytes = frame_bytes;
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ pixels + cursor */

/* BitBlt leaves the fourth byte undefined (0 on most drivers): bgrx is that as is, bgra
 * sets it, rgba/rgbx swap in place (a pass over the frame, counted as a copy). */
static void finish_pixels(miniav_stream *s, uint8_t *mem, size_t pixels, MiniAVPixelFormat fmt) {
    uint32_t *p = (uint32_t *)mem;
    if (fmt == MINIAV_PIXEL_FORMAT_BGRX32) return;
    if (fmt == MINIAV_PIXEL_FORMAT_RGBA32 || fmt == MINIAV_PIXEL_FORMAT_RGBX32) {
        for (size_t i = 0; i < pixels; i++) {
            uint32_t v = p[i];
            p[i] = (v & 0x0000ff00u) | ((v >> 16) & 0xffu) | ((v & 0xffu) << 16) | 0xff000000u;
        }
        atomic_fetch_add(&s->copies, 1);
    } else {
        for (size_t i = 0; i < pixels; i++) p[i] |= 0xff000000u;
    }
}

/* A cursor's size and hotspot (GetIconInfo hands out copies of its bitmaps: freed here). */
static bool cursor_geometry(HCURSOR c, uint32_t *w, uint32_t *h, uint32_t *hx, uint32_t *hy) {
    ICONINFO ii;
    if (!GetIconInfo(c, &ii)) return false;
    BITMAP bm = {0};
    bool ok = GetObjectW(ii.hbmColor ? ii.hbmColor : ii.hbmMask, sizeof bm, &bm) != 0;
    *w = (uint32_t)bm.bmWidth;
    *h = (uint32_t)(ii.hbmColor ? bm.bmHeight : bm.bmHeight / 2); /* monochrome: AND mask over XOR mask */
    *hx = ii.xHotspot, *hy = ii.yHotspot;
    if (ii.hbmColor) DeleteObject(ii.hbmColor);
    if (ii.hbmMask) DeleteObject(ii.hbmMask);
    return ok;
}

/* Premultiplied BGRA image of a cursor of any kind (alpha, masked, monochrome): drawn once
 * on black and once on white; alpha = 255 - (white - black), colour = the one on black. */
static bool render_cursor(gdi_state *st, HDC memdc, HCURSOR c) {
    uint32_t w = st->cursor_w < CURSOR_MAX ? st->cursor_w : CURSOR_MAX, h = st->cursor_h < CURSOR_MAX ? st->cursor_h : CURSOR_MAX;
    if (!w || !h) return false;
    if (!st->cursor_image && !(st->cursor_image = malloc(CURSOR_MAX * CURSOR_MAX * 4))) return false;
    BITMAPINFO bi = {0};
    bi.bmiHeader = (BITMAPINFOHEADER){.biSize = sizeof bi.bmiHeader, .biWidth = (LONG)w, .biHeight = -(LONG)h, .biPlanes = 1,
                                      .biBitCount = 32, .biCompression = BI_RGB};
    uint8_t *on[2] = {NULL, NULL};
    HBITMAP bm[2];
    bm[0] = CreateDIBSection(NULL, &bi, DIB_RGB_COLORS, (void **)&on[0], NULL, 0);
    bm[1] = CreateDIBSection(NULL, &bi, DIB_RGB_COLORS, (void **)&on[1], NULL, 0);
    bool ok = bm[0] && bm[1];
    for (int k = 0; ok && k < 2; k++) {
        memset(on[k], k ? 0xff : 0x00, (size_t)w * h * 4);
        HGDIOBJ old = SelectObject(memdc, bm[k]);
        ok = DrawIconEx(memdc, 0, 0, c, 0, 0, 0, NULL, DI_NORMAL);
        SelectObject(memdc, old);
    }
    GdiFlush();
    for (size_t i = 0; ok && i < (size_t)w * h; i++) {
        int diff = 0;
        for (int ch = 0; ch < 3; ch++) diff += on[1][i * 4 + ch] - on[0][i * 4 + ch];
        int a = 255 - diff / 3;
        a = a < 0 ? 0 : a > 255 ? 255 : a;
        for (int ch = 0; ch < 3; ch++) {
            int v = on[0][i * 4 + ch];
            st->cursor_image[i * 4 + ch] = (uint8_t)(v > a ? a : v);
        }
        st->cursor_image[i * 4 + 3] = (uint8_t)a;
    }
    if (bm[0]) DeleteObject(bm[0]);
    if (bm[1]) DeleteObject(bm[1]);
    st->cursor_w = w, st->cursor_h = h;
    return ok;
}

/* Screen position of the captured area's top-left pixel. */
static POINT capture_origin(const gdi_state *st, int32_t region_x, int32_t region_y) {
    POINT p = {st->display.left + (st->is_region ? region_x : 0), st->display.top + (st->is_region ? region_y : 0)};
    if (st->is_window) {
        p.x = p.y = 0;
        ClientToScreen(st->hwnd, &p);
    }
    return p;
}

/* Composite: DrawIconEx straight into the frame (memdc has the slot's DIB selected).
 * Metadata: position + image after the frame. */
static void apply_cursor(miniav_stream *s, gdi_state *st, HDC memdc, MiniAVBuffer *b, uint8_t *mem) {
    CURSORINFO ci = {.cbSize = sizeof ci};
    if (!GetCursorInfo(&ci) || !(ci.flags & CURSOR_SHOWING) || !ci.hCursor) return;
    if (ci.hCursor != st->cursor_handle) {
        st->cursor_handle = NULL;
        uint32_t w, h;
        if (!cursor_geometry(ci.hCursor, &w, &h, &st->hot_x, &st->hot_y)) return;
        /* Clamped in every mode: the size is what metadata copies into the CURSOR_MAX²
         * room after the frame. */
        st->cursor_w = w < CURSOR_MAX ? w : CURSOR_MAX, st->cursor_h = h < CURSOR_MAX ? h : CURSOR_MAX;
        if (st->cursor == MINIAV_CURSOR_METADATA && !render_cursor(st, memdc, ci.hCursor)) return;
        st->cursor_handle = ci.hCursor;
        st->cursor_serial++;
    }
    POINT origin = capture_origin(st, s->region_x, s->region_y);
    int32_t x = ci.ptScreenPos.x - origin.x, y = ci.ptScreenPos.y - origin.y;
    if (st->cursor == MINIAV_CURSOR_COMPOSITE) {
        DrawIconEx(memdc, x - (int)st->hot_x, y - (int)st->hot_y, ci.hCursor, 0, 0, 0, NULL, DI_NORMAL);
        return;
    }
    /* No image for this cursor (start() clears the cache, so a cursor cached here was
     * rendered in this run; this only guards the copy below). */
    if (!st->cursor_image || st->cursor_w > CURSOR_MAX || st->cursor_h > CURSOR_MAX) return;
    MiniAVCursorInfo *c = &b->data.video.cursor;
    c->x = x, c->y = y;
    c->visible = x >= 0 && y >= 0 && (uint32_t)x < st->width && (uint32_t)y < st->height;
    c->hot_x = st->hot_x, c->hot_y = st->hot_y;
    c->width = st->cursor_w, c->height = st->cursor_h;
    c->serial = st->cursor_serial;
    memcpy(mem + st->frame_bytes, st->cursor_image, (size_t)c->width * c->height * 4);
    c->image = mem + st->frame_bytes;
}

/* ------------------------------------------------------------------ capture */

/* True when the frame looks all black (sampled: this decides a fallback, once). */
static bool looks_black(const uint8_t *mem, uint32_t w, uint32_t h) {
    const uint32_t *p = (const uint32_t *)mem;
    for (uint32_t j = 0; j < 16; j++)
        for (uint32_t i = 0; i < 16; i++)
            if (p[(size_t)(h * j / 16 + h / 32) * w + w * i / 16 + w / 32] & 0x00ffffffu) return false;
    return true;
}

/* Window capture. BitBlt from the window's DC is fast and right for windows drawn with
 * GDI, and under Wine. With the DWM, windows that draw with DirectX (flip model, most
 * browsers and games) come out black that way; PrintWindow with PW_RENDERFULLCONTENT
 * (8.1+) asks the DWM for what it composes, at the price of a slower call that makes
 * the window repaint. So: BitBlt, and if the first frame is all black, try PrintWindow
 * once; if that gives content, use it for the rest of the stream. A window that is
 * really black costs one PrintWindow.
 *
 * Never for a window of this process: PrintWindow sends WM_PRINT and waits for the
 * window's thread to answer; if that thread is the application's UI thread and it calls
 * Stop (which joins this thread), neither would ever go on. BitBlt sends nothing, so a
 * window of ours is captured that way only (black if it draws with DirectX).
 *
 * UNVERIFIED (no scaled display here): a DPI-unaware window on a scaled monitor. This
 * thread is per-monitor aware, so the client size is in physical pixels, while the
 * window's DC may be its logical (unscaled) surface: the frame would then have the
 * window in its top-left part only. Measuring with the window's own awareness
 * (GetWindowDpiAwarenessContext around GetClientRect) or using PrintWindow for such
 * windows would be the fix; check on Windows with 125-200 % scaling first. */
static bool grab_window(gdi_state *st, HDC memdc, uint8_t *mem) {
    if (st->use_print_window && !st->own_process) return PrintWindow(st->hwnd, memdc, PW_CLIENTONLY | PW_RENDERFULLCONTENT);
    HDC wdc = GetDC(st->hwnd);
    if (!wdc) return false;
    BOOL ok = BitBlt(memdc, 0, 0, (int)st->width, (int)st->height, wdc, 0, 0, SRCCOPY);
    ReleaseDC(st->hwnd, wdc);
    if (ok && !st->probed && st->width >= 32 && st->height >= 32) {
        st->probed = true;
        if (st->own_process) { /* no PrintWindow (above) */
            GdiFlush();
            if (looks_black(mem, st->width, st->height))
                miniav_log(MINIAV_LOG_LEVEL_INFO, "gdi: window %p of this process looks black (drawn with DirectX?); PrintWindow is not "
                           "used for the process's own windows (it waits for their UI thread)", (void *)st->hwnd);
            return ok;
        }
        GdiFlush();
        if (looks_black(mem, st->width, st->height) && PrintWindow(st->hwnd, memdc, PW_CLIENTONLY | PW_RENDERFULLCONTENT)) {
            GdiFlush();
            st->use_print_window = !looks_black(mem, st->width, st->height);
            if (st->use_print_window) miniav_log(MINIAV_LOG_LEVEL_INFO, "gdi: window %p draws with DirectX; capturing it with PrintWindow", (void *)st->hwnd);
        }
    }
    return ok;
}

/* Displays and regions: the screen DC. CAPTUREBLT includes layered windows (menus,
 * tooltips, many modern apps) that a plain SRCCOPY would leave out. */
static bool grab_screen(miniav_stream *s, gdi_state *st, HDC screen, HDC memdc) {
    int x = st->display.left + (st->is_region ? s->region_x : 0), y = st->display.top + (st->is_region ? s->region_y : 0);
    return BitBlt(memdc, 0, 0, (int)st->width, (int)st->height, screen, x, y, SRCCOPY | CAPTUREBLT);
}

/* A new size for the stream's buffers (window resized, display mode changed). */
static bool resize(miniav_stream *s, gdi_state *st, uint32_t w, uint32_t h, const char *what) {
    if (make_pool(s, st, w, h)) { /* st keeps the old size and buffers */
        miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_OUT_OF_MEMORY, "cannot allocate buffers for the new size %ux%u: %s", w, h,
                           MiniAV_GetLastErrorMessage());
        return false;
    }
    s->video.width = w, s->video.height = h;
    st->probed = false;
    miniav_stream_emit(s, MINIAV_EVENT_FORMAT_CHANGED, MINIAV_SUCCESS, "%s is now %ux%u", what, w, h);
    return true;
}

/* Window state before a frame: false when the stream must end. */
static bool check_window(miniav_stream *s, gdi_state *st, bool *paused) {
    if (!IsWindow(st->hwnd)) {
        miniav_stream_emit(s, MINIAV_EVENT_ENDED, MINIAV_ERROR_DEVICE_LOST, "window %s was closed", s->device_id);
        return false;
    }
    RECT c = {0};
    GetClientRect(st->hwnd, &c);
    bool hidden = IsIconic(st->hwnd) || !IsWindowVisible(st->hwnd) || c.right <= 0 || c.bottom <= 0;
    if (hidden != *paused) {
        *paused = hidden;
        if (hidden)
            miniav_stream_emit(s, MINIAV_EVENT_SOURCE_PAUSED, MINIAV_SUCCESS, "window %s was minimised or hidden", s->device_id);
        else
            miniav_stream_emit(s, MINIAV_EVENT_SOURCE_RESUMED, MINIAV_SUCCESS, "window %s is visible again", s->device_id);
    }
    if (hidden) return true;
    if ((uint32_t)c.right != st->width || (uint32_t)c.bottom != st->height) return resize(s, st, (uint32_t)c.right, (uint32_t)c.bottom, "the window");
    return true;
}

/* Display modes change rarely: looked at once a second. False when the stream must end. */
static bool check_display(miniav_stream *s, gdi_state *st) {
    RECT r;
    if (display_rect(st->display_id, &r)) {
        miniav_stream_emit(s, MINIAV_EVENT_ENDED, MINIAV_ERROR_DEVICE_LOST, "display %s was disconnected", st->display_id);
        return false;
    }
    uint32_t w = (uint32_t)(r.right - r.left), h = (uint32_t)(r.bottom - r.top);
    st->display = r;
    if (st->is_region) {
        if ((uint64_t)s->region_x + st->width > w || (uint64_t)s->region_y + st->height > h) {
            miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_FORMAT_NOT_SUPPORTED,
                               "display %s is now %ux%u: the region %ux%u at (%d,%d) no longer fits", st->display_id, w, h, st->width,
                               st->height, s->region_x, s->region_y);
            return false;
        }
        return true;
    }
    if (w != st->width || h != st->height) return resize(s, st, w, h, "the display");
    return true;
}

static void *capture_thread(void *arg) {
    miniav_stream *s = arg;
    gdi_state *st = s->backend_data;
    /* GDI only: no COM on this thread. */
    DPI_AWARENESS_CONTEXT old_dpi = miniav_win32_dpi_enter();
    HDC screen = GetDC(NULL);
    HDC memdc = screen ? CreateCompatibleDC(screen) : NULL;
    if (!memdc) {
        miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_SYSTEM_CALL_FAILED, "cannot get a device context for the screen (error %lu)",
                           (unsigned long)GetLastError());
        goto out;
    }
    miniav_pacer pacer;
    miniav_pacer_init(&pacer, st->period_us);
    bool paused = false, failing = false;
    int64_t next_display_check = MiniAV_GetTimeUs() + DISPLAY_RECHECK_US;
    while (miniav_pacer_wait(&pacer, &st->worker.stop)) {
        if (st->is_window) {
            if (!check_window(s, st, &paused)) break;
        } else if (MiniAV_GetTimeUs() >= next_display_check) {
            next_display_check = MiniAV_GetTimeUs() + DISPLAY_RECHECK_US;
            if (!check_display(s, st)) break;
        }
        if (paused) {
            atomic_fetch_add(&s->skipped, 1);
            if (st->period_us == 0) miniav_sleep_until(MiniAV_GetTimeUs() + 10000, &st->worker.stop);
            continue;
        }
        miniav_slot *slot = miniav_stream_acquire(s);
        if (!slot) {
            if (st->period_us == 0) miniav_sleep_until(MiniAV_GetTimeUs() + 1000, &st->worker.stop); /* don't spin */
            continue;
        }
        gdi_buffer *gb = &st->current->b[slot->index];
        MiniAVBuffer *b = &slot->buffer;
        memset(b, 0, sizeof *b);
        int64_t ts = MiniAV_GetTimeUs();
        HGDIOBJ old = SelectObject(memdc, gb->dib);
        bool ok = st->is_window ? grab_window(st, memdc, gb->mem) : grab_screen(s, st, screen, memdc);
        if (ok && st->cursor != MINIAV_CURSOR_NONE) apply_cursor(s, st, memdc, b, gb->mem);
        SelectObject(memdc, old);
        GdiFlush(); /* the pixels are in memory before the application sees them */
        if (!ok) {
            /* The window or desktop cannot be read right now (secure desktop, a window
             * going away): skipped; said once per spell. */
            miniav_stream_abandon(s, slot);
            atomic_fetch_add(&s->skipped, 1);
            if (!failing) miniav_log(MINIAV_LOG_LEVEL_WARN, "gdi: cannot read %s (error %lu); skipping frames", s->device_id, (unsigned long)GetLastError());
            failing = true;
            continue;
        }
        failing = false;
        finish_pixels(s, gb->mem, (size_t)st->width * st->height, s->video.pixel_format);
        b->type = MINIAV_BUFFER_TYPE_VIDEO;
        b->content_type = MINIAV_BUFFER_CONTENT_TYPE_CPU;
        b->timestamp_us = ts;
        b->data.video.width = st->width;
        b->data.video.height = st->height;
        b->data.video.pixel_format = s->video.pixel_format;
        b->data.video.num_planes = 1;
        b->data.video.planes[0] = gb->mem;
        b->data.video.stride_bytes[0] = st->width * 4;
        b->data.video.plane_size_bytes[0] = st->frame_bytes;
        b->data.video.native_gpu_dmabuf_fd = -1;
        b->data_size_bytes = st->frame_bytes;
        miniav_stream_deliver(s, slot);
    }
out:
    if (memdc) DeleteDC(memdc);
    if (screen) ReleaseDC(NULL, screen);
    miniav_win32_dpi_leave(old_dpi);
    return NULL;
}

/* ------------------------------------------------------------------ backend functions */

static MiniAVResultCode configure(miniav_stream *s) {
    MiniAVVideoFormatInfo f = s->requested_video;
    gdi_state *st = calloc(1, sizeof *st);
    if (!st) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    MiniAVResultCode r;
    HWND hwnd;
    if (s->screen_target == MINIAV_SCREEN_TARGET_WINDOW) {
        if (!parse_window_id(s->device_id, &hwnd)) {
            r = miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "'%s' is not a window id (gdi:window:0x...); list windows with enumerateWindows()", s->device_id);
            goto fail;
        }
        if (!IsWindow(hwnd)) {
            r = miniav_win32_window_not_found(s->device_id);
            goto fail;
        }
        st->is_window = true;
        st->hwnd = hwnd;
        DWORD pid = 0;
        GetWindowThreadProcessId(hwnd, &pid);
        st->own_process = pid == GetCurrentProcessId();
        DPI_AWARENESS_CONTEXT old = miniav_win32_dpi_enter();
        window_size(hwnd, &st->width, &st->height);
        miniav_win32_dpi_leave(old);
        if (!st->width || !st->height) {
            r = miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "window %s has no client area (0x0) to capture", s->device_id);
            goto fail;
        }
    } else {
        if (parse_window_id(s->device_id, &hwnd)) {
            r = miniav_fail(MINIAV_ERROR_INVALID_ARG, "'%s' is a window: open it with { window: id }", s->device_id);
            goto fail;
        }
        r = display_rect(s->device_id, &st->display);
        if (r) goto fail;
        miniav_copy_string(st->display_id, sizeof st->display_id, s->device_id);
        uint32_t dw = (uint32_t)(st->display.right - st->display.left), dh = (uint32_t)(st->display.bottom - st->display.top);
        st->width = dw, st->height = dh;
        if (s->screen_target == MINIAV_SCREEN_TARGET_REGION) {
            r = miniav_screen_check_region(s, dw, dh, "display", s->device_id);
            if (r) goto fail;
            st->is_region = true;
            st->width = s->region_width, st->height = s->region_height;
        }
    }
    r = miniav_screen_resolve_format(&f, st->width, st->height, "gdi", "bgra, bgrx (fastest: as GDI writes it), rgba or rgbx (one more pass)",
                                     "no GPU output (BitBlt writes CPU memory); delivering CPU buffers (the dxgi backend has GPU output)",
                                     &st->period_us);
    if (r) goto fail;
    s->video = f;
    s->backend_data = st;
    /* Buffers now, so start() is quick and the first frame comes soon after it. */
    r = make_pool(s, st, st->width, st->height);
    if (r) {
        s->backend_data = NULL;
        goto fail;
    }
    return MINIAV_SUCCESS;
fail:
    free(st);
    return r;
}

static MiniAVResultCode start(miniav_stream *s) {
    gdi_state *st = s->backend_data;
    if (s->screen_options.skip_unchanged)
        return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "GDI cannot tell which frames changed: leave skip_unchanged off, or use the dxgi backend, which can");
    uint32_t w = st->width, h = st->height;
    if (st->is_window) {
        if (!IsWindow(st->hwnd)) return miniav_fail(MINIAV_ERROR_DEVICE_LOST, "window %s is gone (closed since configure)", s->device_id);
        uint32_t ww, wh;
        DPI_AWARENESS_CONTEXT old = miniav_win32_dpi_enter();
        window_size(st->hwnd, &ww, &wh);
        miniav_win32_dpi_leave(old);
        if (ww && wh) w = ww, h = wh;
    }
    /* The pool from configure, unless the window's size or the pool size changed since. */
    if (!st->current || st->width != w || st->height != h || st->frame_bytes != (size_t)w * h * 4 ||
        st->current->count != miniav_stream_pool_size(s, DEFAULT_POOL)) {
        MiniAVResultCode r = make_pool(s, st, w, h);
        if (r) return r;
    }
    s->video.width = st->width, s->video.height = st->height;
    st->cursor = s->screen_options.cursor;
    /* The cursor cache belongs to one run: a new run, perhaps in another cursor mode (the
     * composite mode keeps no image), measures and renders the cursor again. */
    st->cursor_handle = NULL;
    st->probed = st->use_print_window = false;
    return miniav_capture_thread_start(&st->worker, capture_thread, s);
}

static void stop(miniav_stream *s) {
    gdi_state *st = s->backend_data;
    miniav_capture_thread_stop(&st->worker);
}

static void destroy(miniav_stream *s) {
    gdi_state *st = s->backend_data;
    if (!st) return;
    /* The buffers go with the pool, which may outlive this (held buffers). */
    free(st->cursor_image);
    free(st);
}

const miniav_backend miniav_gdi_screen = {
    .name = "gdi", .type = MINIAV_DEVICE_TYPE_SCREEN, .available = available,
    .enumerate = enumerate_displays, .enumerate_windows = enumerate_windows, .owns_id = owns_id,
    .video_formats = video_formats, .configure = configure, .start = start, .stop = stop, .destroy = destroy,
};
