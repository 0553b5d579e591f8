/* Monitors, windows, ids and DPI for the Windows screen backends (gdi.c, wgc.cpp). */
#define WIN32_LEAN_AND_MEAN
#include "win32_screen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ DPI, dwmapi */

typedef DPI_AWARENESS_CONTEXT(WINAPI *set_thread_dpi_fn)(DPI_AWARENESS_CONTEXT);
static set_thread_dpi_fn set_thread_dpi;
static INIT_ONCE dpi_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK load_dpi(PINIT_ONCE once, PVOID param, PVOID *ctx) {
    (void)once, (void)param, (void)ctx;
    HMODULE user32 = GetModuleHandleW(L"user32.dll");
    if (user32) set_thread_dpi = (set_thread_dpi_fn)(void (*)(void))GetProcAddress(user32, "SetThreadDpiAwarenessContext");
    return TRUE;
}

DPI_AWARENESS_CONTEXT miniav_win32_dpi_enter(void) {
    InitOnceExecuteOnce(&dpi_once, load_dpi, NULL, NULL);
    return set_thread_dpi ? set_thread_dpi(DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2) : NULL;
}

void miniav_win32_dpi_leave(DPI_AWARENESS_CONTEXT old) {
    if (set_thread_dpi && old) set_thread_dpi(old);
}

typedef HRESULT(WINAPI *dwm_get_attribute_fn)(HWND, DWORD, PVOID, DWORD);
static dwm_get_attribute_fn dwm_get_attribute;
static INIT_ONCE dwm_once = INIT_ONCE_STATIC_INIT;

/* dwmapi is loaded, not linked: only window attributes are asked of it. */
static BOOL CALLBACK load_dwm(PINIT_ONCE once, PVOID param, PVOID *ctx) {
    (void)once, (void)param, (void)ctx;
    /* System32 only: dwmapi is no KnownDLL, and the application's folder is not trusted. */
    HMODULE dwm = LoadLibraryExW(L"dwmapi.dll", NULL, LOAD_LIBRARY_SEARCH_SYSTEM32); /* kept for the life of the process */
    if (dwm) dwm_get_attribute = (dwm_get_attribute_fn)(void (*)(void))GetProcAddress(dwm, "DwmGetWindowAttribute");
    return TRUE;
}

HRESULT miniav_win32_dwm_attribute(HWND w, DWORD attribute, void *value, DWORD size) {
    InitOnceExecuteOnce(&dwm_once, load_dwm, NULL, NULL);
    return dwm_get_attribute ? dwm_get_attribute(w, attribute, value, size) : E_NOTIMPL;
}

/* ------------------------------------------------------------------ monitors */

typedef struct {
    miniav_win32_monitor *items;
    uint32_t count;
} monitor_list;

static BOOL CALLBACK monitor_cb(HMONITOR m, HDC dc, LPRECT rc, LPARAM param) {
    (void)dc, (void)rc;
    monitor_list *list = (monitor_list *)param;
    if (list->count >= MINIAV_WIN32_MAX_MONITORS) return FALSE;
    MONITORINFOEXW mi;
    memset(&mi, 0, sizeof mi);
    mi.cbSize = sizeof mi;
    if (!GetMonitorInfoW(m, (MONITORINFO *)&mi)) return TRUE;
    miniav_win32_monitor *g = &list->items[list->count++];
    g->handle = m;
    miniav_utf16_to_utf8(g->name, sizeof g->name, mi.szDevice);
    g->r = mi.rcMonitor;
    g->primary = (mi.dwFlags & MONITORINFOF_PRIMARY) != 0;
    return TRUE;
}

uint32_t miniav_win32_list_monitors(miniav_win32_monitor out[MINIAV_WIN32_MAX_MONITORS]) {
    monitor_list list = {out, 0};
    DPI_AWARENESS_CONTEXT old = miniav_win32_dpi_enter();
    EnumDisplayMonitors(NULL, NULL, monitor_cb, (LPARAM)&list);
    miniav_win32_dpi_leave(old);
    return list.count;
}

bool miniav_win32_find_monitor(const char *id, const char *prefix, miniav_win32_monitor *out) {
    if (strncmp(id, prefix, strlen(prefix))) return false;
    miniav_win32_monitor mons[MINIAV_WIN32_MAX_MONITORS];
    uint32_t n = miniav_win32_list_monitors(mons);
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(mons[i].name, id + strlen(prefix))) {
            *out = mons[i];
            return true;
        }
    return false;
}

MiniAVResultCode miniav_win32_add_display(miniav_device_list *out, const char *id, const char *name, RECT r, bool primary) {
    MiniAVDeviceInfo *dev = miniav_device_list_add(out);
    if (!dev) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    miniav_copy_string(dev->device_id, sizeof dev->device_id, id);
    snprintf(dev->name, sizeof dev->name, "%s (%ldx%ld)", name, (long)(r.right - r.left), (long)(r.bottom - r.top));
    dev->is_default = primary;
    dev->x = r.left, dev->y = r.top;
    dev->width = (uint32_t)(r.right - r.left), dev->height = (uint32_t)(r.bottom - r.top);
    return MINIAV_SUCCESS;
}

MiniAVResultCode miniav_win32_add_monitors(miniav_device_list *out, const char *prefix, uint32_t *count) {
    miniav_win32_monitor mons[MINIAV_WIN32_MAX_MONITORS];
    uint32_t n = miniav_win32_list_monitors(mons);
    *count = n;
    for (uint32_t i = 0; i < n; i++) {
        char id[128];
        snprintf(id, sizeof id, "%s%s", prefix, mons[i].name);
        MiniAVResultCode r = miniav_win32_add_display(out, id, mons[i].name, mons[i].r, mons[i].primary);
        if (r) return r;
    }
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ windows */

/* GetWindowText(Length)W send WM_GETTEXT to windows of this process, which waits for the
 * window's thread: enumerating from another thread (a device watch) while that UI thread
 * waits for us (Stop, Unwatch) would deadlock. InternalGetWindowText reads the title the
 * system keeps, never sends. */
int miniav_win32_window_title(HWND w, wchar_t *text, int size) {
    text[0] = 0;
    int n = InternalGetWindowText(w, text, size);
    return n > 0 ? n : 0;
}

/* Cloaked windows (other virtual desktops, suspended UWP apps) are "visible" but never on screen. */
static bool is_cloaked(HWND w) {
    DWORD cloaked = 0;
    return SUCCEEDED(miniav_win32_dwm_attribute(w, 14 /* DWMWA_CLOAKED */, &cloaked, sizeof cloaked)) && cloaked;
}

/* Owned popups are left out: dialogs of a listed window, unless they ask for a taskbar
 * button. */
bool miniav_win32_is_app_window(HWND w) {
    wchar_t title[2];
    if (!IsWindowVisible(w) || miniav_win32_window_title(w, title, 2) == 0) return false;
    LONG_PTR ex = GetWindowLongPtrW(w, GWL_EXSTYLE);
    if (ex & WS_EX_TOOLWINDOW) return false;
    if (GetWindow(w, GW_OWNER) && !(ex & WS_EX_APPWINDOW)) return false;
    wchar_t cls[64];
    if (GetClassNameW(w, cls, 64) && !wcscmp(cls, L"Progman")) return false; /* the desktop itself */
    return !is_cloaked(w);
}

typedef struct {
    miniav_device_list *out;
    const char *prefix;
    void (*geometry)(HWND w, MiniAVDeviceInfo *dev);
    MiniAVResultCode r;
} window_ctx;

static BOOL CALLBACK window_cb(HWND w, LPARAM param) {
    window_ctx *ctx = (window_ctx *)param;
    if (!miniav_win32_is_app_window(w)) return TRUE;
    MiniAVDeviceInfo *dev = miniav_device_list_add(ctx->out);
    if (!dev) {
        ctx->r = miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
        return FALSE;
    }
    snprintf(dev->device_id, sizeof dev->device_id, "%s0x%llx", ctx->prefix, (unsigned long long)(uintptr_t)w);
    wchar_t text[256];
    miniav_win32_window_title(w, text, 256);
    miniav_utf16_to_utf8(dev->name, sizeof dev->name, text);
    text[0] = 0;
    GetClassNameW(w, text, 256);
    miniav_utf16_to_utf8(dev->class_name, sizeof dev->class_name, text);
    DWORD pid = 0;
    GetWindowThreadProcessId(w, &pid);
    dev->process_id = pid;
    ctx->geometry(w, dev);
    return TRUE;
}

MiniAVResultCode miniav_win32_enumerate_windows(miniav_device_list *out, const char *prefix, void (*geometry)(HWND w, MiniAVDeviceInfo *dev)) {
    window_ctx ctx = {out, prefix, geometry, MINIAV_SUCCESS};
    DPI_AWARENESS_CONTEXT old = miniav_win32_dpi_enter();
    EnumWindows(window_cb, (LPARAM)&ctx);
    miniav_win32_dpi_leave(old);
    return ctx.r;
}

/* ------------------------------------------------------------------ ids */

bool miniav_win32_parse_window_id(const char *id, const char *prefix, HWND *w) {
    if (strncmp(id, prefix, strlen(prefix))) return false;
    const char *num = id + strlen(prefix);
    if (!*num) return false;
    char *end;
    unsigned long long v = strtoull(num, &end, 0);
    if (*end || v == 0) return false;
    *w = (HWND)(uintptr_t)v;
    return true;
}

MiniAVResultCode miniav_win32_window_not_found(const char *id) {
    return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "no window %s (closed?); list windows with enumerateWindows()", id);
}
