/* What the Windows screen backends (gdi.c, wgc.cpp) share about monitors and windows:
 * per-monitor DPI awareness on the calling thread, the monitor list, the application
 * window filter and description, window ids. C, callable from C++ (wgc.cpp includes
 * miniav_internal.h itself first, in an extern "C" block, with its atomic types). */
#ifndef MINIAV_WIN32_SCREEN_H
#define MINIAV_WIN32_SCREEN_H

#include "../common/miniav_internal.h"

#include <windows.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MINIAV_WIN32_MAX_MONITORS 32u

/* A process that is not DPI-aware sees scaled ("virtualised") coordinates and gets a
 * scaled screen from BitBlt. The process's awareness is the application's choice, so only
 * the calling thread's is changed, to per-monitor aware, until the matching leave
 * (Windows 10 1607+; looked up by name so older ones still run). */
DPI_AWARENESS_CONTEXT miniav_win32_dpi_enter(void);
void miniav_win32_dpi_leave(DPI_AWARENESS_CONTEXT old);

/* DwmGetWindowAttribute, loaded (not linked) on first use; E_NOTIMPL without dwmapi. */
HRESULT miniav_win32_dwm_attribute(HWND w, DWORD attribute, void *value, DWORD size);

typedef struct {
    HMONITOR handle;
    char name[64]; /* GDI device name, UTF-8 ("\\.\DISPLAY1") */
    RECT r;        /* in virtual-screen pixels */
    bool primary;
} miniav_win32_monitor;

/* The monitors (at most MINIAV_WIN32_MAX_MONITORS), in physical pixels. */
uint32_t miniav_win32_list_monitors(miniav_win32_monitor out[MINIAV_WIN32_MAX_MONITORS]);
/* The monitor of id "<prefix><GDI device name>"; false when id has another prefix or no
 * monitor has that name. */
bool miniav_win32_find_monitor(const char *id, const char *prefix, miniav_win32_monitor *out);
/* A display entry: "<name> (<w>x<h>)", at r. */
MiniAVResultCode miniav_win32_add_display(miniav_device_list *out, const char *id, const char *name, RECT r, bool primary);
/* One entry per monitor, ids "<prefix><GDI device name>"; *count: how many monitors. */
MiniAVResultCode miniav_win32_add_monitors(miniav_device_list *out, const char *prefix, uint32_t *count);

/* A window's title without sending it a message (never WM_GETTEXT: see win32_screen.c);
 * the length, 0 when it has none. */
int miniav_win32_window_title(HWND w, wchar_t *text, int size);
/* What a user would call an application window: visible, titled, not a tool window, an
 * owned popup, the desktop or cloaked. */
bool miniav_win32_is_app_window(HWND w);
/* Lists the application windows (in physical pixels): id "<prefix>0x<HWND>", title, class
 * and process; `geometry` sets the position and size the backend captures. */
MiniAVResultCode miniav_win32_enumerate_windows(miniav_device_list *out, const char *prefix, void (*geometry)(HWND w, MiniAVDeviceInfo *dev));

/* "<prefix>0x<HWND>" (any strtoull number but 0) → the HWND. */
bool miniav_win32_parse_window_id(const char *id, const char *prefix, HWND *w);
MiniAVResultCode miniav_win32_window_not_found(const char *id);

#ifdef __cplusplus
}
#endif

#endif
