/* Windows.Graphics.Capture (WGC): windows and displays, Windows 10 1903+.
 *
 * UNTESTED. This file is compiled with -Werror by mingw-w64 but has never run a capture:
 * the project's Windows rig is Wine 8, which has no Windows.Graphics.Capture at all
 * (RoGetActivationFactory for GraphicsCaptureSession fails: class not registered). What
 * was verified: it compiles (-std=c++17 -Wall -Wextra -Werror -fno-exceptions), it links
 * into the static library without the C++ runtime, and available() answers false under
 * the Wine rig, with a reason. Check on real Windows before trusting anything else: the
 * hand-written ABI declarations below (vtable order, IIDs, struct-by-value SizeInt32),
 * the frame loop, window close/resize, the GPU output path.
 *
 * Why C++ and hand-written interfaces: mingw-w64 10 ships no WinRT headers for
 * Windows.Graphics.Capture or Windows.Graphics.DirectX.Direct3D11. The few ABI interfaces
 * used are declared here as abstract structs with the Windows SDK ABI headers' IIDs and
 * method order (windows.graphics.capture.h, windows.graphics.directx.direct3d11.h,
 * windows.foundation.h, windows.graphics.capture.interop.h,
 * windows.graphics.directx.direct3d11.interop.h). They are only called through, never
 * implemented, so no vtable, RTTI or C++ runtime symbol is emitted for them. The two event
 * delegates we do implement are plain COM objects with a C-style vtable (below), for the
 * same reason: the object file needs neither libstdc++ nor libsupc++.
 *
 * Nothing is linked that Windows 7/8 lack: combase.dll (RoGetActivationFactory,
 * WindowsCreateStringReference, CoIncrementMTAUsage) and d3d11.dll's
 * CreateDirect3D11DeviceFromDXGIDevice are looked up with GetProcAddress.
 *
 * How it works: a GraphicsCaptureItem for the window (CreateForWindow) or monitor
 * (CreateForMonitor), a free-threaded frame pool of 2 B8G8R8A8 buffers on our own D3D11
 * device, a session. FrameArrived (on a system worker thread) only sets an event; our
 * capture thread takes the newest frame (TryGetNextFrame), copies it on the GPU into the
 * last-image texture and closes the frame at once, so the pool never runs dry:
 *  - CPU output: the last image is a staging texture; a delivery maps it and copies the
 *    rows into a pool buffer (one copy, counted: the image is GPU memory);
 *  - GPU output (output_preference GPU, bgra/bgrx): a delivery copies the last image into
 *    one of a pool of shared textures (D3D11_RESOURCE_MISC_SHARED | SHARED_NTHANDLE) and
 *    hands out its NT handle, after an event query says the copy is done
 *    (common/d3d11_frames.c, as dxgi.c).
 * Unpaced (n/0) a frame is delivered per frame WGC produces (WGC produces frames when the
 * content changes); at a fixed rate one per tick, the last image repeated when nothing
 * changed (skip_unchanged: skipped and counted instead). Timestamps are the frames'
 * SystemRelativeTime (QPC in 100 ns). A new content size recreates the frame pool and
 * emits FORMAT_CHANGED; the item's Closed event (window closed, monitor gone) ends the
 * stream with ENDED / DEVICE_LOST. Minimised windows produce no frames: SOURCE_PAUSED.
 * Window frames are the whole window as WGC sees it (title bar and borders included),
 * not the client area that gdi delivers.
 *
 * Cursor: NONE and COMPOSITE set IsCursorCaptureEnabled (Windows 10 2004+; older ones
 * always draw it); METADATA is NOT_SUPPORTED (WGC gives no pointer shape: dxgi does, for
 * displays, and gdi for windows). The yellow capture border: where
 * IGraphicsCaptureSession3 exists (Windows 11) IsBorderRequired is set false, but Windows
 * honours that only for an app granted borderless capture by
 * GraphicsCaptureAccess.RequestAccessAsync(Borderless), which is not asked here: the call
 * succeeds and the border stays for most apps. Windows 10 always draws it.
 *
 * Device ids: "wgc:window:0x<HWND>", "wgc:display:<GDI device name>" (e.g.
 * wgc:display:\\.\DISPLAY1). Windows are listed here when WGC is available; displays only
 * when the dxgi backend is not (dxgi and gdi list the same monitors), but wgc:display: ids
 * always open.
 */
#define WIN32_LEAN_AND_MEAN
#include <atomic>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* miniav_internal.h is C11 and includes <stdatomic.h>, which GCC 12's C++ library leaves
 * empty before C++23: its two atomic types are std::atomic here, the same size and
 * alignment as the C _Atomic types (checked below), so the shared structs line up. */
#if __cplusplus <= 202002L
typedef std::atomic<bool> atomic_bool;
typedef std::atomic<uint_fast64_t> atomic_uint_fast64_t;
#endif
static_assert(sizeof(atomic_bool) == sizeof(bool) && alignof(atomic_bool) == alignof(bool), "atomic_bool layout");
static_assert(sizeof(atomic_uint_fast64_t) == 8 && alignof(atomic_uint_fast64_t) == 8, "atomic_uint_fast64_t layout");

extern "C" {
#include "../common/miniav_internal.h"
}
#include "../common/d3d11_frames.h"
#include "win32_screen.h"

#include <windows.h>
#include <d3d11.h>
#include <d3d11_4.h>
#include <dxgi1_2.h>
#include <eventtoken.h>
#include <inspectable.h>
#include <objidl.h>
#include <winstring.h>

#define DEFAULT_POOL 3u          /* our buffers (the application's) */
#define WGC_BUFFERS 2            /* the frame pool's surfaces */
#define WAIT_MS 100u             /* unpaced: the longest wait for a frame, so stop stays prompt */
#define DISPLAY_PREFIX "wgc:display:"
#define WINDOW_PREFIX "wgc:window:"
#define PIXEL_FORMAT_BGRA8 87    /* Windows.Graphics.DirectX.DirectXPixelFormat.B8G8R8A8UIntNormalized (= DXGI_FORMAT_B8G8R8A8_UNORM) */

#ifdef MINIAV_HAVE_DXGI
extern "C" const miniav_backend miniav_dxgi_screen;
#endif

/* ------------------------------------------------------------------ WinRT ABI declarations */

namespace wgc_abi {

/* Windows.Graphics.SizeInt32 */
struct SizeInt32 {
    INT32 Width;
    INT32 Height;
};
/* Windows.Foundation.TimeSpan: 100 ns units */
struct TimeSpan {
    INT64 Duration;
};

/* Windows.Foundation.IClosable */
static const IID IID_IClosable = {0x30d5a829, 0x7fa4, 0x4026, {0x83, 0xbb, 0xd7, 0x5b, 0xae, 0x4e, 0xa9, 0x9e}};
struct IClosable : public IInspectable {
    virtual HRESULT STDMETHODCALLTYPE Close(void) = 0;
};

/* Windows.Graphics.DirectX.Direct3D11.IDirect3DDevice */
static const IID IID_IDirect3DDevice = {0xa37624ab, 0x8d5f, 0x4650, {0x9d, 0x3e, 0x9e, 0xae, 0x3d, 0x9b, 0xc6, 0x70}};
struct IDirect3DDevice : public IInspectable {
    virtual HRESULT STDMETHODCALLTYPE Trim(void) = 0;
};

/* IDirect3DDxgiInterfaceAccess (windows.graphics.directx.direct3d11.interop.h; IUnknown-based) */
static const IID IID_IDirect3DDxgiInterfaceAccess = {0xa9b3d012, 0x3df2, 0x4ee3, {0xb8, 0xd1, 0x86, 0x95, 0xf4, 0x57, 0xd3, 0xc1}};
struct IDirect3DDxgiInterfaceAccess : public IUnknown {
    virtual HRESULT STDMETHODCALLTYPE GetInterface(REFIID iid, void **p) = 0;
};

/* The delegates TypedEventHandler<Direct3D11CaptureFramePool, Object> and
 * TypedEventHandler<GraphicsCaptureItem, Object>: IUnknown-based, one method. Their IIDs
 * are the parameterized-interface IIDs the SDK header gives for those instances. */
/* __FITypedEventHandler_2_Windows__CGraphics__CCapture__CDirect3D11CaptureFramePool_IInspectable */
static const IID IID_FrameArrivedHandler = {0x51a947f7, 0x79cf, 0x5a3e, {0xa3, 0xa5, 0x12, 0x89, 0xcf, 0xa6, 0xdf, 0xe8}};
/* __FITypedEventHandler_2_Windows__CGraphics__CCapture__CGraphicsCaptureItem_IInspectable */
static const IID IID_ItemClosedHandler = {0xe9c610c0, 0xa68c, 0x5bd9, {0x80, 0x21, 0x85, 0x89, 0x34, 0x6e, 0xee, 0xe2}};
struct ITypedEventHandler : public IUnknown {
    virtual HRESULT STDMETHODCALLTYPE Invoke(IInspectable *sender, IInspectable *args) = 0;
};

/* Windows.Graphics.Capture.IGraphicsCaptureItem */
static const IID IID_IGraphicsCaptureItem = {0x79c3f95b, 0x31f7, 0x4ec2, {0xa4, 0x64, 0x63, 0x2e, 0xf5, 0xd3, 0x07, 0x60}};
struct IGraphicsCaptureItem : public IInspectable {
    virtual HRESULT STDMETHODCALLTYPE get_DisplayName(HSTRING *value) = 0;
    virtual HRESULT STDMETHODCALLTYPE get_Size(SizeInt32 *value) = 0;
    virtual HRESULT STDMETHODCALLTYPE add_Closed(ITypedEventHandler *handler, EventRegistrationToken *token) = 0;
    virtual HRESULT STDMETHODCALLTYPE remove_Closed(EventRegistrationToken token) = 0;
};

/* IGraphicsCaptureItemInterop (windows.graphics.capture.interop.h; IUnknown-based) */
static const IID IID_IGraphicsCaptureItemInterop = {0x3628e81b, 0x3cac, 0x4c60, {0xb7, 0xf4, 0x23, 0xce, 0x0e, 0x0c, 0x33, 0x56}};
struct IGraphicsCaptureItemInterop : public IUnknown {
    virtual HRESULT STDMETHODCALLTYPE CreateForWindow(HWND window, REFIID riid, void **result) = 0;
    virtual HRESULT STDMETHODCALLTYPE CreateForMonitor(HMONITOR monitor, REFIID riid, void **result) = 0;
};

/* Windows.Graphics.Capture.IDirect3D11CaptureFrame */
static const IID IID_IDirect3D11CaptureFrame = {0xfa50c623, 0x38da, 0x4b32, {0xac, 0xf3, 0xfa, 0x97, 0x34, 0xad, 0x80, 0x0e}};
struct IDirect3D11CaptureFrame : public IInspectable {
    virtual HRESULT STDMETHODCALLTYPE get_Surface(IInspectable **value) = 0; /* IDirect3DSurface */
    virtual HRESULT STDMETHODCALLTYPE get_SystemRelativeTime(TimeSpan *value) = 0;
    virtual HRESULT STDMETHODCALLTYPE get_ContentSize(SizeInt32 *value) = 0;
};

/* Windows.Graphics.Capture.IGraphicsCaptureSession */
static const IID IID_IGraphicsCaptureSession = {0x814e42a9, 0xf70f, 0x4ad7, {0x93, 0x9b, 0xfd, 0xdc, 0xc6, 0xeb, 0x88, 0x0d}};
struct IGraphicsCaptureSession : public IInspectable {
    virtual HRESULT STDMETHODCALLTYPE StartCapture(void) = 0;
};

/* Windows.Graphics.Capture.IGraphicsCaptureSession2 (Windows 10 2004) */
static const IID IID_IGraphicsCaptureSession2 = {0x2c39ae40, 0x7d2e, 0x5044, {0x80, 0x4e, 0x8b, 0x67, 0x99, 0xd4, 0xcf, 0x9e}};
struct IGraphicsCaptureSession2 : public IInspectable {
    virtual HRESULT STDMETHODCALLTYPE get_IsCursorCaptureEnabled(boolean *value) = 0;
    virtual HRESULT STDMETHODCALLTYPE put_IsCursorCaptureEnabled(boolean value) = 0;
};

/* Windows.Graphics.Capture.IGraphicsCaptureSession3 (Windows 11) */
static const IID IID_IGraphicsCaptureSession3 = {0xf2cdd966, 0x22ae, 0x5ea1, {0x95, 0x96, 0x3a, 0x28, 0x93, 0x44, 0xc3, 0xbe}};
struct IGraphicsCaptureSession3 : public IInspectable {
    virtual HRESULT STDMETHODCALLTYPE get_IsBorderRequired(boolean *value) = 0;
    virtual HRESULT STDMETHODCALLTYPE put_IsBorderRequired(boolean value) = 0;
};

/* Windows.Graphics.Capture.IGraphicsCaptureSessionStatics */
static const IID IID_IGraphicsCaptureSessionStatics = {0x2224a540, 0x5974, 0x49aa, {0xb2, 0x32, 0x08, 0x82, 0x53, 0x6f, 0x4c, 0xb5}};
struct IGraphicsCaptureSessionStatics : public IInspectable {
    virtual HRESULT STDMETHODCALLTYPE IsSupported(boolean *result) = 0;
};

/* Windows.Graphics.Capture.IDirect3D11CaptureFramePool */
static const IID IID_IDirect3D11CaptureFramePool = {0x24eb6d22, 0x1975, 0x422e, {0x82, 0xe7, 0x78, 0x0d, 0xbd, 0x8d, 0xdf, 0x24}};
struct IDirect3D11CaptureFramePool : public IInspectable {
    virtual HRESULT STDMETHODCALLTYPE Recreate(IDirect3DDevice *device, INT32 pixelFormat, INT32 numberOfBuffers, SizeInt32 size) = 0;
    virtual HRESULT STDMETHODCALLTYPE TryGetNextFrame(IDirect3D11CaptureFrame **result) = 0;
    virtual HRESULT STDMETHODCALLTYPE add_FrameArrived(ITypedEventHandler *handler, EventRegistrationToken *token) = 0;
    virtual HRESULT STDMETHODCALLTYPE remove_FrameArrived(EventRegistrationToken token) = 0;
    virtual HRESULT STDMETHODCALLTYPE CreateCaptureSession(IGraphicsCaptureItem *item, IGraphicsCaptureSession **result) = 0;
    virtual HRESULT STDMETHODCALLTYPE get_DispatcherQueue(IInspectable **value) = 0; /* Windows.System.IDispatcherQueue */
};

/* Windows.Graphics.Capture.IDirect3D11CaptureFramePoolStatics2 (CreateFreeThreaded, Windows 10 1903) */
static const IID IID_IDirect3D11CaptureFramePoolStatics2 = {0x589b103f, 0x6bbc, 0x5df5, {0xa9, 0x91, 0x02, 0xe2, 0x8b, 0x3b, 0x66, 0xd5}};
struct IDirect3D11CaptureFramePoolStatics2 : public IInspectable {
    virtual HRESULT STDMETHODCALLTYPE CreateFreeThreaded(IDirect3DDevice *device, INT32 pixelFormat, INT32 numberOfBuffers, SizeInt32 size,
                                                         IDirect3D11CaptureFramePool **result) = 0;
};

} // namespace wgc_abi

using namespace wgc_abi;

template <class T> static void release(T *&p) {
    if (p) p->Release();
    p = nullptr;
}

/* Closes a WinRT object that implements IClosable (frames, pools, sessions). */
static void close_object(IUnknown *o) {
    IClosable *c = nullptr;
    if (o && SUCCEEDED(o->QueryInterface(IID_IClosable, (void **)&c)) && c) {
        c->Close();
        c->Release();
    }
}

/* ------------------------------------------------------------------ runtime entry points (loaded, not linked) */

typedef HRESULT(WINAPI *ro_get_activation_factory_fn)(HSTRING, REFIID, void **);
typedef HRESULT(WINAPI *windows_create_string_reference_fn)(PCWSTR, UINT32, HSTRING_HEADER *, HSTRING *);
typedef HRESULT(WINAPI *co_increment_mta_usage_fn)(CO_MTA_USAGE_COOKIE *);
typedef HRESULT(WINAPI *co_decrement_mta_usage_fn)(CO_MTA_USAGE_COOKIE);
typedef HRESULT(WINAPI *create_d3d_device_fn)(IDXGIDevice *, IInspectable **);

static ro_get_activation_factory_fn ro_get_activation_factory;
static windows_create_string_reference_fn windows_create_string_reference;
static create_d3d_device_fn create_direct3d_device;
static co_decrement_mta_usage_fn co_decrement_mta_usage;
static CO_MTA_USAGE_COOKIE mta_cookie;

/* Process-lifetime factories, taken once by the probe. */
static IGraphicsCaptureItemInterop *item_interop;
static IDirect3D11CaptureFramePoolStatics2 *pool_statics;

static INIT_ONCE probe_once = INIT_ONCE_STATIC_INIT;
static bool is_available;
static char probe_reason[256];

static HRESULT get_factory(const wchar_t *class_name, REFIID iid, void **out) {
    HSTRING_HEADER header;
    HSTRING name = nullptr;
    HRESULT hr = windows_create_string_reference(class_name, (UINT32)wcslen(class_name), &header, &name);
    if (SUCCEEDED(hr)) hr = ro_get_activation_factory(name, iid, out);
    if (FAILED(hr)) *out = nullptr;
    return hr;
}

template <class F> static F load_symbol(HMODULE m, const char *name) {
    return m ? (F)(void (*)(void))GetProcAddress(m, name) : nullptr;
}

static bool probe_steps(void) {
    HMODULE combase = LoadLibraryExW(L"combase.dll", nullptr, LOAD_LIBRARY_SEARCH_SYSTEM32); /* System32 only; kept for the life of the process */
    ro_get_activation_factory = load_symbol<ro_get_activation_factory_fn>(combase, "RoGetActivationFactory");
    windows_create_string_reference = load_symbol<windows_create_string_reference_fn>(combase, "WindowsCreateStringReference");
    if (!ro_get_activation_factory || !windows_create_string_reference) {
        snprintf(probe_reason, sizeof probe_reason, "no Windows Runtime (combase.dll): Windows.Graphics.Capture needs Windows 10 1903 or later");
        return false;
    }
    /* Keeps the process's multithreaded apartment alive, so threads that never called
     * CoInitializeEx (the application's, WGC's workers) are in it implicitly and may use
     * WinRT objects. Once per process; given back only when WGC turns out unavailable. */
    co_increment_mta_usage_fn increment_mta = load_symbol<co_increment_mta_usage_fn>(combase, "CoIncrementMTAUsage");
    co_decrement_mta_usage = load_symbol<co_decrement_mta_usage_fn>(combase, "CoDecrementMTAUsage");
    if (increment_mta && FAILED(increment_mta(&mta_cookie))) mta_cookie = nullptr;
    IGraphicsCaptureSessionStatics *session_statics = nullptr;
    HRESULT hr = get_factory(L"Windows.Graphics.Capture.GraphicsCaptureSession", IID_IGraphicsCaptureSessionStatics, (void **)&session_statics);
    if (SUCCEEDED(hr) && !session_statics) hr = E_NOINTERFACE;
    if (FAILED(hr)) {
        snprintf(probe_reason, sizeof probe_reason, "the Windows.Graphics.Capture classes are not there (0x%08lx%s)", (unsigned long)hr,
                 hr == REGDB_E_CLASSNOTREG ? ": Windows before 10 1803, or Wine" : "");
        return false;
    }
    boolean supported = 0;
    hr = session_statics->IsSupported(&supported);
    session_statics->Release();
    if (FAILED(hr) || !supported) {
        snprintf(probe_reason, sizeof probe_reason, "GraphicsCaptureSession.IsSupported() says no (0x%08lx): a service or locked-down session?",
                 (unsigned long)hr);
        return false;
    }
    HMODULE d3d11 = LoadLibraryExW(L"d3d11.dll", nullptr, LOAD_LIBRARY_SEARCH_SYSTEM32); /* not a KnownDLL: System32 only */
    create_direct3d_device = load_symbol<create_d3d_device_fn>(d3d11, "CreateDirect3D11DeviceFromDXGIDevice");
    if (!create_direct3d_device) {
        snprintf(probe_reason, sizeof probe_reason, "d3d11.dll has no CreateDirect3D11DeviceFromDXGIDevice (Windows 10 needed)");
        return false;
    }
    /* The interop interface is one of GraphicsCaptureItem's activation factory's. */
    hr = get_factory(L"Windows.Graphics.Capture.GraphicsCaptureItem", IID_IGraphicsCaptureItemInterop, (void **)&item_interop);
    if (FAILED(hr) || !item_interop) {
        snprintf(probe_reason, sizeof probe_reason, "no IGraphicsCaptureItemInterop (0x%08lx): Windows 10 1903 or later is needed", (unsigned long)hr);
        return false;
    }
    hr = get_factory(L"Windows.Graphics.Capture.Direct3D11CaptureFramePool", IID_IDirect3D11CaptureFramePoolStatics2, (void **)&pool_statics);
    if (FAILED(hr) || !pool_statics) {
        snprintf(probe_reason, sizeof probe_reason, "no free-threaded capture frame pool (0x%08lx): Windows 10 1903 or later is needed", (unsigned long)hr);
        release(item_interop);
        return false;
    }
    return true;
}

static BOOL CALLBACK probe(PINIT_ONCE once, PVOID param, PVOID *ctx) {
    (void)once, (void)param, (void)ctx;
    is_available = probe_steps();
    if (!is_available && mta_cookie && co_decrement_mta_usage) co_decrement_mta_usage(mta_cookie);
    if (!is_available)
        miniav_log(MINIAV_LOG_LEVEL_INFO, "wgc: Windows.Graphics.Capture is not available: %s; gdi captures windows instead", probe_reason);
    return TRUE;
}

/* Asked once: the WinRT classes exist, IsSupported() is true, and the interop and
 * free-threaded pool factories are there. */
static bool available(void) {
    InitOnceExecuteOnce(&probe_once, probe, nullptr, nullptr);
    return is_available;
}

static const char *unavailable_reason(void) {
    available();
    return is_available ? "" : probe_reason;
}

static MiniAVResultCode unavailable(void) {
    return miniav_fail(MINIAV_ERROR_BACKEND_UNAVAILABLE, "Windows.Graphics.Capture is not available here: %s; use the gdi backend", unavailable_reason());
}

/* ------------------------------------------------------------------ displays */

/* Monitors, windows, ids and the thread's DPI awareness: win32_screen.c (shared with gdi). */

static MiniAVResultCode display_not_found(const char *id) {
    return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND,
                       "no wgc display '%s' (disconnected?); ids look like wgc:display:\\\\.\\DISPLAY1 (the GDI device name); "
                       "list displays with enumerateDisplays()", id);
}

static MiniAVResultCode enumerate_displays(miniav_device_list *out, MiniAVLoopbackTargetType filter) {
    (void)filter;
    if (!available()) return unavailable();
#ifdef MINIAV_HAVE_DXGI
    /* dxgi lists the same monitors where it runs (gdi defers to us otherwise): no duplicates. */
    if (miniav_backend_usable(MINIAV_DEVICE_TYPE_SCREEN, &miniav_dxgi_screen)) return MINIAV_SUCCESS;
#endif
    uint32_t n;
    return miniav_win32_add_monitors(out, DISPLAY_PREFIX, &n);
}

/* ------------------------------------------------------------------ windows */

/* What WGC captures of a window: its visible bounds (the DWM's extended frame bounds,
 * without the invisible resize borders), in physical pixels on a DPI-aware thread. */
static RECT window_bounds(HWND w) {
    RECT r = {0, 0, 0, 0};
    if (FAILED(miniav_win32_dwm_attribute(w, 9 /* DWMWA_EXTENDED_FRAME_BOUNDS */, &r, sizeof r))) GetWindowRect(w, &r);
    return r;
}

/* Where a listed window is, and its capture size (the whole window, as WGC sees it). */
static void window_geometry(HWND w, MiniAVDeviceInfo *dev) {
    RECT r = window_bounds(w);
    dev->x = r.left, dev->y = r.top;
    dev->width = r.right > r.left ? (uint32_t)(r.right - r.left) : 0;
    dev->height = r.bottom > r.top ? (uint32_t)(r.bottom - r.top) : 0;
}

static MiniAVResultCode enumerate_windows(miniav_device_list *out) {
    if (!available()) return unavailable();
    return miniav_win32_enumerate_windows(out, WINDOW_PREFIX, window_geometry);
}

/* ------------------------------------------------------------------ ids, formats */

static bool owns_id(const char *id) { return id && !strncmp(id, "wgc:", 4); }

static bool parse_window_id(const char *id, HWND *w) { return miniav_win32_parse_window_id(id, WINDOW_PREFIX, w); }

static MiniAVResultCode bad_id(const char *id) {
    return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND,
                       "'%s' is not a wgc id (wgc:window:0x<hwnd> or wgc:display:\\\\.\\DISPLAY1); list them with enumerateWindows() / "
                       "enumerateDisplays()", id);
}

static MiniAVResultCode video_formats(const char *id, MiniAVVideoFormatInfo **formats, uint32_t *count) {
    if (!available()) return unavailable();
    uint32_t w, h;
    HWND hwnd;
    miniav_win32_monitor mon;
    if (parse_window_id(id, &hwnd)) {
        if (!IsWindow(hwnd)) return miniav_win32_window_not_found(id);
        DPI_AWARENESS_CONTEXT old = miniav_win32_dpi_enter();
        RECT r = window_bounds(hwnd);
        miniav_win32_dpi_leave(old);
        w = r.right > r.left ? (uint32_t)(r.right - r.left) : 0, h = r.bottom > r.top ? (uint32_t)(r.bottom - r.top) : 0;
    } else if (miniav_win32_find_monitor(id, DISPLAY_PREFIX, &mon)) {
        w = (uint32_t)(mon.r.right - mon.r.left), h = (uint32_t)(mon.r.bottom - mon.r.top);
    } else {
        return strncmp(id, DISPLAY_PREFIX, strlen(DISPLAY_PREFIX)) ? bad_id(id) : display_not_found(id);
    }
    static const MiniAVPixelFormat fmts[] = {MINIAV_PIXEL_FORMAT_BGRA32, MINIAV_PIXEL_FORMAT_RGBA32};
    static const uint32_t rates[] = {30, 60};
    MiniAVVideoFormatInfo *list = (MiniAVVideoFormatInfo *)calloc(6, sizeof *list);
    if (!list) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    uint32_t n = 0;
    for (int f = 0; f < 3; f++)
        for (int k = 0; k < 2; k++, n++) {
            list[n].width = w, list[n].height = h;
            list[n].pixel_format = f < 2 ? fmts[f] : MINIAV_PIXEL_FORMAT_BGRA32;
            list[n].frame_rate_numerator = rates[k], list[n].frame_rate_denominator = 1;
            list[n].output_preference = f < 2 ? MINIAV_OUTPUT_PREFERENCE_CPU : MINIAV_OUTPUT_PREFERENCE_GPU;
        }
    *formats = list;
    *count = n;
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ event delegates (COM objects, C-style vtable) */

/* What both delegates share with the capture thread: an auto-reset event ("a frame, or
 * the item closed") and the closed flag. Reference-counted: a delegate that WGC still
 * holds (or is invoking) after stop keeps it alive, and only ever touches it. */
typedef struct {
    LONG refs;
    HANDLE event;
    std::atomic<bool> closed;
} wgc_signal;

static wgc_signal *signal_create(void) {
    wgc_signal *sig = (wgc_signal *)calloc(1, sizeof *sig);
    if (!sig) return nullptr;
    sig->refs = 1;
    sig->event = CreateEventW(nullptr, FALSE, FALSE, nullptr);
    if (!sig->event) {
        free(sig);
        return nullptr;
    }
    return sig;
}

static void signal_release(wgc_signal *sig) {
    if (sig && InterlockedDecrement(&sig->refs) == 0) {
        CloseHandle(sig->event);
        free(sig);
    }
}

struct wgc_handler;
typedef struct {
    HRESULT(STDMETHODCALLTYPE *QueryInterface)(wgc_handler *self, REFIID riid, void **out);
    ULONG(STDMETHODCALLTYPE *AddRef)(wgc_handler *self);
    ULONG(STDMETHODCALLTYPE *Release)(wgc_handler *self);
    HRESULT(STDMETHODCALLTYPE *Invoke)(wgc_handler *self, IInspectable *sender, IInspectable *args);
} wgc_handler_vtbl;

/* One of TypedEventHandler<Direct3D11CaptureFramePool, Object> (FrameArrived) or
 * TypedEventHandler<GraphicsCaptureItem, Object> (Closed). Agile (IAgileObject, and the
 * free-threaded marshaler for IMarshal), so WGC calls it on its own threads directly. */
struct wgc_handler {
    const wgc_handler_vtbl *vtbl; /* first: the object is used as an ITypedEventHandler* */
    LONG refs;
    const IID *iid;
    bool marks_closed;
    wgc_signal *signal;
    IUnknown *ftm; /* the free-threaded marshaler, aggregated */
};

static HRESULT STDMETHODCALLTYPE handler_query_interface(wgc_handler *self, REFIID riid, void **out) {
    if (!out) return E_POINTER;
    *out = nullptr;
    if (IsEqualIID(riid, __uuidof(IUnknown)) || IsEqualIID(riid, *self->iid) || IsEqualIID(riid, __uuidof(IAgileObject))) {
        InterlockedIncrement(&self->refs);
        *out = self;
        return S_OK;
    }
    if (IsEqualIID(riid, __uuidof(IMarshal)) && self->ftm) return self->ftm->QueryInterface(riid, out);
    return E_NOINTERFACE;
}

static ULONG STDMETHODCALLTYPE handler_add_ref(wgc_handler *self) { return (ULONG)InterlockedIncrement(&self->refs); }

static ULONG STDMETHODCALLTYPE handler_release(wgc_handler *self) {
    LONG n = InterlockedDecrement(&self->refs);
    if (n == 0) {
        if (self->ftm) self->ftm->Release();
        signal_release(self->signal);
        free(self);
    }
    return (ULONG)n;
}

/* On a WGC thread: no MiniAV state, no application callback; just wake the capture thread. */
static HRESULT STDMETHODCALLTYPE handler_invoke(wgc_handler *self, IInspectable *sender, IInspectable *args) {
    (void)sender, (void)args;
    if (self->marks_closed) self->signal->closed.store(true);
    SetEvent(self->signal->event);
    return S_OK;
}

static const wgc_handler_vtbl handler_vtbl = {handler_query_interface, handler_add_ref, handler_release, handler_invoke};

static ITypedEventHandler *handler_create(const IID *iid, bool marks_closed, wgc_signal *sig) {
    wgc_handler *h = (wgc_handler *)calloc(1, sizeof *h);
    if (!h) return nullptr;
    h->vtbl = &handler_vtbl;
    h->refs = 1;
    h->iid = iid;
    h->marks_closed = marks_closed;
    h->signal = sig;
    InterlockedIncrement(&sig->refs);
    ITypedEventHandler *as_com = (ITypedEventHandler *)(void *)h;
    if (FAILED(CoCreateFreeThreadedMarshaler((IUnknown *)as_com, &h->ftm))) h->ftm = nullptr; /* IAgileObject still says agile */
    return as_com;
}

/* ------------------------------------------------------------------ state */

typedef struct {
    miniav_capture_thread worker;
    bool is_window, is_region;
    HWND hwnd;
    char target[300];        /* for messages: "window wgc:window:0x..." / "display wgc:display:..." */
    uint32_t src_w, src_h;   /* the item's size = the frame pool's */
    uint32_t width, height;  /* delivered: the source, or the region of it */
    double period_us;
    bool gpu, skip_unchanged;
    MiniAVCursorMode cursor;
    ID3D11Device *dev;
    ID3D11DeviceContext *ctx;
    ID3D11Query *done;           /* GPU: copies finished */
    IDirect3DDevice *rt_device;  /* the WinRT wrapper of dev */
    IGraphicsCaptureItem *item;
    /* While started: */
    IDirect3D11CaptureFramePool *frame_pool;
    IGraphicsCaptureSession *session;
    ITypedEventHandler *on_frame, *on_closed;
    EventRegistrationToken frame_token, closed_token;
    bool frame_registered, closed_registered;
    wgc_signal *signal;
    ID3D11Texture2D *last;       /* the last image, delivered size: staging (CPU) or default (GPU) */
    bool have_image;
    miniav_d3d11_set *gpu_current; /* GPU: the pool's shared textures */
    size_t frame_bytes;
    bool warned_copy;            /* "cannot copy a frame" said this run (once per stream start) */
} wgc_state;

static void release_capture(wgc_state *st) {
    if (st->frame_pool && st->frame_registered) st->frame_pool->remove_FrameArrived(st->frame_token);
    if (st->item && st->closed_registered) st->item->remove_Closed(st->closed_token);
    st->frame_registered = st->closed_registered = false;
    close_object(st->session);
    release(st->session);
    close_object(st->frame_pool);
    release(st->frame_pool);
    release(st->on_frame); /* WGC may hold its own reference a moment longer: it only signals */
    release(st->on_closed);
    signal_release(st->signal);
    st->signal = nullptr;
    release(st->last);
    st->have_image = false;
}

static void free_state(wgc_state *st) {
    release_capture(st);
    release(st->item);
    release(st->rt_device);
    release(st->done);
    release(st->ctx);
    release(st->dev);
    free(st);
}

/* ------------------------------------------------------------------ pools, textures */

static MiniAVResultCode make_pool(miniav_stream *s, wgc_state *st) {
    uint32_t count = miniav_stream_pool_size(s, DEFAULT_POOL);
    st->frame_bytes = (size_t)st->width * st->height * 4;
    if (!st->gpu) return miniav_stream_ensure_pool(s, count, st->frame_bytes);
    return miniav_d3d11_make_pool(s, st->dev, count, st->width, st->height, 0, &st->gpu_current);
}

/* The delivered size from the source size; false when a region no longer fits. */
static bool fit_target(miniav_stream *s, wgc_state *st) {
    if (!st->is_region) {
        st->width = st->src_w, st->height = st->src_h;
        return true;
    }
    st->width = s->region_width, st->height = s->region_height;
    return (uint64_t)s->region_x + s->region_width <= st->src_w && (uint64_t)s->region_y + s->region_height <= st->src_h;
}

/* ------------------------------------------------------------------ capture thread */

/* Frame surface → the last-image texture (a GPU copy), cropped to the region. */
static HRESULT keep_image(miniav_stream *s, wgc_state *st, IDirect3D11CaptureFrame *frame) {
    IInspectable *surface = nullptr;
    IDirect3DDxgiInterfaceAccess *access = nullptr;
    ID3D11Texture2D *tex = nullptr;
    HRESULT hr = frame->get_Surface(&surface);
    if (SUCCEEDED(hr)) hr = surface->QueryInterface(IID_IDirect3DDxgiInterfaceAccess, (void **)&access);
    if (SUCCEEDED(hr)) hr = access->GetInterface(__uuidof(ID3D11Texture2D), (void **)&tex);
    release(access);
    release(surface);
    if (FAILED(hr)) return hr;
    D3D11_TEXTURE2D_DESC d;
    tex->GetDesc(&d);
    UINT ox = st->is_region ? (UINT)s->region_x : 0, oy = st->is_region ? (UINT)s->region_y : 0;
    if (ox + st->width > d.Width || oy + st->height > d.Height) {
        tex->Release();
        return S_FALSE; /* a surface of the old size: the pool is being recreated */
    }
    if (!st->last) {
        d.Width = st->width, d.Height = st->height;
        d.Format = DXGI_FORMAT_B8G8R8A8_UNORM, d.SampleDesc.Count = 1, d.SampleDesc.Quality = 0;
        hr = miniav_d3d11_image_texture(st->dev, d, st->gpu, &st->last);
    }
    if (SUCCEEDED(hr)) {
        D3D11_BOX box = {ox, oy, 0, ox + st->width, oy + st->height, 1};
        st->ctx->CopySubresourceRegion(st->last, 0, 0, 0, 0, tex, 0, &box);
        st->have_image = true;
    }
    tex->Release();
    return hr;
}

/* Our D3D11 device is gone (a driver update or reset, the GPU removed: `hr` says which):
 * WGC delivers no more frames on it, and nothing copies. Said once; the loop ends. start()
 * makes a new device. */
static void device_lost(miniav_stream *s, wgc_state *st, HRESULT hr) {
    miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_DEVICE_LOST,
                       "the graphics device was removed or reset (0x%08lx: a driver update or reset?) while capturing %s: start the capture again",
                       (unsigned long)hr, st->target);
}

/* One frame from the last image into a pool buffer and to the application. False when
 * the device is gone (event emitted): the loop ends. */
static bool deliver(miniav_stream *s, wgc_state *st, int64_t ts) {
    miniav_slot *slot = miniav_stream_acquire(s);
    if (!slot) return true; /* counted as a drop */
    MiniAVBuffer *b = &slot->buffer;
    memset(b, 0, sizeof *b);
    HRESULT hr;
    if (st->gpu) {
        hr = miniav_d3d11_gpu_frame(s, slot, st->ctx, st->done, st->gpu_current, st->last);
    } else {
        D3D11_MAPPED_SUBRESOURCE m;
        hr = miniav_d3d11_map_frame(s, slot, st->ctx, st->last, &m);
        if (hr == S_OK) {
            miniav_d3d11_copy_rows(slot->mem, (const uint8_t *)m.pData, m.RowPitch, st->width, st->height, s->video.pixel_format);
            miniav_d3d11_cpu_frame(s, slot, st->ctx, st->last, st->width, st->frame_bytes);
        }
    }
    if (hr == S_OK) {
        miniav_d3d11_deliver(s, slot, ts, st->width, st->height);
        return true;
    }
    /* The slot is back and the frame counted lost: a late copy, or the device gone. */
    if (hr == S_FALSE) return true;
    device_lost(s, st, hr);
    return false;
}

/* The source has a new size: recreate the frame pool, new buffers, FORMAT_CHANGED.
 * False when the stream must end (event emitted). */
static bool resize(miniav_stream *s, wgc_state *st, SizeInt32 size) {
    HRESULT hr = st->frame_pool->Recreate(st->rt_device, PIXEL_FORMAT_BGRA8, WGC_BUFFERS, size);
    if (FAILED(hr)) {
        miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_SYSTEM_CALL_FAILED, "cannot recreate the capture frame pool for %dx%d (0x%08lx)",
                           (int)size.Width, (int)size.Height, (unsigned long)hr);
        return false;
    }
    uint32_t old_w = st->width, old_h = st->height;
    st->src_w = (uint32_t)size.Width, st->src_h = (uint32_t)size.Height;
    if (!fit_target(s, st)) {
        miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "%s is now %ux%u: the region %ux%u at (%d,%d) no longer fits",
                           st->target, st->src_w, st->src_h, st->width, st->height, s->region_x, s->region_y);
        return false;
    }
    if (st->width == old_w && st->height == old_h) return true; /* a region of a display that grew */
    release(st->last);
    st->have_image = false;
    if (make_pool(s, st)) {
        miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_OUT_OF_MEMORY, "cannot allocate buffers for %ux%u: %s", st->width, st->height,
                           MiniAV_GetLastErrorMessage());
        return false;
    }
    s->video.width = st->width, s->video.height = st->height;
    miniav_stream_emit(s, MINIAV_EVENT_FORMAT_CHANGED, MINIAV_SUCCESS, "%s is now %ux%u", st->target, st->width, st->height);
    return true;
}

/* Takes the newest frame WGC has (closing the older ones) into the last image.
 * 1 = a new image (*ts set), 0 = none, -1 = the stream must end (event emitted). */
static int take_frame(miniav_stream *s, wgc_state *st, int64_t *ts) {
    IDirect3D11CaptureFrame *frame = nullptr, *next = nullptr;
    while (SUCCEEDED(st->frame_pool->TryGetNextFrame(&next)) && next) {
        if (frame) {
            close_object(frame); /* its buffer goes back to the pool now */
            frame->Release();
        }
        frame = next;
        next = nullptr;
    }
    if (!frame) return 0;
    int result = 0;
    SizeInt32 size = {0, 0};
    TimeSpan when = {0};
    frame->get_ContentSize(&size);
    if (size.Width > 0 && size.Height > 0 && ((uint32_t)size.Width != st->src_w || (uint32_t)size.Height != st->src_h)) {
        result = resize(s, st, size) ? 0 : -1; /* this frame has the old size; the next one the new */
    } else if (size.Width > 0 && size.Height > 0) {
        HRESULT hr = keep_image(s, st, frame);
        if (hr == S_OK) {
            result = 1;
            *ts = SUCCEEDED(frame->get_SystemRelativeTime(&when)) && when.Duration > 0 ? miniav_time_from_100ns_qpc(when.Duration) : MiniAV_GetTimeUs();
        } else if (FAILED(hr)) {
            HRESULT gone = miniav_d3d11_device_lost(st->ctx, hr);
            if (FAILED(gone)) {
                device_lost(s, st, gone);
                result = -1;
            } else if (!st->warned_copy) { /* once per stream: it may fail for every frame */
                st->warned_copy = true;
                miniav_log(MINIAV_LOG_LEVEL_WARN, "wgc: cannot copy a frame of %s (0x%08lx); frames that fail so are skipped, said once",
                           st->target, (unsigned long)hr);
            }
        }
    }
    close_object(frame);
    frame->Release();
    return result;
}

static void *capture_thread(void *arg) {
    miniav_stream *s = (miniav_stream *)arg;
    wgc_state *st = (wgc_state *)s->backend_data;
    HRESULT co = CoInitializeEx(nullptr, COINIT_MULTITHREADED);
    miniav_pacer pacer;
    miniav_pacer_init(&pacer, st->period_us);
    const bool paced = st->period_us > 0;
    bool paused = false;
    int64_t last_ts = 0;
    for (;;) {
        if (paced) {
            if (!miniav_pacer_wait(&pacer, &st->worker.stop)) break;
        } else {
            WaitForSingleObject(st->signal->event, WAIT_MS);
            if (st->worker.stop.load()) break;
        }
        if (st->signal->closed.load() || (st->is_window && !IsWindow(st->hwnd))) {
            miniav_stream_emit(s, MINIAV_EVENT_ENDED, MINIAV_ERROR_DEVICE_LOST, "%s %s", st->target,
                               st->is_window ? "was closed" : "was disconnected");
            break;
        }
        if (st->is_window) {
            bool hidden = IsIconic(st->hwnd) != 0;
            if (hidden != paused) {
                paused = hidden;
                if (hidden)
                    miniav_stream_emit(s, MINIAV_EVENT_SOURCE_PAUSED, MINIAV_SUCCESS, "%s was minimised", st->target);
                else
                    miniav_stream_emit(s, MINIAV_EVENT_SOURCE_RESUMED, MINIAV_SUCCESS, "%s is visible again", st->target);
            }
        }
        int64_t ts = 0;
        int got = take_frame(s, st, &ts);
        if (got < 0) break;
        /* A removed device gets no more frames from WGC: unpaced, the loop would wait
         * forever without this (a cheap call, asked only when no frame came). */
        HRESULT gone = got ? S_OK : st->dev->GetDeviceRemovedReason();
        if (FAILED(gone)) {
            device_lost(s, st, gone);
            break;
        }
        if (paused || !st->have_image) {
            if (paced) s->skipped.fetch_add(1);
            continue;
        }
        if (miniav_d3d11_frame_due(s, got != 0, paced, st->skip_unchanged, &ts, &last_ts) && !deliver(s, st, ts)) break;
    }
    if (SUCCEEDED(co)) CoUninitialize();
    return nullptr;
}

/* ------------------------------------------------------------------ backend functions */

static HRESULT create_device(wgc_state *st) {
    static const D3D_FEATURE_LEVEL levels[] = {D3D_FEATURE_LEVEL_11_1, D3D_FEATURE_LEVEL_11_0, D3D_FEATURE_LEVEL_10_1, D3D_FEATURE_LEVEL_10_0};
    HRESULT hr = E_FAIL;
    /* The default adapter; WGC copies across GPUs itself. 11_1 is refused by the 11.0 runtime: retry without it. */
    for (int attempt = 0; attempt < 2 && FAILED(hr); attempt++)
        hr = D3D11CreateDevice(nullptr, D3D_DRIVER_TYPE_HARDWARE, nullptr, D3D11_CREATE_DEVICE_BGRA_SUPPORT, levels + attempt,
                               (UINT)(sizeof levels / sizeof levels[0]) - (UINT)attempt, D3D11_SDK_VERSION, &st->dev, nullptr, &st->ctx);
    if (FAILED(hr)) return hr;
    /* WGC's workers use the device too (the pool's surfaces): serialise the context. */
    ID3D11Multithread *mt = nullptr;
    if (SUCCEEDED(st->ctx->QueryInterface(__uuidof(ID3D11Multithread), (void **)&mt))) {
        mt->SetMultithreadProtected(TRUE);
        mt->Release();
    }
    IDXGIDevice *dxgi = nullptr;
    IInspectable *inspectable = nullptr;
    hr = st->dev->QueryInterface(__uuidof(IDXGIDevice), (void **)&dxgi);
    if (SUCCEEDED(hr)) hr = create_direct3d_device(dxgi, &inspectable);
    if (SUCCEEDED(hr)) hr = inspectable->QueryInterface(IID_IDirect3DDevice, (void **)&st->rt_device);
    release(inspectable);
    release(dxgi);
    return hr;
}

static MiniAVResultCode configure(miniav_stream *s) {
    if (!available()) return unavailable();
    MiniAVVideoFormatInfo f = s->requested_video;
    wgc_state *st = (wgc_state *)calloc(1, sizeof *st);
    if (!st) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    MiniAVResultCode r = MINIAV_SUCCESS;
    HRESULT hr;
    HWND hwnd;
    miniav_win32_monitor mon;
    SizeInt32 size = {0, 0};
    if (s->screen_target == MINIAV_SCREEN_TARGET_WINDOW) {
        if (!parse_window_id(s->device_id, &hwnd)) {
            r = miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "'%s' is not a wgc window id (wgc:window:0x...); list windows with enumerateWindows()",
                            s->device_id);
            goto fail;
        }
        if (!IsWindow(hwnd)) {
            r = miniav_win32_window_not_found(s->device_id);
            goto fail;
        }
        st->is_window = true;
        st->hwnd = hwnd;
        snprintf(st->target, sizeof st->target, "window %s", s->device_id);
        hr = item_interop->CreateForWindow(hwnd, IID_IGraphicsCaptureItem, (void **)&st->item);
    } else {
        if (parse_window_id(s->device_id, &hwnd)) {
            r = miniav_fail(MINIAV_ERROR_INVALID_ARG, "'%s' is a window: open it with { window: id }", s->device_id);
            goto fail;
        }
        if (!miniav_win32_find_monitor(s->device_id, DISPLAY_PREFIX, &mon)) {
            r = strncmp(s->device_id, DISPLAY_PREFIX, strlen(DISPLAY_PREFIX)) ? bad_id(s->device_id) : display_not_found(s->device_id);
            goto fail;
        }
        st->is_region = s->screen_target == MINIAV_SCREEN_TARGET_REGION;
        snprintf(st->target, sizeof st->target, "display %s", s->device_id);
        hr = item_interop->CreateForMonitor(mon.handle, IID_IGraphicsCaptureItem, (void **)&st->item);
    }
    if (FAILED(hr) || !st->item) {
        st->item = nullptr;
        r = miniav_fail(hr == E_ACCESSDENIED ? MINIAV_ERROR_PERMISSION_DENIED : MINIAV_ERROR_NOT_SUPPORTED,
                        "Windows.Graphics.Capture cannot capture %s (0x%08lx)%s", st->target, (unsigned long)hr,
                        st->is_window ? ": some windows (system, elevated, protected) refuse it; try the gdi backend" : "");
        goto fail;
    }
    if (FAILED(hr = st->item->get_Size(&size)) || size.Width <= 0 || size.Height <= 0) {
        r = miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "%s has no size to capture (%dx%d, 0x%08lx)", st->target, (int)size.Width, (int)size.Height,
                        (unsigned long)hr);
        goto fail;
    }
    st->src_w = (uint32_t)size.Width, st->src_h = (uint32_t)size.Height;
    if (!fit_target(s, st)) {
        r = miniav_fail(MINIAV_ERROR_INVALID_ARG, "region %ux%u at (%d,%d) does not fit the %ux%u %s", s->region_width, s->region_height, s->region_x,
                        s->region_y, st->src_w, st->src_h, st->target);
        goto fail;
    }
    if ((f.width && f.width != st->width) || (f.height && f.height != st->height)) {
        r = miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "screen capture does not scale: leave width/height unset (the source is %ux%u)", st->width,
                        st->height);
        goto fail;
    }
    if (f.pixel_format == MINIAV_PIXEL_FORMAT_UNKNOWN) f.pixel_format = MINIAV_PIXEL_FORMAT_BGRA32;
    if (f.pixel_format != MINIAV_PIXEL_FORMAT_BGRA32 && f.pixel_format != MINIAV_PIXEL_FORMAT_BGRX32 && f.pixel_format != MINIAV_PIXEL_FORMAT_RGBA32 &&
        f.pixel_format != MINIAV_PIXEL_FORMAT_RGBX32) {
        r = miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "wgc capture gives bgra, bgrx, rgba or rgbx, not '%s'", MiniAV_PixelFormatName(f.pixel_format));
        goto fail;
    }
    r = miniav_resolve_frame_rate(&f, 30, &st->period_us);
    if (r) goto fail;
    if (f.output_preference == MINIAV_OUTPUT_PREFERENCE_GPU) {
        /* Shared textures are B8G8R8A8 as the frames: other orders stay on the CPU. */
        st->gpu = f.pixel_format == MINIAV_PIXEL_FORMAT_BGRA32 || f.pixel_format == MINIAV_PIXEL_FORMAT_BGRX32;
        if (!st->gpu) {
            miniav_log(MINIAV_LOG_LEVEL_INFO, "wgc: GPU output is bgra only; delivering %s in CPU buffers", MiniAV_PixelFormatName(f.pixel_format));
            f.output_preference = MINIAV_OUTPUT_PREFERENCE_CPU;
        }
    }
    if (FAILED(hr = create_device(st))) {
        r = miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "cannot create a Direct3D 11 device for Windows.Graphics.Capture (0x%08lx); use the gdi backend",
                        (unsigned long)hr);
        goto fail;
    }
    if (st->gpu && (r = miniav_d3d11_event_query(st->dev, &st->done))) goto fail;
    f.width = st->width, f.height = st->height;
    f.fourcc = 0;
    s->video = f;
    s->backend_data = st;
    return MINIAV_SUCCESS;
fail:
    free_state(st);
    return r;
}

/* A device gone since configure (a driver update or reset: the DEVICE_LOST event) is
 * made again, so that starting again works. */
static MiniAVResultCode renew_device(wgc_state *st) {
    if (st->dev && st->rt_device && st->dev->GetDeviceRemovedReason() == S_OK) return MINIAV_SUCCESS;
    release(st->rt_device);
    release(st->done);
    release(st->ctx);
    release(st->dev);
    HRESULT hr = create_device(st);
    if (FAILED(hr))
        return miniav_fail(MINIAV_ERROR_DEVICE_LOST, "cannot create a Direct3D 11 device for Windows.Graphics.Capture again (0x%08lx); use the gdi backend",
                           (unsigned long)hr);
    return st->gpu ? miniav_d3d11_event_query(st->dev, &st->done) : MINIAV_SUCCESS;
}

static MiniAVResultCode start(miniav_stream *s) {
    wgc_state *st = (wgc_state *)s->backend_data;
    st->warned_copy = false;
    st->cursor = s->screen_options.cursor;
    st->skip_unchanged = s->screen_options.skip_unchanged != 0;
    if (st->cursor == MINIAV_CURSOR_METADATA)
        return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED,
                           "Windows.Graphics.Capture draws the cursor into the frame or leaves it out: ask for COMPOSITE or NONE, or use dxgi "
                           "(displays) or gdi (windows) for cursor metadata");
    if (st->is_window && !IsWindow(st->hwnd)) return miniav_fail(MINIAV_ERROR_DEVICE_LOST, "%s is gone (closed since configure)", st->target);
    SizeInt32 size = {0, 0};
    HRESULT hr = st->item->get_Size(&size);
    if (SUCCEEDED(hr) && size.Width > 0 && size.Height > 0) st->src_w = (uint32_t)size.Width, st->src_h = (uint32_t)size.Height;
    size.Width = (INT32)st->src_w, size.Height = (INT32)st->src_h;
    if (!fit_target(s, st))
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "%s is now %ux%u: the region %ux%u at (%d,%d) no longer fits", st->target, st->src_w, st->src_h,
                           st->width, st->height, s->region_x, s->region_y);
    s->video.width = st->width, s->video.height = st->height;
    MiniAVResultCode r = renew_device(st);
    if (r) return r;
    IGraphicsCaptureSession2 *session2 = nullptr;
    IGraphicsCaptureSession3 *session3 = nullptr;
    const char *step = "";
    if (!(st->signal = signal_create()) || !(st->on_frame = handler_create(&IID_FrameArrivedHandler, false, st->signal)) ||
        !(st->on_closed = handler_create(&IID_ItemClosedHandler, true, st->signal))) {
        r = miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    step = "Direct3D11CaptureFramePool.CreateFreeThreaded";
    hr = pool_statics->CreateFreeThreaded(st->rt_device, PIXEL_FORMAT_BGRA8, WGC_BUFFERS, size, &st->frame_pool);
    if (SUCCEEDED(hr)) step = "FrameArrived", hr = st->frame_pool->add_FrameArrived(st->on_frame, &st->frame_token);
    if (SUCCEEDED(hr)) st->frame_registered = true, step = "GraphicsCaptureItem.Closed", hr = st->item->add_Closed(st->on_closed, &st->closed_token);
    if (SUCCEEDED(hr)) st->closed_registered = true, step = "CreateCaptureSession", hr = st->frame_pool->CreateCaptureSession(st->item, &st->session);
    if (FAILED(hr)) {
        r = miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "Windows.Graphics.Capture: %s failed for %s (0x%08lx)", step, st->target, (unsigned long)hr);
        goto fail;
    }
    if (SUCCEEDED(st->session->QueryInterface(IID_IGraphicsCaptureSession2, (void **)&session2))) {
        hr = session2->put_IsCursorCaptureEnabled(st->cursor == MINIAV_CURSOR_COMPOSITE);
        session2->Release();
        if (FAILED(hr)) miniav_log(MINIAV_LOG_LEVEL_WARN, "wgc: cannot %s the cursor (0x%08lx)", st->cursor ? "show" : "hide", (unsigned long)hr);
    } else if (st->cursor == MINIAV_CURSOR_NONE) {
        miniav_log(MINIAV_LOG_LEVEL_INFO, "wgc: this Windows (before 10 2004) always draws the cursor into captured frames");
    }
    if (SUCCEEDED(st->session->QueryInterface(IID_IGraphicsCaptureSession3, (void **)&session3))) {
        hr = session3->put_IsBorderRequired(0);
        session3->Release();
        if (FAILED(hr)) miniav_log(MINIAV_LOG_LEVEL_DEBUG, "wgc: the capture border stays (0x%08lx)", (unsigned long)hr);
    }
    r = make_pool(s, st);
    if (r) goto fail;
    r = miniav_capture_thread_start(&st->worker, capture_thread, s);
    if (r) goto fail;
    hr = st->session->StartCapture();
    if (FAILED(hr)) {
        st->worker.stop.store(true);
        SetEvent(st->signal->event);
        miniav_capture_thread_stop(&st->worker);
        r = miniav_fail(hr == E_ACCESSDENIED ? MINIAV_ERROR_PERMISSION_DENIED : MINIAV_ERROR_SYSTEM_CALL_FAILED,
                        "Windows.Graphics.Capture: StartCapture failed for %s (0x%08lx)", st->target, (unsigned long)hr);
        goto fail;
    }
    return MINIAV_SUCCESS;
fail:
    release_capture(st);
    return r;
}

/* Joins the capture thread first (no buffer or event reaches the application after it),
 * then unregisters, and closes the session and the pool. A delegate call already under
 * way on a WGC thread only sets an event that its own object keeps alive. */
static void stop(miniav_stream *s) {
    wgc_state *st = (wgc_state *)s->backend_data;
    st->worker.stop.store(true);
    if (st->signal) SetEvent(st->signal->event); /* wake an unpaced wait */
    miniav_capture_thread_stop(&st->worker);
    release_capture(st);
}

static void destroy(miniav_stream *s) {
    wgc_state *st = (wgc_state *)s->backend_data;
    if (st) free_state(st); /* GPU buffers go with the pool, perhaps later */
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
extern "C" const miniav_backend miniav_wgc_screen = {
    .name = "wgc",
    .type = MINIAV_DEVICE_TYPE_SCREEN,
    .available = available,
    .enumerate = enumerate_displays,
    .enumerate_windows = enumerate_windows,
    .owns_id = owns_id,
    .video_formats = video_formats,
    .configure = configure,
    .start = start,
    .stop = stop,
    .destroy = destroy,
    .unavailable_reason = unavailable_reason,
};
#pragma GCC diagnostic pop
