/* DXGI Desktop Duplication: displays (and regions of them), the fast way on Windows 8+.
 *
 * UNTESTED HERE. This file is compiled with -Werror in the mingw-w64 build, but it has
 * never run: the project's Windows rig is Wine 8, whose IDXGIOutput1::DuplicateOutput
 * returns E_NOTIMPL, so available() is false there and only that answer is tested
 * (tests/test_gdi.c). Check on real Windows before trusting: the GPU output path, the
 * rotation mapping and the pointer shapes in particular.
 *
 * How it works: AcquireNextFrame hands over the desktop image (a GPU texture) when it
 * changed. CPU output copies it into a staging texture, maps it, and copies the rows into
 * a pool buffer (one copy, counted: inherent, the image is GPU memory). GPU output copies
 * it into one of a pool of shared textures whose NT handle goes to the application
 * (common/d3d11_frames.c: finished on the GPU before delivery, no keyed mutex).
 *
 * At a fixed rate a frame is delivered every tick, repeating the last image when the
 * desktop did not change (skip_unchanged: not delivered, counted as skipped); unpaced
 * (n/0), a frame is delivered whenever the desktop (or, with a cursor mode, the pointer)
 * changes.
 *
 * Device ids: "dxgi:display:<DXGI output DeviceName>", e.g. dxgi:display:\\.\DISPLAY1.
 */
#define WIN32_LEAN_AND_MEAN
#include "../common/d3d11_frames.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include <d3d11.h>
#include <dxgi1_2.h>

#define DEFAULT_POOL 3u
#define CURSOR_MAX 256u          /* largest cursor image kept in metadata mode (pixels per side) */
#define ACQUIRE_TIMEOUT_MS 100u  /* unpaced waits for a change at most this long: stop stays prompt */
#define PREFIX "dxgi:display:"

/* ------------------------------------------------------------------ outputs */

typedef struct {
    IDXGIAdapter1 *adapter;
    IDXGIOutput1 *output;
    DXGI_OUTPUT_DESC desc;
    char name[64]; /* DeviceName in UTF-8 */
} dxgi_output;

static void output_release(dxgi_output *o) {
    if (o->output) IDXGIOutput1_Release(o->output);
    if (o->adapter) IDXGIAdapter1_Release(o->adapter);
    o->output = NULL, o->adapter = NULL;
}

/* Calls fn for every output attached to the desktop; fn returns false to stop, and takes
 * the references in *o when it keeps them (sets them NULL), else they are released. */
typedef bool (*output_fn)(dxgi_output *o, void *ctx);

static HRESULT walk_outputs(output_fn fn, void *ctx) {
    IDXGIFactory1 *factory = NULL;
    HRESULT hr = CreateDXGIFactory1(&IID_IDXGIFactory1, (void **)&factory);
    if (FAILED(hr)) return hr;
    bool go = true;
    IDXGIAdapter1 *adapter = NULL;
    for (UINT i = 0; go && SUCCEEDED(IDXGIFactory1_EnumAdapters1(factory, i, &adapter)); i++) {
        IDXGIOutput *out = NULL;
        for (UINT j = 0; go && SUCCEEDED(IDXGIAdapter1_EnumOutputs(adapter, j, &out)); j++) {
            dxgi_output o = {0};
            if (SUCCEEDED(IDXGIOutput_GetDesc(out, &o.desc)) && o.desc.AttachedToDesktop &&
                SUCCEEDED(IDXGIOutput_QueryInterface(out, &IID_IDXGIOutput1, (void **)&o.output))) {
                o.adapter = adapter;
                IDXGIAdapter1_AddRef(adapter);
                miniav_utf16_to_utf8(o.name, sizeof o.name, o.desc.DeviceName);
                go = fn(&o, ctx);
                output_release(&o);
            }
            IDXGIOutput_Release(out);
        }
        IDXGIAdapter1_Release(adapter);
    }
    IDXGIFactory1_Release(factory);
    return S_OK;
}

static HRESULT create_device(IDXGIAdapter1 *adapter, ID3D11Device **dev, ID3D11DeviceContext **ctx) {
    static const D3D_FEATURE_LEVEL levels[] = {D3D_FEATURE_LEVEL_11_0, D3D_FEATURE_LEVEL_10_1, D3D_FEATURE_LEVEL_10_0,
                                               D3D_FEATURE_LEVEL_9_3, D3D_FEATURE_LEVEL_9_1};
    /* On the output's own adapter: duplication fails on a device of another GPU. */
    return D3D11CreateDevice((IDXGIAdapter *)adapter, D3D_DRIVER_TYPE_UNKNOWN, NULL, D3D11_CREATE_DEVICE_BGRA_SUPPORT, levels,
                             sizeof levels / sizeof levels[0], D3D11_SDK_VERSION, dev, NULL, ctx);
}

static int32_t rect_w(RECT r) { return r.right - r.left; }
static int32_t rect_h(RECT r) { return r.bottom - r.top; }

/* ------------------------------------------------------------------ availability */

/* A yes is kept for the life of the process. A no is asked again, at most every
 * REPROBE_US: DuplicateOutput also fails for a while during a mode change, a desktop
 * switch or a disconnected remote session, and a display may be attached later. E_NOTIMPL
 * (Wine) is the one permanent answer, kept. */
#define REPROBE_US 5000000
static SRWLOCK probe_lock = SRWLOCK_INIT;
static bool probed, is_available;
static HRESULT probe_hr, logged_hr;
static int64_t probed_at;

static bool probe_output(dxgi_output *o, void *ctx) {
    (void)ctx;
    ID3D11Device *dev = NULL;
    ID3D11DeviceContext *dc = NULL;
    HRESULT hr = create_device(o->adapter, &dev, &dc);
    if (SUCCEEDED(hr)) {
        IDXGIOutputDuplication *dup = NULL;
        hr = IDXGIOutput1_DuplicateOutput(o->output, (IUnknown *)dev, &dup);
        if (dup) IDXGIOutputDuplication_Release(dup);
        ID3D11DeviceContext_Release(dc);
        ID3D11Device_Release(dev);
    }
    /* Busy (another app holds too many duplications) or the secure desktop right now:
     * the API works, just not this moment. */
    if (SUCCEEDED(hr) || hr == E_ACCESSDENIED || hr == DXGI_ERROR_NOT_CURRENTLY_AVAILABLE) {
        is_available = true;
        return false;
    }
    probe_hr = hr;
    return true;
}

/* Caller holds probe_lock exclusively. */
static void probe(void) {
    probe_hr = S_FALSE;
    HRESULT hr = walk_outputs(probe_output, NULL);
    if (FAILED(hr)) probe_hr = hr;
    probed = true;
    probed_at = MiniAV_GetTimeUs();
    /* Said once per answer, not at every re-probe. */
    if (!is_available && probe_hr != logged_hr)
        miniav_log(MINIAV_LOG_LEVEL_INFO, "dxgi: Desktop Duplication is not available (0x%08lx%s); the gdi backend captures instead",
                   (unsigned long)probe_hr,
                   probe_hr == E_NOTIMPL ? ": not implemented, as under Wine" : probe_hr == S_FALSE ? ": no display attached" : "");
    logged_hr = probe_hr;
}

/* A D3D11 device can be made and DuplicateOutput works on an output. */
static bool available(void) {
    AcquireSRWLockExclusive(&probe_lock);
    if (!probed || (!is_available && probe_hr != E_NOTIMPL && MiniAV_GetTimeUs() - probed_at >= REPROBE_US)) probe();
    bool yes = is_available;
    ReleaseSRWLockExclusive(&probe_lock);
    return yes;
}

static MiniAVResultCode unavailable(void) {
    AcquireSRWLockShared(&probe_lock);
    HRESULT hr = probe_hr;
    ReleaseSRWLockShared(&probe_lock);
    return miniav_fail(MINIAV_ERROR_BACKEND_UNAVAILABLE,
                       "DXGI Desktop Duplication is not available here (DuplicateOutput: 0x%08lx%s); use the gdi backend",
                       (unsigned long)hr, hr == E_NOTIMPL ? ", not implemented: Wine?" : "");
}

/* ------------------------------------------------------------------ enumeration + ids */

static bool list_output(dxgi_output *o, void *ctx) {
    miniav_device_list *out = ctx;
    MiniAVDeviceInfo *dev = miniav_device_list_add(out);
    if (!dev) return false;
    DXGI_ADAPTER_DESC1 ad;
    char gpu[128] = "";
    if (SUCCEEDED(IDXGIAdapter1_GetDesc1(o->adapter, &ad))) miniav_utf16_to_utf8(gpu, sizeof gpu, ad.Description);
    snprintf(dev->device_id, sizeof dev->device_id, PREFIX "%s", o->name);
    RECT r = o->desc.DesktopCoordinates;
    snprintf(dev->name, sizeof dev->name, "%s (%ldx%ld)%s%.100s", o->name, (long)rect_w(r), (long)rect_h(r), gpu[0] ? " on " : "", gpu);
    MONITORINFO mi = {.cbSize = sizeof mi};
    dev->is_default = GetMonitorInfoW(o->desc.Monitor, &mi) && (mi.dwFlags & MONITORINFOF_PRIMARY);
    dev->x = r.left, dev->y = r.top, dev->width = (uint32_t)rect_w(r), dev->height = (uint32_t)rect_h(r);
    return true;
}

static MiniAVResultCode enumerate_displays(miniav_device_list *out, MiniAVLoopbackTargetType filter) {
    (void)filter;
    if (!available()) return unavailable();
    HRESULT hr = walk_outputs(list_output, out);
    if (FAILED(hr)) return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "cannot list DXGI outputs (0x%08lx)", (unsigned long)hr);
    return MINIAV_SUCCESS;
}

static bool owns_id(const char *id) { return id && !strncmp(id, "dxgi:", 5); }

typedef struct {
    const char *name;
    dxgi_output found;
} find_ctx;

static bool match_output(dxgi_output *o, void *ctx) {
    find_ctx *f = ctx;
    if (strcmp(o->name, f->name)) return true;
    f->found = *o; /* keeps the references */
    o->output = NULL, o->adapter = NULL;
    return false;
}

static MiniAVResultCode find_output(const char *id, dxgi_output *out) {
    memset(out, 0, sizeof *out);
    if (strncmp(id, PREFIX, strlen(PREFIX)))
        return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "'%s' is not a dxgi display id (dxgi:display:\\\\.\\DISPLAY1); list displays with enumerateDisplays()", id);
    find_ctx f = {id + strlen(PREFIX), {0}};
    HRESULT hr = walk_outputs(match_output, &f);
    if (FAILED(hr)) return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "cannot list DXGI outputs (0x%08lx)", (unsigned long)hr);
    if (!f.found.output)
        return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "no display '%s' (disconnected?); list displays with enumerateDisplays()", id);
    *out = f.found;
    return MINIAV_SUCCESS;
}

static MiniAVResultCode video_formats(const char *id, MiniAVVideoFormatInfo **formats, uint32_t *count) {
    if (!available()) return unavailable();
    dxgi_output o;
    MiniAVResultCode r = find_output(id, &o);
    if (r) return r;
    uint32_t w = (uint32_t)rect_w(o.desc.DesktopCoordinates), h = (uint32_t)rect_h(o.desc.DesktopCoordinates);
    output_release(&o);
    static const MiniAVPixelFormat fmts[] = {MINIAV_PIXEL_FORMAT_BGRA32, MINIAV_PIXEL_FORMAT_RGBA32};
    static const uint32_t rates[] = {30, 60};
    MiniAVVideoFormatInfo *list = calloc(6, sizeof *list);
    if (!list) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    uint32_t n = 0;
    for (int f = 0; f < 2; f++)
        for (int k = 0; k < 2; k++) list[n++] = (MiniAVVideoFormatInfo){w, h, fmts[f], rates[k], 1, MINIAV_OUTPUT_PREFERENCE_CPU, 0};
    for (int k = 0; k < 2; k++) list[n++] = (MiniAVVideoFormatInfo){w, h, MINIAV_PIXEL_FORMAT_BGRA32, rates[k], 1, MINIAV_OUTPUT_PREFERENCE_GPU, 0};
    *formats = list;
    *count = n;
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ state */

typedef struct {
    miniav_capture_thread worker;
    char device_id[256];
    dxgi_output out;
    LUID adapter_luid;
    ID3D11Device *dev;
    ID3D11DeviceContext *ctx;
    IDXGIOutputDuplication *dup;
    DXGI_MODE_ROTATION rotation;
    uint32_t surf_w, surf_h; /* desktop image as duplicated (unrotated scan-out) */
    uint32_t desk_w, desk_h; /* the display as the user sees it (rotated) */
    bool is_region;
    uint32_t width, height;  /* delivered */
    double period_us;
    bool gpu_requested;      /* GPU output asked for (and bgra) at configure */
    bool gpu;                /* this run: GPU output (off while the display is rotated) */
    MiniAVCursorMode cursor;
    bool skip_unchanged;
    ID3D11Texture2D *staging; /* CPU: the last desktop image, mappable */
    ID3D11Texture2D *last;    /* GPU: the last image (cropped to the region) */
    ID3D11Query *done;        /* GPU: copies finished */
    bool have_image;
    miniav_d3d11_set *gpu_current; /* GPU: the pool's shared textures, each with room for a cursor image */
    size_t frame_bytes;
    /* Pointer from the frame infos: position of the shape's top-left, desktop pixels. */
    bool ptr_visible, ptr_changed;
    int32_t ptr_x, ptr_y;
    uint8_t *shape;
    UINT shape_size;
    DXGI_OUTDUPL_POINTER_SHAPE_INFO shape_info;
    bool have_shape;
    uint8_t *cursor_image; /* premultiplied BGRA of the shape, metadata mode */
    uint32_t cursor_w, cursor_h, cursor_serial;
} dxgi_state;

static void release_textures(dxgi_state *st) {
    if (st->staging) ID3D11Texture2D_Release(st->staging);
    if (st->last) ID3D11Texture2D_Release(st->last);
    st->staging = st->last = NULL;
    st->have_image = false;
}

static void release_duplication(dxgi_state *st) {
    if (st->dup) IDXGIOutputDuplication_Release(st->dup);
    st->dup = NULL;
}

/* ------------------------------------------------------------------ sizes, rotation */

/* The delivered size from the duplication's description. */
static void read_duplication_desc(dxgi_state *st) {
    DXGI_OUTDUPL_DESC d;
    IDXGIOutputDuplication_GetDesc(st->dup, &d);
    st->rotation = d.Rotation;
    st->surf_w = d.ModeDesc.Width, st->surf_h = d.ModeDesc.Height;
    bool sideways = d.Rotation == DXGI_MODE_ROTATION_ROTATE90 || d.Rotation == DXGI_MODE_ROTATION_ROTATE270;
    st->desk_w = sideways ? st->surf_h : st->surf_w;
    st->desk_h = sideways ? st->surf_w : st->surf_h;
}

static bool rotated(const dxgi_state *st) {
    return st->rotation != DXGI_MODE_ROTATION_IDENTITY && st->rotation != DXGI_MODE_ROTATION_UNSPECIFIED;
}

/* Desktop pixel (x, y) → pixel of the unrotated image. The mapping follows the Desktop
 * Duplication sample's dirty-rectangle rotation; unverified here (no rotated display). */
static inline void surface_point(const dxgi_state *st, uint32_t x, uint32_t y, uint32_t *sx, uint32_t *sy) {
    switch (st->rotation) {
    case DXGI_MODE_ROTATION_ROTATE90: *sx = y, *sy = st->desk_w - 1 - x; break;
    case DXGI_MODE_ROTATION_ROTATE180: *sx = st->desk_w - 1 - x, *sy = st->desk_h - 1 - y; break;
    case DXGI_MODE_ROTATION_ROTATE270: *sx = st->desk_h - 1 - y, *sy = x; break;
    default: *sx = x, *sy = y; break;
    }
}

/* Rows of the mapped staging image into a frame: region crop, rotation, channel order,
 * opaque alpha, all in the one pass that the copy is anyway. */
static void copy_frame(miniav_stream *s, const dxgi_state *st, uint8_t *dst, const uint8_t *src, UINT pitch, MiniAVPixelFormat fmt) {
    uint32_t ox = st->is_region ? (uint32_t)s->region_x : 0, oy = st->is_region ? (uint32_t)s->region_y : 0;
    bool swap = fmt == MINIAV_PIXEL_FORMAT_RGBA32 || fmt == MINIAV_PIXEL_FORMAT_RGBX32;
    if (!rotated(st)) {
        miniav_d3d11_copy_rows(dst, src + (size_t)oy * pitch + (size_t)ox * 4, pitch, st->width, st->height, fmt);
        return;
    }
    for (uint32_t y = 0; y < st->height; y++) {
        uint32_t *d = (uint32_t *)(dst + (size_t)y * st->width * 4);
        for (uint32_t x = 0; x < st->width; x++) {
            uint32_t sx, sy;
            surface_point(st, ox + x, oy + y, &sx, &sy);
            uint32_t v = ((const uint32_t *)(src + (size_t)sy * pitch))[sx];
            d[x] = swap ? (v & 0x0000ff00u) | ((v >> 16) & 0xffu) | ((v & 0xffu) << 16) | 0xff000000u : v | 0xff000000u;
        }
    }
}

/* ------------------------------------------------------------------ pointer */

/* Position and shape from a frame's info. */
static void update_pointer(dxgi_state *st, const DXGI_OUTDUPL_FRAME_INFO *fi) {
    if (fi->LastMouseUpdateTime.QuadPart == 0) return;
    st->ptr_visible = fi->PointerPosition.Visible != 0;
    if (st->ptr_visible) st->ptr_x = fi->PointerPosition.Position.x, st->ptr_y = fi->PointerPosition.Position.y;
    st->ptr_changed = true;
    if (fi->PointerShapeBufferSize == 0) return;
    if (fi->PointerShapeBufferSize > st->shape_size) {
        uint8_t *grown = realloc(st->shape, fi->PointerShapeBufferSize);
        if (!grown) return;
        st->shape = grown, st->shape_size = fi->PointerShapeBufferSize;
    }
    UINT needed = 0;
    if (FAILED(IDXGIOutputDuplication_GetFramePointerShape(st->dup, st->shape_size, st->shape, &needed, &st->shape_info))) return;
    st->have_shape = true;
    st->cursor_serial++;
    if (st->cursor != MINIAV_CURSOR_METADATA) return;
    /* Premultiplied BGRA for the metadata. Pixels that invert the screen (XOR) have no
     * such form: shown black, which reads on the light backgrounds where I-beams live. */
    if (!st->cursor_image && !(st->cursor_image = malloc(CURSOR_MAX * CURSOR_MAX * 4))) return;
    const DXGI_OUTDUPL_POINTER_SHAPE_INFO *si = &st->shape_info;
    bool mono = si->Type == DXGI_OUTDUPL_POINTER_SHAPE_TYPE_MONOCHROME;
    uint32_t w = si->Width < CURSOR_MAX ? si->Width : CURSOR_MAX;
    uint32_t full_h = mono ? si->Height / 2 : si->Height, h = full_h < CURSOR_MAX ? full_h : CURSOR_MAX;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            uint8_t *d = st->cursor_image + ((size_t)y * w + x) * 4;
            uint32_t b = 0, g = 0, r = 0, a = 0;
            if (mono) {
                uint8_t bit = (uint8_t)(0x80 >> (x % 8));
                bool and_bit = st->shape[(size_t)y * si->Pitch + x / 8] & bit, xor_bit = st->shape[(size_t)(y + full_h) * si->Pitch + x / 8] & bit;
                if (!and_bit) a = 255, r = g = b = xor_bit ? 255 : 0;
                else if (xor_bit) a = 255; /* inverts: black */
            } else {
                const uint8_t *p = st->shape + (size_t)y * si->Pitch + (size_t)x * 4;
                if (si->Type == DXGI_OUTDUPL_POINTER_SHAPE_TYPE_COLOR) {
                    a = p[3], b = p[0] * a / 255, g = p[1] * a / 255, r = p[2] * a / 255;
                } else if (p[3] == 0) { /* masked colour: 0 = replace the screen's pixel */
                    a = 255, b = p[0], g = p[1], r = p[2];
                } else if (p[0] | p[1] | p[2]) {
                    a = 255; /* XOR with a colour: black */
                }
            }
            d[0] = (uint8_t)b, d[1] = (uint8_t)g, d[2] = (uint8_t)r, d[3] = (uint8_t)a;
        }
    st->cursor_w = w, st->cursor_h = h;
}

/* Draws the shape into a BGRA/RGBA frame (premultiplied "over" for colour, XOR where the
 * shape says so), at the pointer's place relative to the captured area. */
static void composite_pointer(miniav_stream *s, const dxgi_state *st, uint8_t *frame, bool swap) {
    if (!st->have_shape || !st->ptr_visible) return;
    const DXGI_OUTDUPL_POINTER_SHAPE_INFO *si = &st->shape_info;
    bool mono = si->Type == DXGI_OUTDUPL_POINTER_SHAPE_TYPE_MONOCHROME;
    uint32_t h = mono ? si->Height / 2 : si->Height;
    int32_t left = st->ptr_x - (st->is_region ? s->region_x : 0), top = st->ptr_y - (st->is_region ? s->region_y : 0);
    int ri = swap ? 0 : 2, bi = swap ? 2 : 0; /* where red and blue are in the frame */
    for (uint32_t cy = 0; cy < h; cy++) {
        int32_t y = top + (int32_t)cy;
        if (y < 0 || (uint32_t)y >= st->height) continue;
        for (uint32_t cx = 0; cx < si->Width; cx++) {
            int32_t x = left + (int32_t)cx;
            if (x < 0 || (uint32_t)x >= st->width) continue;
            uint8_t *px = frame + ((size_t)y * st->width + (size_t)x) * 4;
            if (mono) {
                uint8_t bit = (uint8_t)(0x80 >> (cx % 8));
                bool and_bit = st->shape[(size_t)cy * si->Pitch + cx / 8] & bit, xor_bit = st->shape[(size_t)(cy + h) * si->Pitch + cx / 8] & bit;
                for (int k = 0; k < 3; k++) px[k] = (uint8_t)((and_bit ? px[k] : 0) ^ (xor_bit ? 0xff : 0));
                continue;
            }
            const uint8_t *p = st->shape + (size_t)cy * si->Pitch + (size_t)cx * 4;
            if (si->Type == DXGI_OUTDUPL_POINTER_SHAPE_TYPE_COLOR) {
                uint32_t a = p[3];
                px[bi] = (uint8_t)((p[0] * a + px[bi] * (255 - a)) / 255);
                px[1] = (uint8_t)((p[1] * a + px[1] * (255 - a)) / 255);
                px[ri] = (uint8_t)((p[2] * a + px[ri] * (255 - a)) / 255);
            } else if (p[3] == 0) {
                px[bi] = p[0], px[1] = p[1], px[ri] = p[2];
            } else {
                px[bi] ^= p[0], px[1] ^= p[1], px[ri] ^= p[2];
            }
        }
    }
}

static void pointer_metadata(miniav_stream *s, const dxgi_state *st, MiniAVCursorInfo *c, uint8_t *image_mem) {
    if (!st->have_shape) return;
    c->hot_x = (uint32_t)st->shape_info.HotSpot.x, c->hot_y = (uint32_t)st->shape_info.HotSpot.y;
    c->x = st->ptr_x + st->shape_info.HotSpot.x - (st->is_region ? s->region_x : 0);
    c->y = st->ptr_y + st->shape_info.HotSpot.y - (st->is_region ? s->region_y : 0);
    c->visible = st->ptr_visible && c->x >= 0 && c->y >= 0 && (uint32_t)c->x < st->width && (uint32_t)c->y < st->height;
    c->serial = st->cursor_serial;
    if (st->cursor_image && image_mem) {
        c->width = st->cursor_w, c->height = st->cursor_h;
        memcpy(image_mem, st->cursor_image, (size_t)c->width * c->height * 4);
        c->image = image_mem;
    }
}

/* ------------------------------------------------------------------ pools */

static MiniAVResultCode make_pool(miniav_stream *s, dxgi_state *st) {
    uint32_t count = miniav_stream_pool_size(s, DEFAULT_POOL);
    size_t frame_bytes = (size_t)st->width * st->height * 4;
    if (!st->gpu) {
        MiniAVResultCode r = miniav_stream_ensure_pool(s, count, frame_bytes + CURSOR_MAX * CURSOR_MAX * 4);
        if (!r) st->frame_bytes = frame_bytes; /* only with buffers of that size */
        return r;
    }
    MiniAVResultCode r = miniav_d3d11_make_pool(s, st->dev, count, st->width, st->height, CURSOR_MAX * CURSOR_MAX * 4, &st->gpu_current);
    if (r) return r;
    st->frame_bytes = frame_bytes;
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ duplication */

static MiniAVResultCode duplication_error(HRESULT hr, const char *id) {
    switch (hr) {
    case E_ACCESSDENIED:
        return miniav_fail(MINIAV_ERROR_PERMISSION_DENIED, "Windows refuses to duplicate %s now (the secure desktop: UAC prompt, lock screen; or a service session)", id);
    case DXGI_ERROR_NOT_CURRENTLY_AVAILABLE:
        return miniav_fail(MINIAV_ERROR_DEVICE_BUSY, "too many applications duplicate %s already; close one, or use the gdi backend", id);
    case DXGI_ERROR_UNSUPPORTED:
        return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "%s cannot be duplicated from this GPU (hybrid graphics?); use the gdi backend", id);
    case DXGI_ERROR_SESSION_DISCONNECTED:
        return miniav_fail(MINIAV_ERROR_BACKEND_UNAVAILABLE, "the session is disconnected (remote desktop?); use the gdi backend");
    case E_NOTIMPL:
        return miniav_fail(MINIAV_ERROR_BACKEND_UNAVAILABLE, "Desktop Duplication is not implemented here (Wine?); use the gdi backend");
    default:
        return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "DuplicateOutput failed for %s (0x%08lx)", id, (unsigned long)hr);
    }
}

/* The display's delivered size, and a check that a region still fits it. */
static MiniAVResultCode fit_target(miniav_stream *s, dxgi_state *st) {
    if (!st->is_region) {
        st->width = st->desk_w, st->height = st->desk_h;
        return MINIAV_SUCCESS;
    }
    MiniAVResultCode r = miniav_screen_check_region(s, st->desk_w, st->desk_h, "display", s->device_id);
    if (r) return r;
    st->width = s->region_width, st->height = s->region_height;
    return MINIAV_SUCCESS;
}

/* After ACCESS_LOST (mode change, desktop switch, full-screen app): duplicate again.
 * 1 = going again, 0 = not yet (try later), -1 = the stream must end (event emitted). */
static int reopen(miniav_stream *s, dxgi_state *st, bool *paused) {
    release_duplication(st);
    dxgi_output o;
    if (find_output(s->device_id, &o)) {
        miniav_stream_emit(s, MINIAV_EVENT_ENDED, MINIAV_ERROR_DEVICE_LOST, "display %s was disconnected", s->device_id);
        return -1;
    }
    DXGI_ADAPTER_DESC1 ad;
    if (FAILED(IDXGIAdapter1_GetDesc1(o.adapter, &ad)) || memcmp(&ad.AdapterLuid, &st->adapter_luid, sizeof ad.AdapterLuid)) {
        output_release(&o);
        miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_DEVICE_LOST, "display %s moved to another GPU: start the capture again", s->device_id);
        return -1;
    }
    output_release(&st->out);
    st->out = o;
    HRESULT hr = IDXGIOutput1_DuplicateOutput(st->out.output, (IUnknown *)st->dev, &st->dup);
    /* Not now, perhaps later: the secure desktop, too many duplications, and
     * DXGI_ERROR_UNSUPPORTED / SESSION_DISCONNECTED, which DuplicateOutput also answers
     * for a while during a mode change, a desktop switch or a remote session's reconnect.
     * Tried again every ACQUIRE_TIMEOUT_MS while paused. */
    if (hr == E_ACCESSDENIED || hr == DXGI_ERROR_NOT_CURRENTLY_AVAILABLE || hr == DXGI_ERROR_UNSUPPORTED ||
        hr == DXGI_ERROR_SESSION_DISCONNECTED) {
        st->dup = NULL;
        if (!*paused) miniav_stream_emit(s, MINIAV_EVENT_SOURCE_PAUSED, MINIAV_SUCCESS, "display %s cannot be read now (secure desktop?)", s->device_id);
        *paused = true;
        return 0;
    }
    if (FAILED(hr)) {
        miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_DEVICE_LOST, "cannot duplicate %s again (0x%08lx)", s->device_id, (unsigned long)hr);
        return -1;
    }
    if (*paused) miniav_stream_emit(s, MINIAV_EVENT_SOURCE_RESUMED, MINIAV_SUCCESS, "display %s can be read again", s->device_id);
    *paused = false;
    uint32_t old_w = st->width, old_h = st->height;
    read_duplication_desc(st);
    /* GPU output copies the duplicated image as it is (no rotation): a display rotated
     * while it runs would give textures of the rotated size that the unrotated image no
     * longer fits (CopyResource drops such copies silently: stale frames). start() gives
     * CPU buffers for a rotated display, so a new start is the way on. */
    if (st->gpu && rotated(st)) {
        release_duplication(st);
        miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_FORMAT_NOT_SUPPORTED,
                           "display %s was rotated; GPU output cannot follow: restart the capture (it then delivers CPU buffers)",
                           s->device_id);
        return -1;
    }
    if (fit_target(s, st)) {
        miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "%s", MiniAV_GetLastErrorMessage());
        return -1;
    }
    release_textures(st); /* the desktop image may have a new size or rotation */
    if (st->width != old_w || st->height != old_h) {
        if (make_pool(s, st)) {
            miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_OUT_OF_MEMORY, "cannot allocate buffers for %ux%u: %s", st->width, st->height,
                               MiniAV_GetLastErrorMessage());
            return -1;
        }
        s->video.width = st->width, s->video.height = st->height;
        miniav_stream_emit(s, MINIAV_EVENT_FORMAT_CHANGED, MINIAV_SUCCESS, "display %s is now %ux%u", s->device_id, st->width, st->height);
    }
    return 1;
}

/* Keeps the new desktop image: into the staging texture (CPU) or `last` (GPU). */
static HRESULT keep_image(miniav_stream *s, dxgi_state *st, IDXGIResource *res) {
    ID3D11Texture2D *desk = NULL;
    HRESULT hr = IDXGIResource_QueryInterface(res, &IID_ID3D11Texture2D, (void **)&desk);
    if (FAILED(hr)) return hr;
    D3D11_TEXTURE2D_DESC d;
    ID3D11Texture2D_GetDesc(desk, &d);
    ID3D11Texture2D **dst = st->gpu ? &st->last : &st->staging;
    if (!*dst) {
        if (st->gpu) d.Width = st->width, d.Height = st->height; /* cropped; staging keeps the whole desktop */
        hr = miniav_d3d11_image_texture(st->dev, d, st->gpu, dst);
    }
    if (SUCCEEDED(hr)) {
        if (st->gpu && st->is_region) {
            D3D11_BOX box = {(UINT)s->region_x, (UINT)s->region_y, 0, (UINT)s->region_x + st->width, (UINT)s->region_y + st->height, 1};
            ID3D11DeviceContext_CopySubresourceRegion(st->ctx, (ID3D11Resource *)*dst, 0, 0, 0, 0, (ID3D11Resource *)desk, 0, &box);
        } else {
            ID3D11DeviceContext_CopyResource(st->ctx, (ID3D11Resource *)*dst, (ID3D11Resource *)desk);
        }
        st->have_image = true;
    }
    ID3D11Texture2D_Release(desk);
    return hr;
}

/* The device is gone (driver update or reset, GPU removed): said once, the loop ends. */
static void device_lost(miniav_stream *s, HRESULT hr) {
    miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_DEVICE_LOST, "the graphics driver was reset (0x%08lx): start the capture again",
                       (unsigned long)hr);
}

/* One frame from the kept image into a pool buffer and to the application. False when
 * the device is gone (event emitted): the loop ends. */
static bool deliver(miniav_stream *s, dxgi_state *st, int64_t ts) {
    miniav_slot *slot = miniav_stream_acquire(s);
    if (!slot) return true; /* counted as a drop */
    MiniAVBuffer *b = &slot->buffer;
    memset(b, 0, sizeof *b);
    uint8_t *cursor_mem = NULL;
    HRESULT hr;
    if (st->gpu) {
        if ((hr = miniav_d3d11_gpu_frame(s, slot, st->ctx, st->done, st->gpu_current, st->last)) != S_OK) goto lost;
        cursor_mem = st->gpu_current->b[slot->index].mem;
    } else {
        D3D11_MAPPED_SUBRESOURCE m;
        if ((hr = miniav_d3d11_map_frame(s, slot, st->ctx, st->staging, &m)) != S_OK) goto lost;
        copy_frame(s, st, slot->mem, m.pData, m.RowPitch, s->video.pixel_format);
        miniav_d3d11_cpu_frame(s, slot, st->ctx, st->staging, st->width, st->frame_bytes);
        cursor_mem = slot->mem + st->frame_bytes;
        if (st->cursor == MINIAV_CURSOR_COMPOSITE)
            composite_pointer(s, st, slot->mem, s->video.pixel_format == MINIAV_PIXEL_FORMAT_RGBA32 || s->video.pixel_format == MINIAV_PIXEL_FORMAT_RGBX32);
    }
    if (st->cursor == MINIAV_CURSOR_METADATA) pointer_metadata(s, st, &b->data.video.cursor, cursor_mem);
    miniav_d3d11_deliver(s, slot, ts, st->width, st->height);
    return true;
lost: /* the slot is back, the frame counted lost */
    if (hr == S_FALSE) return true;
    device_lost(s, hr);
    return false;
}

static void *capture_thread(void *arg) {
    miniav_stream *s = arg;
    dxgi_state *st = s->backend_data;
    HRESULT co = CoInitializeEx(NULL, COINIT_MULTITHREADED);
    miniav_pacer pacer;
    miniav_pacer_init(&pacer, st->period_us);
    const bool paced = st->period_us > 0;
    bool paused = false;
    int64_t last_ts = 0;
    while (miniav_pacer_wait(&pacer, &st->worker.stop)) {
        if (!st->dup) {
            int r = reopen(s, st, &paused);
            if (r < 0) break;
            if (r == 0) {
                atomic_fetch_add(&s->skipped, 1);
                miniav_sleep_until(MiniAV_GetTimeUs() + ACQUIRE_TIMEOUT_MS * 1000, &st->worker.stop);
                continue;
            }
        }
        /* At a fixed rate: whatever changed since the last tick (no wait); unpaced: wait
         * for the next change. */
        DXGI_OUTDUPL_FRAME_INFO fi;
        IDXGIResource *res = NULL;
        HRESULT hr = IDXGIOutputDuplication_AcquireNextFrame(st->dup, paced ? 0 : ACQUIRE_TIMEOUT_MS, &fi, &res);
        bool fresh = false;
        int64_t ts = 0;
        HRESULT gone = S_OK;
        st->ptr_changed = false;
        if (hr == DXGI_ERROR_ACCESS_LOST || hr == DXGI_ERROR_INVALID_CALL) {
            release_duplication(st); /* duplicated again on the next tick */
            continue;
        } else if (hr == DXGI_ERROR_DEVICE_REMOVED || hr == DXGI_ERROR_DEVICE_RESET) {
            device_lost(s, hr);
            break;
        } else if (SUCCEEDED(hr)) {
            if (st->cursor != MINIAV_CURSOR_NONE) update_pointer(st, &fi);
            if (fi.LastPresentTime.QuadPart != 0 || !st->have_image) {
                HRESULT kh = keep_image(s, st, res);
                if (SUCCEEDED(kh)) {
                    fresh = true;
                    ts = fi.LastPresentTime.QuadPart ? miniav_time_from_qpc(fi.LastPresentTime.QuadPart) : MiniAV_GetTimeUs();
                } else if (FAILED(gone = miniav_d3d11_device_lost(st->ctx, kh))) {
                    /* below: said and the loop ends */
                } else {
                    miniav_log(MINIAV_LOG_LEVEL_WARN, "dxgi: cannot copy the desktop image (0x%08lx)", (unsigned long)kh);
                }
            }
            IDXGIResource_Release(res);
            IDXGIOutputDuplication_ReleaseFrame(st->dup);
            if (FAILED(gone)) {
                device_lost(s, gone);
                break;
            }
        } else if (hr != DXGI_ERROR_WAIT_TIMEOUT) {
            miniav_log(MINIAV_LOG_LEVEL_WARN, "dxgi: AcquireNextFrame failed (0x%08lx); duplicating again", (unsigned long)hr);
            release_duplication(st);
            continue;
        }
        if (!st->have_image) continue;
        bool changed = fresh || (st->ptr_changed && st->cursor != MINIAV_CURSOR_NONE);
        if (!fresh) ts = MiniAV_GetTimeUs(); /* no new image (a pointer move, or a repeat): now */
        if (miniav_d3d11_frame_due(s, changed, paced, st->skip_unchanged, &ts, &last_ts) && !deliver(s, st, ts)) break;
    }
    if (SUCCEEDED(co)) CoUninitialize();
    return NULL;
}

/* ------------------------------------------------------------------ backend functions */

static void free_state(dxgi_state *st) {
    release_duplication(st);
    release_textures(st);
    if (st->done) ID3D11Query_Release(st->done);
    if (st->ctx) ID3D11DeviceContext_Release(st->ctx);
    if (st->dev) ID3D11Device_Release(st->dev);
    output_release(&st->out);
    free(st->shape);
    free(st->cursor_image);
    free(st);
}

static MiniAVResultCode configure(miniav_stream *s) {
    if (!available()) return unavailable();
    if (s->screen_target == MINIAV_SCREEN_TARGET_WINDOW)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "dxgi captures displays; '%s' is not a window: list windows with enumerateWindows()", s->device_id);
    MiniAVVideoFormatInfo f = s->requested_video;
    dxgi_state *st = calloc(1, sizeof *st);
    if (!st) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    MiniAVResultCode r = find_output(s->device_id, &st->out);
    if (r) goto fail;
    DXGI_ADAPTER_DESC1 ad;
    if (SUCCEEDED(IDXGIAdapter1_GetDesc1(st->out.adapter, &ad))) st->adapter_luid = ad.AdapterLuid;
    st->desk_w = (uint32_t)rect_w(st->out.desc.DesktopCoordinates), st->desk_h = (uint32_t)rect_h(st->out.desc.DesktopCoordinates);
    st->is_region = s->screen_target == MINIAV_SCREEN_TARGET_REGION;
    r = fit_target(s, st);
    if (r) goto fail;
    /* GPU output is decided below: no_gpu NULL. */
    r = miniav_screen_resolve_format(&f, st->width, st->height, "dxgi", "bgra, bgrx, rgba or rgbx", NULL, &st->period_us);
    if (r) goto fail;
    if (f.output_preference == MINIAV_OUTPUT_PREFERENCE_GPU) {
        /* Shared textures are B8G8R8A8 as the desktop: other orders stay on the CPU. */
        st->gpu = st->gpu_requested = f.pixel_format == MINIAV_PIXEL_FORMAT_BGRA32 || f.pixel_format == MINIAV_PIXEL_FORMAT_BGRX32;
        if (!st->gpu) {
            miniav_log(MINIAV_LOG_LEVEL_INFO, "dxgi: GPU output is bgra only; delivering %s in CPU buffers", MiniAV_PixelFormatName(f.pixel_format));
            f.output_preference = MINIAV_OUTPUT_PREFERENCE_CPU;
        }
    }
    HRESULT hr = create_device(st->out.adapter, &st->dev, &st->ctx);
    if (FAILED(hr)) {
        r = miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "cannot create a Direct3D 11 device for %s (0x%08lx); use the gdi backend", s->device_id,
                        (unsigned long)hr);
        goto fail;
    }
    if (st->gpu && (r = miniav_d3d11_event_query(st->dev, &st->done))) goto fail;
    s->video = f;
    s->backend_data = st;
    return MINIAV_SUCCESS;
fail:
    free_state(st);
    return r;
}

/* A device gone since configure (a driver update or reset: the DEVICE_LOST event) is
 * made again, on the output's adapter as it is now, so that starting again works. */
static MiniAVResultCode renew_device(miniav_stream *s, dxgi_state *st) {
    if (st->dev && ID3D11Device_GetDeviceRemovedReason(st->dev) == S_OK) return MINIAV_SUCCESS;
    release_textures(st);
    if (st->done) ID3D11Query_Release(st->done);
    if (st->ctx) ID3D11DeviceContext_Release(st->ctx);
    if (st->dev) ID3D11Device_Release(st->dev);
    st->done = NULL, st->ctx = NULL, st->dev = NULL;
    dxgi_output o;
    MiniAVResultCode r = find_output(s->device_id, &o);
    if (r) return r;
    output_release(&st->out);
    st->out = o;
    DXGI_ADAPTER_DESC1 ad;
    if (SUCCEEDED(IDXGIAdapter1_GetDesc1(st->out.adapter, &ad))) st->adapter_luid = ad.AdapterLuid;
    HRESULT hr = create_device(st->out.adapter, &st->dev, &st->ctx);
    if (FAILED(hr)) {
        st->dev = NULL, st->ctx = NULL;
        return miniav_fail(MINIAV_ERROR_DEVICE_LOST, "cannot create a Direct3D 11 device for %s again (0x%08lx); use the gdi backend", s->device_id,
                           (unsigned long)hr);
    }
    return st->gpu_requested ? miniav_d3d11_event_query(st->dev, &st->done) : MINIAV_SUCCESS;
}

static MiniAVResultCode start(miniav_stream *s) {
    dxgi_state *st = s->backend_data;
    MiniAVResultCode r = renew_device(s, st);
    if (r) return r;
    st->cursor = s->screen_options.cursor;
    st->skip_unchanged = s->screen_options.skip_unchanged != 0;
    /* Decided again each start: an earlier run may have fallen back for a rotated display. */
    st->gpu = st->gpu_requested;
    s->video.output_preference = st->gpu ? MINIAV_OUTPUT_PREFERENCE_GPU : MINIAV_OUTPUT_PREFERENCE_CPU;
    if (st->gpu && st->cursor == MINIAV_CURSOR_COMPOSITE)
        return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "GPU output cannot draw the cursor into the frame: ask for cursor metadata, or CPU output");
    HRESULT hr = IDXGIOutput1_DuplicateOutput(st->out.output, (IUnknown *)st->dev, &st->dup);
    if (FAILED(hr)) {
        st->dup = NULL;
        return duplication_error(hr, s->device_id);
    }
    read_duplication_desc(st);
    r = fit_target(s, st);
    if (r) {
        release_duplication(st);
        return r;
    }
    if (st->gpu && rotated(st)) {
        miniav_log(MINIAV_LOG_LEVEL_INFO, "dxgi: %s is rotated; GPU output is not, so frames come in CPU buffers", s->device_id);
        st->gpu = false;
        s->video.output_preference = MINIAV_OUTPUT_PREFERENCE_CPU;
    }
    s->video.width = st->width, s->video.height = st->height;
    release_textures(st);
    st->have_shape = false;
    r = make_pool(s, st);
    if (r) {
        release_duplication(st);
        return r;
    }
    r = miniav_capture_thread_start(&st->worker, capture_thread, s);
    if (r) release_duplication(st);
    return r;
}

static void stop(miniav_stream *s) {
    dxgi_state *st = s->backend_data;
    miniav_capture_thread_stop(&st->worker);
    release_duplication(st); /* other applications may duplicate the output now */
}

static void destroy(miniav_stream *s) {
    dxgi_state *st = s->backend_data;
    if (st) free_state(st); /* GPU buffers go with the pool, perhaps later */
}

const miniav_backend miniav_dxgi_screen = {
    .name = "dxgi", .type = MINIAV_DEVICE_TYPE_SCREEN, .available = available,
    .enumerate = enumerate_displays, .enumerate_windows = NULL, .owns_id = owns_id,
    .video_formats = video_formats, .configure = configure, .start = start, .stop = stop, .destroy = destroy,
};
