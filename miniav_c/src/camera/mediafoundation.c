/* Media Foundation cameras (Windows 7+): UVC webcams, capture cards, virtual cameras
 * registered with the Windows camera stack (frame server on Windows 10+).
 *
 * UNTESTED: no Media Foundation capture in Wine (Wine 8's MFEnumDeviceSources returns
 * S_OK with 0 devices), so only loading, enumeration, bad ids and errors are exercised
 * (tests/test_mediafoundation.c); the capture path is written against the documented
 * behaviour and compiled with -Werror, and must be run on real Windows before it is
 * trusted.
 *
 * Libraries: mfplat.dll, mf.dll and mfreadwrite.dll are loaded at run time: Windows "N"
 * editions lack them until the Media Feature Pack is installed, and the library must load
 * there anyway. GUIDs are defined in this file (<initguid.h>, selectany), so no GUID
 * library is needed; d3d11 and ole32 are linked.
 *
 * Capture: an IMFSourceReader in asynchronous mode (MF_SOURCE_READER_ASYNC_CALLBACK) with
 * an IMFSourceReaderCallback written in C below. Asynchronous because Stop must never
 * hang: a synchronous ReadSample blocks until the camera gives a frame (a stalled or
 * unplugged camera would block Stop), while an asynchronous reader is stopped by Flush,
 * which completes at once. Frames are delivered on Media Foundation's work-queue thread
 * (an MTA thread of MF's own), so no capture thread of ours exists.
 *
 * Zero copy: the camera's native media type is set (MF_READWRITE_DISABLE_CONVERTERS: no
 * conversion by MF); each sample's buffer is locked (IMF2DBuffer::Lock2D: the real stride)
 * and the IMFSample is held (AddRef) by the pool slot until the application releases the
 * buffer; the on_release hook unlocks and releases it. Samples are requested continuously;
 * when every slot is held, a new sample is released at once and counted as dropped, so a
 * slow application never stalls the camera. Bottom-up RGB (negative stride) cannot be
 * described by MiniAV's unsigned strides: those frames are copied flipped (counted).
 *
 * GPU output: the reader gets a D3D11 device (IMFDXGIDeviceManager, hardware transforms);
 * samples in DXGI surfaces are copied on the GPU into a texture of the slot (shared NT
 * handle) and delivered as MINIAV_BUFFER_CONTENT_TYPE_GPU_D3D11_HANDLE.
 */
#define WIN32_LEAN_AND_MEAN
#ifndef COBJMACROS
#define COBJMACROS
#endif
/* Defines (selectany) every GUID the headers below declare, in this file only. */
#include <initguid.h>
#include <windows.h>
#include <d3d11.h>
#include <d3d11_4.h>
#include <d3d10.h> /* ID3D10Multithread: the device's thread protection before Windows 10 */
#include <dxgi1_2.h>
#include <mfapi.h>
#include <mferror.h>
#include <mfidl.h>
#include <mfobjects.h>
#include <mfreadwrite.h>
#include <strmif.h>

#include "../common/d3d11_frames.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_PREFIX "mf:"
#define DEFAULT_BUFFERS 4u
#define FLUSH_TIMEOUT_MS 2000
#define GPU_COPY_TIMEOUT_US 100000

/* Not in mingw-w64's headers: QPC time of capture, 100-ns units (mfidl.h, Windows 7+). */
DEFINE_GUID(miniav_MFSampleExtension_DeviceTimestamp, 0x8f3e35e7, 0x2dcd, 0x4887, 0x86, 0x22, 0x2a, 0x58, 0xba, 0xa6, 0x52,
            0xb0);
#ifndef MF_E_VIDEO_RECORDING_DEVICE_PREEMPTED
#define MF_E_VIDEO_RECORDING_DEVICE_PREEMPTED _HRESULT_TYPEDEF_(0xc00d3ea3)
#endif
/* IAMVideoProcAmp's KSPROPERTY_VIDEOPROCAMP_POWERLINE_FREQUENCY: past the enum's end. */
#define PROCAMP_POWERLINE_FREQUENCY 13

/* ------------------------------------------------------------------ libraries */

static struct {
    HRESULT(WINAPI *MFStartup)(ULONG, DWORD);
    HRESULT(WINAPI *MFCreateAttributes)(IMFAttributes **, UINT32);
    HRESULT(WINAPI *MFCreateMediaType)(IMFMediaType **);
    HRESULT(WINAPI *MFCreateDXGIDeviceManager)(UINT *, IMFDXGIDeviceManager **); /* Windows 8+; NULL = no GPU frames */
    HRESULT(WINAPI *MFEnumDeviceSources)(IMFAttributes *, IMFActivate ***, UINT32 *);
    HRESULT(WINAPI *MFCreateSourceReaderFromMediaSource)(IMFMediaSource *, IMFAttributes *, IMFSourceReader **);
} mf;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;
static char load_error[256];

static bool open_with(const char *dll, const miniav_symbol *table, size_t count) {
    const char *const names[] = {dll, NULL};
    miniav_library *lib = miniav_library_open(names);
    if (!lib) {
        snprintf(load_error, sizeof load_error,
                 "%s is missing: this Windows has no Media Foundation (an \"N\" edition?); install the Media Feature Pack "
                 "(Settings > Apps > Optional features)",
                 dll);
        return false;
    }
    if (miniav_library_load_symbols(lib, table, count)) {
        snprintf(load_error, sizeof load_error, "%s: %s", dll, MiniAV_GetLastErrorMessage());
        miniav_library_close(lib);
        return false;
    }
    return true; /* open for the life of the process */
}

static void load_library(void) {
    const miniav_symbol plat[] = {
        {"MFStartup", (void **)&mf.MFStartup},
        {"MFCreateAttributes", (void **)&mf.MFCreateAttributes},
        {"MFCreateMediaType", (void **)&mf.MFCreateMediaType},
    };
    const miniav_symbol core[] = {{"MFEnumDeviceSources", (void **)&mf.MFEnumDeviceSources}};
    const miniav_symbol rw[] = {{"MFCreateSourceReaderFromMediaSource", (void **)&mf.MFCreateSourceReaderFromMediaSource}};
    if (!open_with("mfplat.dll", plat, 3) || !open_with("mf.dll", core, 1) || !open_with("mfreadwrite.dll", rw, 1)) {
        miniav_log(MINIAV_LOG_LEVEL_WARN, "mediafoundation: %s", load_error);
        return;
    }
    /* Optional: without it (Windows 7) frames come as CPU memory. mfplat.dll stays loaded. */
    HMODULE plat_module = GetModuleHandleA("mfplat.dll");
    if (plat_module)
        mf.MFCreateDXGIDeviceManager =
            (HRESULT(WINAPI *)(UINT *, IMFDXGIDeviceManager **))(void (*)(void))GetProcAddress(plat_module, "MFCreateDXGIDeviceManager");
    /* Started once for the process and never shut down: MFStartup is reference counted
     * and other code in the process may use MF too. */
    HRESULT hr = mf.MFStartup(MF_VERSION, MFSTARTUP_LITE);
    if (FAILED(hr)) {
        snprintf(load_error, sizeof load_error, "MFStartup failed (0x%08lx)", (unsigned long)hr);
        miniav_log(MINIAV_LOG_LEVEL_WARN, "mediafoundation: %s", load_error);
        return;
    }
    loaded = true;
}

static bool available(void) {
    pthread_once(&load_once, load_library);
    return loaded;
}

static const char *unavailable_reason(void) {
    pthread_once(&load_once, load_library);
    return loaded ? NULL : load_error;
}

/* COM on the calling thread, for calls from any application thread: true when this call
 * initialised it (undo with com_leave). RPC_E_CHANGED_MODE: the thread is already an STA,
 * where free-threaded MF objects work too. */
static bool com_enter(void) { return SUCCEEDED(CoInitializeEx(NULL, COINIT_MULTITHREADED)); }
static void com_leave(bool entered) {
    if (entered) CoUninitialize();
}

static MiniAVResultCode hr_fail(HRESULT hr, const char *camera, const char *what) {
    if (hr == E_ACCESSDENIED)
        return miniav_fail(MINIAV_ERROR_PERMISSION_DENIED,
                           "%s: Windows denied access to camera '%s'; allow it in Settings > Privacy & security > Camera "
                           "('Let desktop apps access your camera')",
                           what, camera);
    if (hr == MF_E_HW_MFT_FAILED_START_STREAMING || hr == MF_E_VIDEO_RECORDING_DEVICE_PREEMPTED)
        return miniav_fail(MINIAV_ERROR_DEVICE_BUSY, "%s: camera '%s' is in use by another application (0x%08lx)", what, camera,
                           (unsigned long)hr);
    if (hr == MF_E_VIDEO_RECORDING_DEVICE_INVALIDATED || hr == HRESULT_FROM_WIN32(ERROR_DEVICE_NOT_CONNECTED) ||
        hr == HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) || hr == MF_E_SHUTDOWN)
        return miniav_fail(MINIAV_ERROR_DEVICE_LOST, "%s: camera '%s' was unplugged (0x%08lx)", what, camera, (unsigned long)hr);
    if (hr == E_OUTOFMEMORY) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "%s: out of memory", what);
    return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "%s on camera '%s' failed (HRESULT 0x%08lx)", what, camera, (unsigned long)hr);
}

/* ------------------------------------------------------------------ formats */

/* Media subtypes are FOURCC or D3DFORMAT codes in Data1 of one base GUID. */
static const GUID subtype_base = {0, 0x0000, 0x0010, {0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71}};
#define FOURCC_OF(a, b, c, d) ((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))

static const struct {
    uint32_t code;
    MiniAVPixelFormat format;
} subtype_table[] = {
    {FOURCC_OF('N', 'V', '1', '2'), MINIAV_PIXEL_FORMAT_NV12},  {FOURCC_OF('N', 'V', '2', '1'), MINIAV_PIXEL_FORMAT_NV21},
    {FOURCC_OF('Y', 'U', 'Y', '2'), MINIAV_PIXEL_FORMAT_YUY2},  {FOURCC_OF('Y', 'U', 'Y', 'V'), MINIAV_PIXEL_FORMAT_YUY2},
    {FOURCC_OF('U', 'Y', 'V', 'Y'), MINIAV_PIXEL_FORMAT_UYVY},  {FOURCC_OF('I', '4', '2', '0'), MINIAV_PIXEL_FORMAT_I420},
    {FOURCC_OF('I', 'Y', 'U', 'V'), MINIAV_PIXEL_FORMAT_I420},  {FOURCC_OF('M', 'J', 'P', 'G'), MINIAV_PIXEL_FORMAT_MJPEG},
    {FOURCC_OF('Y', '8', '0', '0'), MINIAV_PIXEL_FORMAT_GRAY8}, {FOURCC_OF('G', 'R', 'E', 'Y'), MINIAV_PIXEL_FORMAT_GRAY8},
    {50 /* D3DFMT_L8: MFVideoFormat_L8 */, MINIAV_PIXEL_FORMAT_GRAY8},
    {22 /* D3DFMT_X8R8G8B8: MFVideoFormat_RGB32, bytes B,G,R,x */, MINIAV_PIXEL_FORMAT_BGRX32},
    {21 /* D3DFMT_A8R8G8B8: MFVideoFormat_ARGB32, bytes B,G,R,A */, MINIAV_PIXEL_FORMAT_BGRA32},
    {20 /* D3DFMT_R8G8B8: MFVideoFormat_RGB24, bytes B,G,R */, MINIAV_PIXEL_FORMAT_BGR24},
};

static MiniAVPixelFormat pixel_format_of(const GUID *subtype) {
    GUID base = *subtype;
    base.Data1 = 0;
    if (!IsEqualGUID(&base, &subtype_base)) return MINIAV_PIXEL_FORMAT_UNKNOWN;
    for (size_t i = 0; i < sizeof subtype_table / sizeof subtype_table[0]; i++)
        if (subtype_table[i].code == subtype->Data1) return subtype_table[i].format;
    return MINIAV_PIXEL_FORMAT_UNKNOWN;
}

/* "NV12", or the D3DFORMAT number for RGB subtypes. */
static void subtype_text(uint32_t code, char out[12]) {
    bool printable = true;
    for (int i = 0; i < 4; i++) {
        unsigned c = (code >> (8 * i)) & 0xff;
        printable = printable && c >= 0x20 && c < 0x7f;
    }
    if (printable)
        for (int i = 0; i < 4; i++) out[i] = (char)((code >> (8 * i)) & 0xff), out[4] = '\0';
    else
        snprintf(out, 12, "%u", code);
}

static uint32_t packed_bytes_per_pixel(MiniAVPixelFormat f) {
    switch (f) {
    case MINIAV_PIXEL_FORMAT_YUY2:
    case MINIAV_PIXEL_FORMAT_UYVY: return 2;
    case MINIAV_PIXEL_FORMAT_BGR24:
    case MINIAV_PIXEL_FORMAT_RGB24: return 3;
    case MINIAV_PIXEL_FORMAT_BGRX32:
    case MINIAV_PIXEL_FORMAT_BGRA32:
    case MINIAV_PIXEL_FORMAT_RGBA32:
    case MINIAV_PIXEL_FORMAT_RGBX32:
    case MINIAV_PIXEL_FORMAT_ARGB32:
    case MINIAV_PIXEL_FORMAT_ABGR32: return 4;
    case MINIAV_PIXEL_FORMAT_GRAY8: return 1;
    default: return 0; /* planar, compressed or unknown */
    }
}

/* One native media type of the camera, as read from the source reader. */
typedef struct {
    IMFMediaType *type;
    GUID subtype;
    MiniAVPixelFormat format;
    uint32_t width, height;
    uint32_t fps_num, fps_den;             /* MF_MT_FRAME_RATE (0/0 when absent) */
    uint32_t min_num, min_den, max_num, max_den; /* MF_MT_FRAME_RATE_RANGE_MIN/MAX (0/0 when absent) */
    int32_t default_stride;                /* MF_MT_DEFAULT_STRIDE, 0 when absent */
    bool compressed;
} native_type;

static void ratio_of(IMFMediaType *t, const GUID *key, uint32_t *num, uint32_t *den) {
    UINT64 v = 0;
    *num = *den = 0;
    if (SUCCEEDED(IMFMediaType_GetUINT64(t, key, &v)) && (uint32_t)v) {
        *num = (uint32_t)(v >> 32);
        *den = (uint32_t)v;
    }
}

static void native_types_free(native_type *types, uint32_t count) {
    for (uint32_t i = 0; i < count; i++)
        if (types[i].type) IMFMediaType_Release(types[i].type);
    free(types);
}

/* Every native type of the reader's first video stream. */
static MiniAVResultCode read_native_types(IMFSourceReader *reader, const char *camera, native_type **out, uint32_t *count) {
    native_type *types = NULL;
    uint32_t n = 0, cap = 0;
    for (DWORD i = 0;; i++) {
        IMFMediaType *t = NULL;
        HRESULT hr = IMFSourceReader_GetNativeMediaType(reader, (DWORD)MF_SOURCE_READER_FIRST_VIDEO_STREAM, i, &t);
        if (hr == MF_E_NO_MORE_TYPES) break;
        if (FAILED(hr)) {
            native_types_free(types, n);
            return hr_fail(hr, camera, "listing the formats");
        }
        GUID major = {0}, sub = {0};
        UINT64 size = 0;
        if (FAILED(IMFMediaType_GetGUID(t, &MF_MT_MAJOR_TYPE, &major)) || !IsEqualGUID(&major, &MFMediaType_Video) ||
            FAILED(IMFMediaType_GetGUID(t, &MF_MT_SUBTYPE, &sub)) || FAILED(IMFMediaType_GetUINT64(t, &MF_MT_FRAME_SIZE, &size))) {
            IMFMediaType_Release(t);
            continue;
        }
        if (n == cap) {
            uint32_t grown_cap = cap ? cap * 2 : 32;
            native_type *grown = realloc(types, grown_cap * sizeof *grown);
            if (!grown) {
                IMFMediaType_Release(t);
                native_types_free(types, n);
                return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
            }
            types = grown;
            cap = grown_cap;
        }
        native_type *nt = &types[n++];
        memset(nt, 0, sizeof *nt);
        nt->type = t;
        nt->subtype = sub;
        nt->format = pixel_format_of(&sub);
        nt->width = (uint32_t)(size >> 32);
        nt->height = (uint32_t)size;
        ratio_of(t, &MF_MT_FRAME_RATE, &nt->fps_num, &nt->fps_den);
        ratio_of(t, &MF_MT_FRAME_RATE_RANGE_MIN, &nt->min_num, &nt->min_den);
        ratio_of(t, &MF_MT_FRAME_RATE_RANGE_MAX, &nt->max_num, &nt->max_den);
        UINT32 stride = 0, all_independent = 0;
        if (SUCCEEDED(IMFMediaType_GetUINT32(t, &MF_MT_DEFAULT_STRIDE, &stride))) nt->default_stride = (int32_t)stride;
        nt->compressed = nt->format == MINIAV_PIXEL_FORMAT_MJPEG ||
                         (FAILED(IMFMediaType_GetUINT32(t, &MF_MT_ALL_SAMPLES_INDEPENDENT, &all_independent)) &&
                          nt->format == MINIAV_PIXEL_FORMAT_UNKNOWN && !nt->default_stride);
        if (nt->format == MINIAV_PIXEL_FORMAT_UNKNOWN) {
            UINT32 compressed = 0;
            if (SUCCEEDED(IMFMediaType_GetUINT32(t, &MF_MT_COMPRESSED, &compressed))) nt->compressed = compressed != 0;
        }
    }
    *out = types;
    *count = n;
    return MINIAV_SUCCESS;
}

static double fps_of(uint32_t num, uint32_t den) { return den ? (double)num / den : 0; }

/* ------------------------------------------------------------------ devices */

typedef struct {
    IMFActivate **items;
    UINT32 count;
} device_set;

static void device_set_free(device_set *d) {
    for (UINT32 i = 0; i < d->count; i++) IMFActivate_Release(d->items[i]);
    CoTaskMemFree(d->items);
    d->items = NULL;
    d->count = 0;
}

static MiniAVResultCode list_devices(device_set *out) {
    IMFAttributes *attrs = NULL;
    memset(out, 0, sizeof *out);
    HRESULT hr = mf.MFCreateAttributes(&attrs, 1);
    if (SUCCEEDED(hr)) hr = IMFAttributes_SetGUID(attrs, &MF_DEVSOURCE_ATTRIBUTE_SOURCE_TYPE, &MF_DEVSOURCE_ATTRIBUTE_SOURCE_TYPE_VIDCAP_GUID);
    if (SUCCEEDED(hr)) hr = mf.MFEnumDeviceSources(attrs, &out->items, &out->count);
    if (attrs) IMFAttributes_Release(attrs);
    if (FAILED(hr)) {
        memset(out, 0, sizeof *out);
        return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "listing Media Foundation cameras failed (HRESULT 0x%08lx)", (unsigned long)hr);
    }
    return MINIAV_SUCCESS;
}

static bool activate_string(IMFActivate *a, const GUID *key, char *out, size_t size) {
    WCHAR *w = NULL;
    UINT32 len = 0;
    out[0] = '\0';
    if (FAILED(IMFActivate_GetAllocatedString(a, key, &w, &len)) || !w) return false;
    miniav_utf16_to_utf8(out, size, w);
    /* A truncated symbolic link would not round-trip: such an id is not offered. */
    bool whole = (size_t)WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL) <= size;
    CoTaskMemFree(w);
    return whole;
}

/* The device's id ("mf:" + symbolic link) and friendly name; false if the id does not fit. */
static bool device_id_of(IMFActivate *a, char id[256], char name[256]) {
    char link[256 - sizeof ID_PREFIX + 1];
    if (!activate_string(a, &MF_DEVSOURCE_ATTRIBUTE_SOURCE_TYPE_VIDCAP_SYMBOLIC_LINK, link, sizeof link)) return false;
    snprintf(id, 256, ID_PREFIX "%s", link);
    if (!activate_string(a, &MF_DEVSOURCE_ATTRIBUTE_FRIENDLY_NAME, name, 256) && !name[0]) miniav_copy_string(name, 256, link);
    return true;
}

static bool owns_id(const char *id) { return !strncmp(id, ID_PREFIX, strlen(ID_PREFIX)); }

static MiniAVResultCode enumerate(miniav_device_list *out, MiniAVLoopbackTargetType filter) {
    (void)filter;
    bool com = com_enter();
    device_set d;
    MiniAVResultCode r = list_devices(&d);
    uint32_t added = 0;
    for (UINT32 i = 0; !r && i < d.count; i++) {
        char id[256], name[256];
        if (!device_id_of(d.items[i], id, name)) {
            miniav_log(MINIAV_LOG_LEVEL_WARN, "mediafoundation: camera %u has a symbolic link too long for a MiniAV id; left out", i);
            continue;
        }
        MiniAVDeviceInfo *info = miniav_device_list_add(out);
        if (!info) {
            r = miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
            break;
        }
        miniav_copy_string(info->device_id, sizeof info->device_id, id);
        miniav_copy_string(info->name, sizeof info->name, name);
        info->is_default = added++ == 0; /* Windows has no default camera: the first one */
    }
    device_set_free(&d);
    com_leave(com);
    return r;
}

/* The activation object of an id (AddRef'd) and the camera's name. */
static MiniAVResultCode find_device(const char *device_id, IMFActivate **found, char name[256]) {
    device_set d;
    MiniAVResultCode r = list_devices(&d);
    if (r) return r;
    *found = NULL;
    for (UINT32 i = 0; i < d.count && !*found; i++) {
        char id[256];
        /* Symbolic links are case-insensitive device paths. */
        if (device_id_of(d.items[i], id, name) && !_stricmp(id, device_id)) {
            *found = d.items[i];
            IMFActivate_AddRef(*found);
        }
    }
    UINT32 n = d.count;
    device_set_free(&d);
    if (!*found)
        return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND,
                           "no Media Foundation camera '%s' (unplugged? %u camera%s present); list the ids with enumerate", device_id, n,
                           n == 1 ? "" : "s");
    return MINIAV_SUCCESS;
}

static MiniAVResultCode open_source(const char *device_id, IMFMediaSource **source, char name[256]) {
    IMFActivate *a = NULL;
    MiniAVResultCode r = find_device(device_id, &a, name);
    if (r) return r;
    HRESULT hr = IMFActivate_ActivateObject(a, &IID_IMFMediaSource, (void **)source);
    IMFActivate_Release(a);
    return FAILED(hr) ? hr_fail(hr, name, "opening the camera") : MINIAV_SUCCESS;
}

/* A source reader over the source; the source stays alive (and ours to shut down) when the
 * reader goes. callback NULL = synchronous (format lists); manager non-NULL = DXGI samples. */
static MiniAVResultCode make_reader(IMFMediaSource *source, const char *camera, IMFSourceReaderCallback *callback,
                                    IMFDXGIDeviceManager *manager, IMFSourceReader **out) {
    IMFAttributes *attrs = NULL;
    HRESULT hr = mf.MFCreateAttributes(&attrs, 4);
    if (SUCCEEDED(hr)) hr = IMFAttributes_SetUINT32(attrs, &MF_SOURCE_READER_DISCONNECT_MEDIASOURCE_ON_SHUTDOWN, TRUE);
    /* Native formats only: MF would otherwise insert converters behind our back. */
    if (SUCCEEDED(hr)) hr = IMFAttributes_SetUINT32(attrs, &MF_READWRITE_DISABLE_CONVERTERS, TRUE);
    if (SUCCEEDED(hr) && callback) hr = IMFAttributes_SetUnknown(attrs, &MF_SOURCE_READER_ASYNC_CALLBACK, (IUnknown *)callback);
    if (SUCCEEDED(hr) && manager) {
        hr = IMFAttributes_SetUnknown(attrs, &MF_SOURCE_READER_D3D_MANAGER, (IUnknown *)manager);
        if (SUCCEEDED(hr)) hr = IMFAttributes_SetUINT32(attrs, &MF_READWRITE_ENABLE_HARDWARE_TRANSFORMS, TRUE);
    }
    if (SUCCEEDED(hr)) hr = mf.MFCreateSourceReaderFromMediaSource(source, attrs, out);
    if (attrs) IMFAttributes_Release(attrs);
    return FAILED(hr) ? hr_fail(hr, camera, "creating a source reader") : MINIAV_SUCCESS;
}

/* The source's native types, through a temporary synchronous reader. */
static MiniAVResultCode source_types(IMFMediaSource *source, const char *camera, native_type **types, uint32_t *count,
                                     GUID *current_subtype, UINT64 *current_size) {
    IMFSourceReader *reader = NULL;
    MiniAVResultCode r = make_reader(source, camera, NULL, NULL, &reader);
    if (r) return r;
    r = read_native_types(reader, camera, types, count);
    if (!r && current_subtype) {
        IMFMediaType *t = NULL;
        memset(current_subtype, 0, sizeof *current_subtype);
        *current_size = 0;
        if (SUCCEEDED(IMFSourceReader_GetCurrentMediaType(reader, (DWORD)MF_SOURCE_READER_FIRST_VIDEO_STREAM, &t))) {
            IMFMediaType_GetGUID(t, &MF_MT_SUBTYPE, current_subtype);
            IMFMediaType_GetUINT64(t, &MF_MT_FRAME_SIZE, current_size);
            IMFMediaType_Release(t);
        }
    }
    IMFSourceReader_Release(reader);
    return r;
}

/* ------------------------------------------------------------------ format lists */

typedef struct {
    MiniAVVideoFormatInfo *items;
    uint32_t count, capacity;
} format_list;

static bool add_format(format_list *l, const native_type *t, uint32_t num, uint32_t den) {
    for (uint32_t i = 0; i < l->count; i++) {
        const MiniAVVideoFormatInfo *f = &l->items[i];
        if (f->fourcc == t->subtype.Data1 && f->width == t->width && f->height == t->height && f->frame_rate_numerator == num &&
            f->frame_rate_denominator == den)
            return true;
    }
    if (l->count == l->capacity) {
        uint32_t cap = l->capacity ? l->capacity * 2 : 32;
        MiniAVVideoFormatInfo *grown = realloc(l->items, cap * sizeof *grown);
        if (!grown) return false;
        l->items = grown;
        l->capacity = cap;
    }
    MiniAVVideoFormatInfo *f = &l->items[l->count++];
    memset(f, 0, sizeof *f);
    f->fourcc = (uint32_t)t->subtype.Data1;
    f->pixel_format = t->format;
    f->width = t->width;
    f->height = t->height;
    f->frame_rate_numerator = num;
    f->frame_rate_denominator = den;
    return true;
}

static MiniAVResultCode video_formats(const char *device_id, MiniAVVideoFormatInfo **formats, uint32_t *count) {
    bool com = com_enter();
    char name[256];
    IMFMediaSource *source = NULL;
    native_type *types = NULL;
    uint32_t n = 0;
    format_list l = {0};
    MiniAVResultCode r = open_source(device_id, &source, name);
    if (!r) r = source_types(source, name, &types, &n, NULL, NULL);
    for (uint32_t i = 0; !r && i < n; i++) {
        const native_type *t = &types[i];
        /* The nominal rate, and the ends of the range the camera also accepts. */
        bool ok = add_format(&l, t, t->fps_num, t->fps_den);
        if (ok && t->max_num && fps_of(t->max_num, t->max_den) != fps_of(t->fps_num, t->fps_den))
            ok = add_format(&l, t, t->max_num, t->max_den);
        if (ok && t->min_num && fps_of(t->min_num, t->min_den) != fps_of(t->fps_num, t->fps_den))
            ok = add_format(&l, t, t->min_num, t->min_den);
        if (!ok) r = miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    native_types_free(types, n);
    if (source) {
        IMFMediaSource_Shutdown(source);
        IMFMediaSource_Release(source);
    }
    com_leave(com);
    if (r) {
        free(l.items);
        return r;
    }
    *formats = l.items;
    *count = l.count;
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ buffers */

typedef enum { LOCK_NONE = 0, LOCK_2D, LOCK_PLAIN } lock_kind;

/* A camera sample held for the application: given back to MF when the buffer is released. */
typedef struct {
    IMFSample *sample;       /* held (AddRef) until release */
    IMFMediaBuffer *buffer;  /* locked as `lock` says */
    IMF2DBuffer *buffer2d;
    lock_kind lock;
} held_sample;

/* What a pool slot holds while the application has its buffer. */
typedef struct {
    held_sample held;
    uint8_t *flip;           /* bottom-up frames, copied top-down */
    size_t flip_size;
    ID3D11Texture2D *texture; /* GPU frames: the slot's shared texture */
    HANDLE shared_handle;
    D3D11_TEXTURE2D_DESC texture_desc;
} slot_data;

/* Owned by the pool (freed by on_free), so a buffer released after Stop or Destroy still
 * finds its sample and texture. */
typedef struct {
    uint32_t count;
    slot_data slots[];
} sample_set;

static void held_release(held_sample *h) {
    if (h->lock == LOCK_2D) IMF2DBuffer_Unlock2D(h->buffer2d);
    if (h->lock == LOCK_PLAIN) IMFMediaBuffer_Unlock(h->buffer);
    h->lock = LOCK_NONE;
    if (h->buffer2d) IMF2DBuffer_Release(h->buffer2d);
    if (h->buffer) IMFMediaBuffer_Release(h->buffer);
    if (h->sample) IMFSample_Release(h->sample); /* back to the camera's allocator */
    h->buffer2d = NULL;
    h->buffer = NULL;
    h->sample = NULL;
}

/* On the capture (MF) thread, for a slot it is filling. */
static void slot_unlock(slot_data *sd) { held_release(&sd->held); }

static VOID CALLBACK release_work(PTP_CALLBACK_INSTANCE instance, PVOID ctx) {
    (void)instance;
    held_sample *h = ctx;
    held_release(h);
    free(h);
}

/* The application released a buffer. This runs under the core's buffer lock, which every
 * stream's acquire and release takes: giving a sample back to MF (Unlock2D, the last
 * IMFSample_Release) may go to the camera's allocator or the frame server in another
 * process, or take an MF lock that is held around an OnReadSample waiting for our lock.
 * So the sample is only taken out of the slot here and given back on a thread-pool
 * thread, outside the lock; at once all the same, so the camera never runs short of
 * samples because of us. Samples are requested continuously: nothing to ask for here. */
static void buffer_released(void *ctx, miniav_slot *slot) {
    sample_set *set = ctx;
    if (slot->index >= set->count) return;
    slot_data *sd = &set->slots[slot->index];
    if (!sd->held.sample && !sd->held.buffer) return; /* a GPU frame: a copy, nothing held */
    held_sample *h = malloc(sizeof *h);
    if (h) {
        *h = sd->held;
        memset(&sd->held, 0, sizeof sd->held);
        if (TrySubmitThreadpoolCallback(release_work, h, NULL)) return;
        sd->held = *h;
        free(h);
    }
    held_release(&sd->held); /* out of memory: here, as the last resort */
}

static void sample_set_free_now(sample_set *set) {
    for (uint32_t i = 0; i < set->count; i++) {
        slot_data *sd = &set->slots[i];
        slot_unlock(sd);
        free(sd->flip);
        if (sd->shared_handle) CloseHandle(sd->shared_handle);
        if (sd->texture) ID3D11Texture2D_Release(sd->texture);
    }
    free(set);
}

static VOID CALLBACK set_free_work(PTP_CALLBACK_INSTANCE instance, PVOID ctx) {
    (void)instance;
    sample_set_free_now(ctx);
}

/* The pool is freed (core's buffer lock held, perhaps after the stream is gone): samples
 * and textures are released on a thread-pool thread, as in buffer_released. */
static void sample_set_free(void *ctx) {
    if (!TrySubmitThreadpoolCallback(set_free_work, ctx, NULL)) sample_set_free_now(ctx);
}

/* ------------------------------------------------------------------ stream state */

typedef struct mf_state mf_state;

/* The IMFSourceReaderCallback. Its own allocation with a reference count: the reader holds
 * it and may release it after the stream is gone, and OnReadSample holds it while it runs.
 * The run state lives here, not in mf_state, because the application may Stop, Start or
 * Destroy from inside its buffer callback (on the MF thread, inside OnReadSample): after
 * delivering, OnReadSample looks here to learn whether mf_state still exists and is still
 * the same run before it touches it again. */
typedef struct {
    IMFSourceReaderCallback iface;
    LONG refs;
    pthread_mutex_t lock; /* state, running, inflight, run */
    pthread_cond_t idle;
    mf_state *state;      /* NULL after Destroy (which frees it) */
    bool running;
    uint32_t inflight;    /* OnReadSample calls between their first and last look at state */
    uint64_t run;         /* bumped by every start: a callback of an earlier run asks for no more samples */
    HANDLE flushed;       /* set by OnFlush */
} reader_callback;

/* The callback this thread is delivering for (inside OnReadSample), so that a Stop from the
 * application's buffer callback does not wait for itself. */
static _Thread_local reader_callback *delivering;

struct mf_state {
    miniav_stream *stream;
    char name[256];
    IMFMediaSource *source;
    IMFMediaType *type;           /* the native type to set at start */
    native_type chosen;           /* its description (chosen.type not owned) */
    IMFSourceReader *reader;      /* while running */
    reader_callback *callback;
    bool ended;                   /* callback thread only: an error or end of stream was reported */
    uint64_t frames;              /* callback thread only */
    bool have_anchor;
    int64_t anchor_us;
    sample_set *set;              /* owned by the pool */
    /* GPU output */
    ID3D11Device *device;
    ID3D11DeviceContext *context;
    IMFDXGIDeviceManager *manager;
    ID3D11Query *copy_done;
    bool gpu_ready;               /* GPU frames asked for and a device made */
    bool gpu;                     /* this run tries GPU frames (off after the first failure) */
    /* Properties */
    IAMVideoProcAmp *procamp;
    IAMCameraControl *camera_control;
};

/* ------------------------------------------------------------------ frames */

/* MiniAV time of a sample. The capture time on the QPC clock is the sample's
 * MFSampleExtension_DeviceTimestamp (100-ns units); IMFSample's own time (and the reader's
 * llTimestamp) counts from the start of streaming, used, anchored to the arrival of the
 * first frame, only where a source leaves the attribute out. */
static int64_t frame_time(mf_state *st, IMFSample *sample, LONGLONG reader_time) {
    int64_t now = MiniAV_GetTimeUs();
    UINT64 hns = 0;
    if (SUCCEEDED(IMFSample_GetUINT64(sample, &miniav_MFSampleExtension_DeviceTimestamp, &hns)) && hns <= INT64_MAX) {
        int64_t t = miniav_time_from_100ns_qpc((int64_t)hns);
        if (t > 0 && t <= now && now - t < 10 * 1000000) return t;
    }
    if (!st->have_anchor) {
        st->anchor_us = now - reader_time / 10;
        st->have_anchor = true;
    }
    int64_t t = st->anchor_us + reader_time / 10;
    return t > now ? now : t;
}

/* Plane pointers from the top row and a positive stride. The chroma planes of 2D buffers
 * follow the luma plane's `rows` rows (the frame's height in MF's layout for system-memory
 * frames; a D3D surface's height, perhaps padded, for DXGI buffers: see luma_rows). */
static bool split_planes(MiniAVBuffer *b, uint8_t *top, uint32_t stride, uint32_t height, uint32_t rows, size_t length) {
    MiniAVPixelFormat f = b->data.video.pixel_format;
    size_t y = (size_t)stride * height, at = (size_t)stride * (rows > height ? rows : height), total;
    if (f == MINIAV_PIXEL_FORMAT_I420) {
        uint32_t crows = ((rows > height ? rows : height) + 1) / 2;
        size_t c = (size_t)(stride / 2) * ((height + 1) / 2), cat = (size_t)(stride / 2) * crows;
        b->data.video.num_planes = 3;
        b->data.video.planes[0] = top, b->data.video.stride_bytes[0] = stride, b->data.video.plane_size_bytes[0] = y;
        b->data.video.planes[1] = top + at, b->data.video.stride_bytes[1] = stride / 2, b->data.video.plane_size_bytes[1] = c;
        b->data.video.planes[2] = top + at + cat, b->data.video.stride_bytes[2] = stride / 2, b->data.video.plane_size_bytes[2] = c;
        total = at + cat + c;
    } else if (f == MINIAV_PIXEL_FORMAT_NV12 || f == MINIAV_PIXEL_FORMAT_NV21) {
        size_t c = (size_t)stride * ((height + 1) / 2);
        b->data.video.num_planes = 2;
        b->data.video.planes[0] = top, b->data.video.stride_bytes[0] = stride, b->data.video.plane_size_bytes[0] = y;
        b->data.video.planes[1] = top + at, b->data.video.stride_bytes[1] = stride, b->data.video.plane_size_bytes[1] = c;
        total = at + c;
    } else {
        /* Packed, or a format MiniAV does not know: one plane of every row. */
        b->data.video.num_planes = 1;
        b->data.video.planes[0] = top, b->data.video.stride_bytes[0] = stride;
        b->data.video.plane_size_bytes[0] = f == MINIAV_PIXEL_FORMAT_UNKNOWN && length ? length : y;
        total = b->data.video.plane_size_bytes[0];
    }
    b->data_size_bytes = total;
    return !length || total <= length; /* never describe memory past the buffer */
}

static void describe_common(mf_state *st, MiniAVBuffer *b, int64_t ts) {
    memset(b, 0, sizeof *b);
    b->type = MINIAV_BUFFER_TYPE_VIDEO;
    b->content_type = MINIAV_BUFFER_CONTENT_TYPE_CPU;
    b->timestamp_us = ts;
    b->data.video.width = st->chosen.width;
    b->data.video.height = st->chosen.height;
    b->data.video.pixel_format = st->chosen.format;
    b->data.video.fourcc = (uint32_t)st->chosen.subtype.Data1;
    b->data.video.native_gpu_dmabuf_fd = -1;
}

/* Rows of the luma plane in memory for planar formats (chroma starts after them).
 * System-memory buffers: the frame's height (MF's contiguous layout). A buffer over a D3D
 * surface (a GPU sample delivered as CPU memory) maps as the surface: chroma after the
 * texture's height, which decoders and some cameras pad (1088 for 1080 rows).
 * UNVERIFIED for system-memory buffers with padded luma (no such camera here): their
 * length is checked (split_planes never describes memory past it) but an allocator that
 * pads rows without saying so would give shifted chroma. */
static uint32_t luma_rows(const mf_state *st, IMFMediaBuffer *mb) {
    uint32_t h = st->chosen.height, rows = h;
    MiniAVPixelFormat f = st->chosen.format;
    if (f != MINIAV_PIXEL_FORMAT_NV12 && f != MINIAV_PIXEL_FORMAT_NV21 && f != MINIAV_PIXEL_FORMAT_I420) return h;
    IMFDXGIBuffer *dx = NULL;
    if (FAILED(IMFMediaBuffer_QueryInterface(mb, &IID_IMFDXGIBuffer, (void **)&dx))) return h;
    ID3D11Texture2D *t = NULL;
    if (SUCCEEDED(IMFDXGIBuffer_GetResource(dx, &IID_ID3D11Texture2D, (void **)&t))) {
        D3D11_TEXTURE2D_DESC d;
        ID3D11Texture2D_GetDesc(t, &d);
        if (d.Height > h) rows = d.Height;
        ID3D11Texture2D_Release(t);
    }
    IMFDXGIBuffer_Release(dx);
    return rows;
}

/* Locks the sample's memory into the slot (zero copy). False: the frame cannot be delivered. */
static bool cpu_frame(mf_state *st, IMFSample *sample, miniav_slot *slot, slot_data *sd) {
    MiniAVBuffer *b = &slot->buffer;
    IMFMediaBuffer *mb = NULL;
    /* One buffer per camera sample: this returns it (AddRef'd), no copy. */
    HRESULT hr = IMFSample_ConvertToContiguousBuffer(sample, &mb);
    if (FAILED(hr)) return false;
    sd->held.buffer = mb;
    if (st->chosen.compressed) {
        BYTE *p = NULL;
        DWORD max_len = 0, len = 0;
        if (FAILED(IMFMediaBuffer_Lock(mb, &p, &max_len, &len))) return false;
        sd->held.lock = LOCK_PLAIN;
        b->data.video.num_planes = 1;
        b->data.video.planes[0] = p;
        b->data.video.plane_size_bytes[0] = len;
        b->data_size_bytes = len;
        return true;
    }
    BYTE *top = NULL;
    LONG pitch = 0;
    size_t length = 0; /* bytes from the lowest row address; 0 = unknown */
    IMF2DBuffer2 *b2 = NULL;
    IMF2DBuffer *b1 = NULL;
    if (SUCCEEDED(IMFMediaBuffer_QueryInterface(mb, &IID_IMF2DBuffer2, (void **)&b2))) {
        BYTE *start = NULL;
        DWORD len = 0;
        hr = IMF2DBuffer2_Lock2DSize(b2, MF2DBuffer_LockFlags_Read, &top, &pitch, &start, &len);
        if (SUCCEEDED(hr)) {
            length = len;
            if (pitch > 0) length -= (size_t)(top - start);
            sd->held.buffer2d = (IMF2DBuffer *)b2; /* IMF2DBuffer2 derives from it: Unlock2D ends this lock */
            sd->held.lock = LOCK_2D;
        } else {
            IMF2DBuffer2_Release(b2);
        }
    } else if (SUCCEEDED(IMFMediaBuffer_QueryInterface(mb, &IID_IMF2DBuffer, (void **)&b1))) {
        hr = IMF2DBuffer_Lock2D(b1, &top, &pitch);
        if (SUCCEEDED(hr)) {
            sd->held.buffer2d = b1;
            sd->held.lock = LOCK_2D;
        } else {
            IMF2DBuffer_Release(b1);
        }
    }
    if (sd->held.lock == LOCK_NONE) {
        /* A plain buffer: rows at the type's default stride; negative = bottom-up. */
        BYTE *p = NULL;
        DWORD max_len = 0, len = 0;
        if (FAILED(IMFMediaBuffer_Lock(mb, &p, &max_len, &len))) return false;
        sd->held.lock = LOCK_PLAIN;
        pitch = st->chosen.default_stride;
        if (!pitch) pitch = (LONG)(st->chosen.width * (packed_bytes_per_pixel(st->chosen.format) ? packed_bytes_per_pixel(st->chosen.format) : 1));
        top = pitch < 0 ? p + (size_t)(st->chosen.height - 1) * (size_t)(-pitch) : p;
        length = len;
    }
    if (pitch > 0) return split_planes(b, top, (uint32_t)pitch, st->chosen.height, luma_rows(st, mb), length);

    /* Bottom-up (RGB of old drivers): rows run backwards in memory, which MiniAV's strides
     * cannot say; copy them top-down into the slot's own memory. */
    uint32_t bpp = packed_bytes_per_pixel(st->chosen.format);
    if (!bpp) return false; /* only packed RGB is ever bottom-up */
    size_t row = (size_t)(-pitch), need = row * st->chosen.height;
    if (sd->flip_size < need) {
        uint8_t *grown = realloc(sd->flip, need);
        if (!grown) return false;
        sd->flip = grown;
        sd->flip_size = need;
    }
    for (uint32_t y = 0; y < st->chosen.height; y++) memcpy(sd->flip + y * row, top - (ptrdiff_t)(y * row), row);
    atomic_fetch_add(&st->stream->copies, 1);
    slot_unlock(sd); /* the copy is ours: the sample goes back now */
    return split_planes(b, sd->flip, (uint32_t)row, st->chosen.height, st->chosen.height, need);
}

static MiniAVPixelFormat pixel_format_of_dxgi(DXGI_FORMAT f) {
    switch (f) {
    case DXGI_FORMAT_NV12: return MINIAV_PIXEL_FORMAT_NV12;
    case DXGI_FORMAT_YUY2: return MINIAV_PIXEL_FORMAT_YUY2;
    case DXGI_FORMAT_B8G8R8A8_UNORM: return MINIAV_PIXEL_FORMAT_BGRA32;
    case DXGI_FORMAT_B8G8R8X8_UNORM: return MINIAV_PIXEL_FORMAT_BGRX32;
    case DXGI_FORMAT_R8G8B8A8_UNORM: return MINIAV_PIXEL_FORMAT_RGBA32;
    case DXGI_FORMAT_R8_UNORM: return MINIAV_PIXEL_FORMAT_GRAY8;
    default: return MINIAV_PIXEL_FORMAT_UNKNOWN;
    }
}

/* The slot's shared texture for w x h frames of `src`'s format (created, or re-created on a
 * new size). */
static HRESULT ensure_texture(mf_state *st, slot_data *sd, const D3D11_TEXTURE2D_DESC *src, UINT w, UINT h) {
    if (sd->texture && sd->texture_desc.Width == w && sd->texture_desc.Height == h && sd->texture_desc.Format == src->Format)
        return S_OK;
    if (sd->shared_handle) CloseHandle(sd->shared_handle);
    if (sd->texture) ID3D11Texture2D_Release(sd->texture);
    sd->shared_handle = NULL;
    sd->texture = NULL;
    D3D11_TEXTURE2D_DESC d;
    memset(&d, 0, sizeof d);
    d.Width = w;
    d.Height = h;
    d.MipLevels = 1;
    d.ArraySize = 1;
    d.Format = src->Format;
    d.SampleDesc.Count = 1;
    d.Usage = D3D11_USAGE_DEFAULT;
    d.BindFlags = D3D11_BIND_SHADER_RESOURCE;
    d.MiscFlags = D3D11_RESOURCE_MISC_SHARED | D3D11_RESOURCE_MISC_SHARED_NTHANDLE;
    HRESULT hr = ID3D11Device_CreateTexture2D(st->device, &d, NULL, &sd->texture);
    if (FAILED(hr)) { /* some YUV formats cannot be shader resources on older hardware */
        d.BindFlags = 0;
        hr = ID3D11Device_CreateTexture2D(st->device, &d, NULL, &sd->texture);
    }
    if (FAILED(hr)) return hr;
    hr = miniav_d3d11_share(sd->texture, &sd->shared_handle);
    if (FAILED(hr)) {
        ID3D11Texture2D_Release(sd->texture);
        sd->texture = NULL;
        sd->shared_handle = NULL;
        return hr;
    }
    sd->texture_desc = d;
    return S_OK;
}

/* gpu_frame's answer when the copy did not finish in time: this frame is lost, GPU output
 * goes on. */
#define GPU_COPY_LATE DXGI_ERROR_WAS_STILL_DRAWING

/* A sample in a DXGI surface: GPU copy into the slot's shared texture. S_FALSE: not a DXGI
 * sample (deliver it as CPU memory); GPU_COPY_LATE: the copy did not finish in
 * GPU_COPY_TIMEOUT_US (the frame is not delivered: the texture may still be written);
 * other failures: no GPU frames for the rest of the run. */
static HRESULT gpu_frame(mf_state *st, IMFSample *sample, miniav_slot *slot, slot_data *sd) {
    IMFMediaBuffer *mb = NULL;
    IMFDXGIBuffer *dx = NULL;
    ID3D11Texture2D *src = NULL;
    UINT sub = 0;
    HRESULT hr = IMFSample_GetBufferByIndex(sample, 0, &mb);
    if (FAILED(hr)) return hr;
    hr = IMFMediaBuffer_QueryInterface(mb, &IID_IMFDXGIBuffer, (void **)&dx);
    IMFMediaBuffer_Release(mb);
    if (FAILED(hr)) return S_FALSE;
    hr = IMFDXGIBuffer_GetResource(dx, &IID_ID3D11Texture2D, (void **)&src);
    if (SUCCEEDED(hr)) hr = IMFDXGIBuffer_GetSubresourceIndex(dx, &sub);
    IMFDXGIBuffer_Release(dx);
    if (FAILED(hr)) {
        if (src) ID3D11Texture2D_Release(src);
        return hr;
    }
    D3D11_TEXTURE2D_DESC desc;
    ID3D11Texture2D_GetDesc(src, &desc);
    /* The frame's size is the media type's: decoder and camera surfaces are often padded
     * (1920x1088 for 1080 rows), and only the frame's rows are copied and described. */
    UINT w = st->chosen.width && st->chosen.width < desc.Width ? st->chosen.width : desc.Width;
    UINT h = st->chosen.height && st->chosen.height < desc.Height ? st->chosen.height : desc.Height;
    hr = ensure_texture(st, sd, &desc, w, h);
    if (SUCCEEDED(hr)) {
        D3D11_BOX box = {0, 0, 0, w, h, 1};
        ID3D11DeviceContext_CopySubresourceRegion(st->context, (ID3D11Resource *)sd->texture, 0, 0, 0, 0, (ID3D11Resource *)src, sub,
                                                  w == desc.Width && h == desc.Height ? NULL : &box);
        /* Without a keyed mutex the reader's device sees the copy only once it is done. */
        HRESULT done = miniav_d3d11_wait(st->context, st->copy_done, GPU_COPY_TIMEOUT_US);
        if (done != S_OK) {
            /* Late (S_FALSE) or the device is gone (a failure: GPU output ends). A frame
             * whose copy is not known to be finished is not delivered, as in dxgi.c. */
            ID3D11Texture2D_Release(src);
            return done == S_FALSE ? GPU_COPY_LATE : done;
        }
        atomic_fetch_add(&st->stream->copies, 1);
        MiniAVBuffer *b = &slot->buffer;
        b->content_type = MINIAV_BUFFER_CONTENT_TYPE_GPU_D3D11_HANDLE;
        b->data.video.width = w;
        b->data.video.height = h;
        b->data.video.pixel_format = pixel_format_of_dxgi(desc.Format);
        b->data.video.native_gpu_shared_handle = sd->shared_handle;
        b->data.video.native_gpu_texture_ptr = sd->texture;
    }
    ID3D11Texture2D_Release(src);
    return hr;
}

static void end_stream(mf_state *st, HRESULT hr, DWORD flags) {
    miniav_stream *s = st->stream;
    st->ended = true;
    if (SUCCEEDED(hr) && (flags & MF_SOURCE_READERF_ENDOFSTREAM)) {
        miniav_stream_emit(s, MINIAV_EVENT_ENDED, MINIAV_ERROR_DEVICE_LOST, "camera '%s' stopped giving frames (end of stream: unplugged?)",
                           st->name);
    } else if ((hr == MF_E_HW_MFT_FAILED_START_STREAMING || hr == MF_E_VIDEO_RECORDING_DEVICE_PREEMPTED) && !st->frames) {
        miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_DEVICE_BUSY,
                           "camera '%s' could not start: another application is using it (0x%08lx)", st->name, (unsigned long)hr);
    } else if (hr == MF_E_VIDEO_RECORDING_DEVICE_INVALIDATED || hr == MF_E_HW_MFT_FAILED_START_STREAMING ||
               hr == MF_E_VIDEO_RECORDING_DEVICE_PREEMPTED || hr == HRESULT_FROM_WIN32(ERROR_DEVICE_NOT_CONNECTED) ||
               hr == HRESULT_FROM_WIN32(ERROR_DEVICE_REMOVED) || hr == MF_E_SHUTDOWN || SUCCEEDED(hr)) {
        miniav_stream_emit(s, MINIAV_EVENT_ENDED, MINIAV_ERROR_DEVICE_LOST, "camera '%s' was disconnected or taken away; the stream has ended (0x%08lx)",
                           st->name, (unsigned long)hr);
    } else if (hr == E_ACCESSDENIED) {
        miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_PERMISSION_DENIED,
                           "camera '%s': access denied; allow it in Settings > Privacy & security > Camera", st->name);
    } else {
        miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_SYSTEM_CALL_FAILED, "camera '%s': reading a frame failed (HRESULT 0x%08lx)",
                           st->name, (unsigned long)hr);
    }
}

/* True while st is alive and still in run `run`: after a call into the application, which
 * may have stopped, restarted or destroyed the stream from this thread. */
static bool still_current(reader_callback *cb, const mf_state *st, uint64_t run) {
    pthread_mutex_lock(&cb->lock);
    bool same = cb->state == st && cb->running && cb->run == run;
    pthread_mutex_unlock(&cb->lock);
    return same;
}

/* One OnReadSample: runs on MF's work-queue thread, never concurrently with itself within a
 * run (one request is outstanding at a time). After every call that may reach the
 * application (emit, deliver) it returns, or first checks still_current. */
static void handle_sample(reader_callback *cb, uint64_t run, mf_state *st, HRESULT hr, DWORD flags, LONGLONG timestamp,
                          IMFSample *sample) {
    miniav_stream *s = st->stream;
    if (FAILED(hr) || (flags & (MF_SOURCE_READERF_ERROR | MF_SOURCE_READERF_ENDOFSTREAM))) {
        end_stream(st, hr, flags);
        return;
    }
    /* A gap the driver reported instead of a frame. */
    if (flags & MF_SOURCE_READERF_STREAMTICK) miniav_stream_count_lost(s, 1);
    if (flags & MF_SOURCE_READERF_CURRENTMEDIATYPECHANGED) {
        IMFMediaType *t = NULL;
        UINT64 size = 0;
        if (SUCCEEDED(IMFSourceReader_GetCurrentMediaType(st->reader, (DWORD)MF_SOURCE_READER_FIRST_VIDEO_STREAM, &t))) {
            if (SUCCEEDED(IMFMediaType_GetUINT64(t, &MF_MT_FRAME_SIZE, &size))) {
                st->chosen.width = s->video.width = (uint32_t)(size >> 32);
                st->chosen.height = s->video.height = (uint32_t)size;
            }
            UINT32 stride = 0;
            st->chosen.default_stride = SUCCEEDED(IMFMediaType_GetUINT32(t, &MF_MT_DEFAULT_STRIDE, &stride)) ? (int32_t)stride : 0;
            IMFMediaType_Release(t);
        }
        miniav_stream_emit(s, MINIAV_EVENT_FORMAT_CHANGED, MINIAV_SUCCESS, "camera '%s' now gives %ux%u", st->name, st->chosen.width,
                           st->chosen.height);
        if (!still_current(cb, st, run)) return; /* the event callback stopped or destroyed the stream */
    }
    if (!sample) return;
    miniav_slot *slot = miniav_stream_acquire(s);
    if (!slot) return; /* every buffer is held: counted; MF takes the sample back */
    slot_data *sd = &st->set->slots[slot->index];
    describe_common(st, &slot->buffer, frame_time(st, sample, timestamp));
    bool ok = false;
    if (st->gpu) {
        hr = gpu_frame(st, sample, slot, sd);
        ok = hr == S_OK;
        if (hr == GPU_COPY_LATE) {
            miniav_stream_abandon(s, slot);
            miniav_stream_count_lost(s, 1);
            return;
        }
        /* Not retried per frame: the camera's memory and the driver's abilities do not change
         * within a run. */
        if (FAILED(hr)) {
            st->gpu = false;
            miniav_log(MINIAV_LOG_LEVEL_WARN, "mediafoundation: camera '%s': GPU copy failed (0x%08lx); frames come as CPU memory",
                       st->name, (unsigned long)hr);
        } else if (hr == S_FALSE) {
            st->gpu = false;
            miniav_log(MINIAV_LOG_LEVEL_INFO, "mediafoundation: camera '%s' gives frames in system memory, not D3D11 surfaces: CPU frames",
                       st->name);
        }
    }
    if (!ok) {
        describe_common(st, &slot->buffer, slot->buffer.timestamp_us);
        sd->held.sample = sample;
        IMFSample_AddRef(sample);
        ok = cpu_frame(st, sample, slot, sd);
        if (!ok) slot_unlock(sd);
    }
    if (!ok) {
        miniav_stream_abandon(s, slot);
        miniav_stream_count_lost(s, 1);
        return;
    }
    st->frames++;
    miniav_stream_deliver(s, slot);
}

/* ------------------------------------------------------------------ the reader callback */

static reader_callback *callback_of(IMFSourceReaderCallback *iface) { return (reader_callback *)iface; }

static HRESULT STDMETHODCALLTYPE cb_query_interface(IMFSourceReaderCallback *iface, REFIID riid, void **out) {
    if (!out) return E_POINTER;
    if (IsEqualIID(riid, &IID_IUnknown) || IsEqualIID(riid, &IID_IMFSourceReaderCallback)) {
        *out = iface;
        iface->lpVtbl->AddRef(iface);
        return S_OK;
    }
    *out = NULL;
    return E_NOINTERFACE;
}

static ULONG STDMETHODCALLTYPE cb_add_ref(IMFSourceReaderCallback *iface) { return (ULONG)InterlockedIncrement(&callback_of(iface)->refs); }

static ULONG STDMETHODCALLTYPE cb_release(IMFSourceReaderCallback *iface) {
    reader_callback *cb = callback_of(iface);
    LONG n = InterlockedDecrement(&cb->refs);
    if (n == 0) {
        CloseHandle(cb->flushed);
        pthread_cond_destroy(&cb->idle);
        pthread_mutex_destroy(&cb->lock);
        free(cb);
    }
    return (ULONG)n;
}

static HRESULT STDMETHODCALLTYPE cb_on_read_sample(IMFSourceReaderCallback *iface, HRESULT hr, DWORD stream_index, DWORD flags,
                                                   LONGLONG timestamp, IMFSample *sample) {
    (void)stream_index;
    reader_callback *cb = callback_of(iface);
    cb_add_ref(iface); /* a Destroy from inside the application's callback drops the stream's reference */
    pthread_mutex_lock(&cb->lock);
    mf_state *st = cb->state;
    if (!st || !cb->running) {
        pthread_mutex_unlock(&cb->lock);
        cb_release(iface);
        return S_OK; /* stopping: the sample goes back to MF */
    }
    uint64_t run = cb->run;
    cb->inflight++;
    pthread_mutex_unlock(&cb->lock);
    reader_callback *outer = delivering;
    delivering = cb;

    handle_sample(cb, run, st, hr, flags, timestamp, sample);

    /* The next frame. Another thread's Stop waits for inflight to reach 0 (so st and its
     * reader stay as they are until then); only this thread, from inside the application's
     * callback, can have changed them: Destroy (state NULL, st freed), Stop (not running)
     * or Stop + Start (a new run with a new reader, which start() already asked for a
     * sample: asking again here would put two requests on it). */
    pthread_mutex_lock(&cb->lock);
    st = cb->state;
    IMFSourceReader *reader = st && cb->running && cb->run == run && !st->ended ? st->reader : NULL;
    pthread_mutex_unlock(&cb->lock);
    if (reader) {
        HRESULT r = IMFSourceReader_ReadSample(reader, (DWORD)MF_SOURCE_READER_FIRST_VIDEO_STREAM, 0, NULL, NULL, NULL, NULL);
        if (FAILED(r)) end_stream(st, r, 0); /* st is not used after this */
    }
    delivering = outer;
    pthread_mutex_lock(&cb->lock);
    cb->inflight--;
    pthread_cond_broadcast(&cb->idle);
    pthread_mutex_unlock(&cb->lock);
    cb_release(iface);
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE cb_on_flush(IMFSourceReaderCallback *iface, DWORD stream_index) {
    (void)stream_index;
    SetEvent(callback_of(iface)->flushed);
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE cb_on_event(IMFSourceReaderCallback *iface, DWORD stream_index, IMFMediaEvent *event) {
    (void)iface, (void)stream_index, (void)event;
    return S_OK;
}

static IMFSourceReaderCallbackVtbl callback_vtbl = {
    cb_query_interface, cb_add_ref, cb_release, cb_on_read_sample, cb_on_flush, cb_on_event,
};

static reader_callback *callback_new(mf_state *st) {
    reader_callback *cb = calloc(1, sizeof *cb);
    if (!cb) return NULL;
    cb->flushed = CreateEventW(NULL, FALSE, FALSE, NULL);
    if (!cb->flushed) {
        free(cb);
        return NULL;
    }
    cb->iface.lpVtbl = &callback_vtbl;
    cb->refs = 1;
    cb->state = st;
    pthread_mutex_init(&cb->lock, NULL);
    pthread_cond_init(&cb->idle, NULL);
    return cb;
}

/* ------------------------------------------------------------------ configure */

static void format_names(const native_type *types, uint32_t n, char *out, size_t size) {
    out[0] = '\0';
    for (uint32_t i = 0; i < n; i++) {
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++) seen = IsEqualGUID(&types[j].subtype, &types[i].subtype);
        if (seen) continue;
        char code[12];
        subtype_text((uint32_t)types[i].subtype.Data1, code);
        size_t len = strlen(out);
        if (len + 24 < size)
            snprintf(out + len, size - len, "%s%s", len ? ", " : "",
                     types[i].format ? MiniAV_PixelFormatName(types[i].format) : code);
    }
}

static bool rate_fits(const native_type *t, double want) {
    if (fabs(fps_of(t->fps_num, t->fps_den) - want) < 0.01) return true;
    return t->min_num && t->max_num && want >= fps_of(t->min_num, t->min_den) - 0.01 && want <= fps_of(t->max_num, t->max_den) + 0.01;
}

/* Picks the native type for the request, as v4l2.c does: explicit fourcc, else the pixel
 * format, else what the camera is set to now; sizes and rates as asked, else the current
 * size and the fastest rate. Nothing is converted: a format the camera lacks is an error. */
static MiniAVResultCode choose_type(miniav_stream *s, mf_state *st, native_type *types, uint32_t n, const GUID *current_subtype,
                                    UINT64 current_size) {
    const MiniAVVideoFormatInfo *req = &s->requested_video;
    char offered[256];
    if (!n) return miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "camera '%s' lists no video formats", st->name);
    bool want_subtype[256] = {0}; /* index into types */
    uint32_t matches = 0;
    for (uint32_t i = 0; i < n && i < 256; i++) {
        bool m;
        if (req->fourcc)
            m = types[i].subtype.Data1 == req->fourcc;
        else if (req->pixel_format != MINIAV_PIXEL_FORMAT_UNKNOWN)
            m = types[i].format == req->pixel_format;
        else
            m = IsEqualGUID(&types[i].subtype, current_subtype) || !current_subtype->Data1;
        want_subtype[i] = m;
        matches += m;
    }
    if (!matches && !req->fourcc && req->pixel_format == MINIAV_PIXEL_FORMAT_UNKNOWN) {
        for (uint32_t i = 0; i < n && i < 256; i++) want_subtype[i] = true; /* no current type: any */
        matches = n;
    }
    if (!matches) {
        format_names(types, n, offered, sizeof offered);
        char code[12];
        subtype_text(req->fourcc, code);
        return miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "camera '%s' does not give '%s'; it gives: %s", st->name,
                           req->fourcc ? code : MiniAV_PixelFormatName(req->pixel_format), offered);
    }
    uint32_t w = req->width, h = req->height;
    if (!w && !h) {
        /* The current size where the format has it, else the largest. */
        uint32_t cw = (uint32_t)(current_size >> 32), ch = (uint32_t)current_size;
        bool has_current = false;
        uint64_t best_area = 0;
        for (uint32_t i = 0; i < n && i < 256; i++) {
            if (!want_subtype[i]) continue;
            if (types[i].width == cw && types[i].height == ch) has_current = true;
            uint64_t area = (uint64_t)types[i].width * types[i].height;
            if (area > best_area) best_area = area, w = types[i].width, h = types[i].height;
        }
        if (has_current) w = cw, h = ch;
    }
    double want_fps = req->frame_rate_denominator ? fps_of(req->frame_rate_numerator, req->frame_rate_denominator) : 0;
    int best = -1;
    double best_fps = -1;
    char sizes[256] = "", rates[256] = "";
    for (uint32_t i = 0; i < n && i < 256; i++) {
        const native_type *t = &types[i];
        if (!want_subtype[i]) continue;
        char size_text[32];
        snprintf(size_text, sizeof size_text, "%ux%u", t->width, t->height);
        bool listed = false;
        for (const char *p = strstr(sizes, size_text); p && !listed; p = strstr(p + 1, size_text))
            listed = (p == sizes || p[-1] == ' ') && (p[strlen(size_text)] == ',' || !p[strlen(size_text)]);
        size_t len = strlen(sizes);
        if (!listed && len + 24 < sizeof sizes) snprintf(sizes + len, sizeof sizes - len, "%s%s", len ? ", " : "", size_text);
        if ((w && t->width != w) || (h && t->height != h)) continue;
        double f = fps_of(t->fps_num, t->fps_den), top = t->max_num ? fps_of(t->max_num, t->max_den) : f;
        len = strlen(rates);
        if (len + 24 < sizeof rates) {
            double low = t->min_num ? fps_of(t->min_num, t->min_den) : f;
            if (low < f || top > f)
                snprintf(rates + len, sizeof rates - len, "%s%.4g-%.4g", len ? ", " : "", low < f ? low : f, top > f ? top : f);
            else
                snprintf(rates + len, sizeof rates - len, "%s%.4g", len ? ", " : "", f);
        }
        if (want_fps > 0) {
            if (!rate_fits(t, want_fps)) continue;
            /* An exact nominal rate beats a range that contains it. */
            double score = fabs(f - want_fps) < 0.01 ? 2 : 1;
            if (score > best_fps) best_fps = score, best = (int)i;
        } else if (top > best_fps) {
            best_fps = top, best = (int)i; /* default and unlimited: the fastest */
        }
    }
    if (best < 0) {
        bool size_found = rates[0] != '\0';
        if (!size_found)
            return miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "camera '%s' does not give %ux%u in this format; it gives: %s", st->name, w, h,
                               sizes);
        return miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "camera '%s' does not give %.4g fps at %ux%u; it gives: %s fps", st->name,
                           want_fps, w, h, rates);
    }
    native_type *t = &types[best];
    /* A rate inside the type's range (or the range's top for unlimited) is set on a copy. */
    uint32_t num = t->fps_num, den = t->fps_den;
    bool unlimited = req->frame_rate_numerator && !req->frame_rate_denominator;
    if (want_fps > 0 && fabs(fps_of(num, den) - want_fps) >= 0.01)
        num = req->frame_rate_numerator, den = req->frame_rate_denominator;
    else if (unlimited && t->max_num && fps_of(t->max_num, t->max_den) > fps_of(num, den))
        num = t->max_num, den = t->max_den;
    IMFMediaType *type = t->type;
    IMFMediaType_AddRef(type);
    if (num != t->fps_num || den != t->fps_den) {
        IMFMediaType *copy = NULL;
        HRESULT hr = mf.MFCreateMediaType(&copy);
        if (SUCCEEDED(hr)) hr = IMFMediaType_CopyAllItems(type, (IMFAttributes *)copy);
        if (SUCCEEDED(hr)) hr = IMFMediaType_SetUINT64(copy, &MF_MT_FRAME_RATE, ((UINT64)num << 32) | den);
        IMFMediaType_Release(type);
        if (FAILED(hr)) {
            if (copy) IMFMediaType_Release(copy);
            return hr_fail(hr, st->name, "setting the frame rate");
        }
        type = copy;
    }
    st->type = type;
    st->chosen = *t;
    st->chosen.type = NULL;
    st->chosen.fps_num = num;
    st->chosen.fps_den = den;
    MiniAVVideoFormatInfo *v = &s->video;
    memset(v, 0, sizeof *v);
    v->width = t->width;
    v->height = t->height;
    v->pixel_format = t->format;
    v->fourcc = (uint32_t)t->subtype.Data1;
    v->frame_rate_numerator = num;
    v->frame_rate_denominator = den;
    return MINIAV_SUCCESS;
}

/* D3D11 device + DXGI device manager for GPU frames; false (logged) when not possible. */
static bool setup_gpu(mf_state *st) {
    if (!mf.MFCreateDXGIDeviceManager) {
        miniav_log(MINIAV_LOG_LEVEL_INFO, "mediafoundation: no MFCreateDXGIDeviceManager (Windows 7): camera frames come as CPU memory");
        return false;
    }
    static const D3D_FEATURE_LEVEL levels[] = {D3D_FEATURE_LEVEL_11_1, D3D_FEATURE_LEVEL_11_0, D3D_FEATURE_LEVEL_10_1,
                                               D3D_FEATURE_LEVEL_10_0};
    UINT flags = D3D11_CREATE_DEVICE_VIDEO_SUPPORT | D3D11_CREATE_DEVICE_BGRA_SUPPORT;
    HRESULT hr = D3D11CreateDevice(NULL, D3D_DRIVER_TYPE_HARDWARE, NULL, flags, levels, 4, D3D11_SDK_VERSION, &st->device, NULL,
                                   &st->context);
    if (hr == E_INVALIDARG) /* no 11_1 runtime (Windows 7) */
        hr = D3D11CreateDevice(NULL, D3D_DRIVER_TYPE_HARDWARE, NULL, flags, levels + 1, 3, D3D11_SDK_VERSION, &st->device, NULL,
                               &st->context);
    const char *why = "creating a D3D11 device with video support";
    if (SUCCEEDED(hr)) {
        why = "making the D3D11 device thread-safe";
        /* MF uses the device from its own threads too: the immediate context must be
         * locked. ID3D11Multithread is Windows 10 only; before it (8.1), the device's
         * ID3D10Multithread sets the same protection (what Microsoft's MF samples do). */
        ID3D11Multithread *mt = NULL;
        ID3D10Multithread *mt10 = NULL;
        if (SUCCEEDED(ID3D11DeviceContext_QueryInterface(st->context, &IID_ID3D11Multithread, (void **)&mt))) {
            ID3D11Multithread_SetMultithreadProtected(mt, TRUE);
            ID3D11Multithread_Release(mt);
        } else if (SUCCEEDED(ID3D11Device_QueryInterface(st->device, &IID_ID3D10Multithread, (void **)&mt10))) {
            ID3D10Multithread_SetMultithreadProtected(mt10, TRUE);
            ID3D10Multithread_Release(mt10);
        } else {
            hr = E_NOINTERFACE;
            why = "making the D3D11 device thread-safe (no ID3D11Multithread or ID3D10Multithread)";
        }
    }
    if (SUCCEEDED(hr)) {
        D3D11_QUERY_DESC q = {D3D11_QUERY_EVENT, 0};
        why = "creating a query";
        hr = ID3D11Device_CreateQuery(st->device, &q, &st->copy_done);
    }
    UINT token = 0;
    if (SUCCEEDED(hr)) {
        why = "creating the DXGI device manager";
        hr = mf.MFCreateDXGIDeviceManager(&token, &st->manager);
    }
    if (SUCCEEDED(hr)) hr = IMFDXGIDeviceManager_ResetDevice(st->manager, (IUnknown *)st->device, token);
    if (FAILED(hr)) {
        miniav_log(MINIAV_LOG_LEVEL_WARN, "mediafoundation: %s failed (0x%08lx): camera '%s' frames come as CPU memory", why,
                   (unsigned long)hr, st->name);
        if (st->manager) IMFDXGIDeviceManager_Release(st->manager);
        if (st->copy_done) ID3D11Query_Release(st->copy_done);
        if (st->context) ID3D11DeviceContext_Release(st->context);
        if (st->device) ID3D11Device_Release(st->device);
        st->manager = NULL;
        st->copy_done = NULL;
        st->context = NULL;
        st->device = NULL;
        return false;
    }
    return true;
}

static void stop(miniav_stream *s);

static void destroy(miniav_stream *s) {
    mf_state *st = s->backend_data;
    if (!st) return;
    if (st->reader) stop(s); /* normally stopped already by the core */
    bool com = com_enter();
    if (st->callback) {
        pthread_mutex_lock(&st->callback->lock);
        st->callback->state = NULL;
        pthread_mutex_unlock(&st->callback->lock);
        st->callback->iface.lpVtbl->Release(&st->callback->iface);
    }
    if (st->reader) IMFSourceReader_Release(st->reader);
    if (st->type) IMFMediaType_Release(st->type);
    if (st->procamp) IAMVideoProcAmp_Release(st->procamp);
    if (st->camera_control) IAMCameraControl_Release(st->camera_control);
    if (st->source) {
        IMFMediaSource_Shutdown(st->source);
        IMFMediaSource_Release(st->source);
    }
    /* Textures in the pool keep the device alive for buffers still held. */
    if (st->manager) IMFDXGIDeviceManager_Release(st->manager);
    if (st->copy_done) ID3D11Query_Release(st->copy_done);
    if (st->context) ID3D11DeviceContext_Release(st->context);
    if (st->device) ID3D11Device_Release(st->device);
    com_leave(com);
    free(st);
    s->backend_data = NULL;
}

static MiniAVResultCode configure(miniav_stream *s) {
    mf_state *st = calloc(1, sizeof *st);
    if (!st) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    st->stream = s;
    s->backend_data = st;
    bool com = com_enter();
    native_type *types = NULL;
    uint32_t n = 0;
    GUID current = {0};
    UINT64 current_size = 0;
    MiniAVResultCode r = open_source(s->device_id, &st->source, st->name);
    if (!r) r = source_types(st->source, st->name, &types, &n, &current, &current_size);
    if (!r) r = choose_type(s, st, types, n, &current, current_size);
    native_types_free(types, n);
    if (!r) {
        st->callback = callback_new(st);
        if (!st->callback) r = miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    if (!r) {
        uint32_t count = miniav_stream_pool_size(s, DEFAULT_BUFFERS);
        sample_set *set = calloc(1, sizeof *set + count * sizeof set->slots[0]);
        if (!set) r = miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
        if (!r) {
            set->count = count;
            miniav_pool_hooks hooks = {.on_release = buffer_released, .on_free = sample_set_free, .ctx = set};
            r = miniav_stream_ensure_external_pool(s, count, &hooks);
            if (r)
                free(set);
            else
                st->set = set;
        }
    }
    if (!r) {
        st->gpu_ready = s->requested_video.output_preference == MINIAV_OUTPUT_PREFERENCE_GPU && setup_gpu(st);
        s->video.output_preference = st->gpu_ready ? MINIAV_OUTPUT_PREFERENCE_GPU : MINIAV_OUTPUT_PREFERENCE_CPU;
        /* Properties: the device source implements both for UVC cameras; either may be absent. */
        if (FAILED(IMFMediaSource_QueryInterface(st->source, &IID_IAMVideoProcAmp, (void **)&st->procamp))) st->procamp = NULL;
        if (FAILED(IMFMediaSource_QueryInterface(st->source, &IID_IAMCameraControl, (void **)&st->camera_control)))
            st->camera_control = NULL;
    }
    com_leave(com);
    return r; /* on failure the core calls destroy() */
}

/* ------------------------------------------------------------------ start / stop */

static void release_reader(mf_state *st) {
    if (!st->reader) return;
    IMFSourceReader_Release(st->reader);
    st->reader = NULL;
    /* The reader leaves the source running (DISCONNECT_MEDIASOURCE_ON_SHUTDOWN): stop the
     * camera; the next reader starts it again. */
    IMFMediaSource_Stop(st->source);
}

static MiniAVResultCode start(miniav_stream *s) {
    mf_state *st = s->backend_data;
    bool com = com_enter();
    st->ended = false;
    st->frames = 0;
    st->have_anchor = false;
    st->gpu = st->gpu_ready;
    MiniAVResultCode r = make_reader(st->source, st->name, &st->callback->iface, st->gpu_ready ? st->manager : NULL, &st->reader);
    HRESULT hr = S_OK;
    if (!r) {
        IMFSourceReader_SetStreamSelection(st->reader, (DWORD)MF_SOURCE_READER_ALL_STREAMS, FALSE);
        hr = IMFSourceReader_SetStreamSelection(st->reader, (DWORD)MF_SOURCE_READER_FIRST_VIDEO_STREAM, TRUE);
        if (SUCCEEDED(hr)) hr = IMFSourceReader_SetCurrentMediaType(st->reader, (DWORD)MF_SOURCE_READER_FIRST_VIDEO_STREAM, NULL, st->type);
        if (FAILED(hr)) r = hr == MF_E_INVALIDMEDIATYPE || hr == MF_E_TOPO_CODEC_NOT_FOUND
                                ? miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "camera '%s' refused its own format (0x%08lx); configure another",
                                              st->name, (unsigned long)hr)
                                : hr_fail(hr, st->name, "setting the format");
    }
    if (!r) {
        pthread_mutex_lock(&st->callback->lock);
        st->callback->running = true;
        st->callback->run++;
        pthread_mutex_unlock(&st->callback->lock);
        hr = IMFSourceReader_ReadSample(st->reader, (DWORD)MF_SOURCE_READER_FIRST_VIDEO_STREAM, 0, NULL, NULL, NULL, NULL);
        if (FAILED(hr)) {
            pthread_mutex_lock(&st->callback->lock);
            st->callback->running = false;
            pthread_mutex_unlock(&st->callback->lock);
            r = hr_fail(hr, st->name, "starting the camera");
        }
    }
    if (r) release_reader(st);
    com_leave(com);
    return r;
}

static void stop(miniav_stream *s) {
    mf_state *st = s->backend_data;
    if (!st || !st->reader) return;
    bool com = com_enter();
    reader_callback *cb = st->callback;
    /* No callback into the application after this: new samples are turned away and the
     * one being delivered finishes. */
    pthread_mutex_lock(&cb->lock);
    cb->running = false;
    /* Stop called from the buffer callback itself: waiting for that one would never end
     * (it finds running false, or a newer run, when it goes on, and asks for nothing). */
    bool from_callback = delivering == cb;
    while (cb->inflight > (from_callback ? 1u : 0u)) pthread_cond_wait(&cb->idle, &cb->lock);
    pthread_mutex_unlock(&cb->lock);
    /* Cancels the outstanding ReadSample; OnFlush says when that is done. */
    ResetEvent(cb->flushed);
    if (SUCCEEDED(IMFSourceReader_Flush(st->reader, (DWORD)MF_SOURCE_READER_ALL_STREAMS)) && !from_callback &&
        WaitForSingleObject(cb->flushed, FLUSH_TIMEOUT_MS) != WAIT_OBJECT_0)
        miniav_log(MINIAV_LOG_LEVEL_WARN, "mediafoundation: camera '%s' did not finish flushing in %d ms", st->name, FLUSH_TIMEOUT_MS);
    release_reader(st);
    com_leave(com);
}

/* ------------------------------------------------------------------ properties */

typedef struct {
    const char *name;  /* portable name, or the DirectShow name in MiniAV style */
    const char *label;
    bool camera;       /* IAMCameraControl, else IAMVideoProcAmp */
    long id;
    MiniAVPropertyType type;
} mf_property;

static const mf_property properties[] = {
    {"brightness", "Brightness", false, VideoProcAmp_Brightness, MINIAV_PROPERTY_TYPE_INTEGER},
    {"contrast", "Contrast", false, VideoProcAmp_Contrast, MINIAV_PROPERTY_TYPE_INTEGER},
    {"saturation", "Saturation", false, VideoProcAmp_Saturation, MINIAV_PROPERTY_TYPE_INTEGER},
    {"hue", "Hue", false, VideoProcAmp_Hue, MINIAV_PROPERTY_TYPE_INTEGER},
    {"sharpness", "Sharpness", false, VideoProcAmp_Sharpness, MINIAV_PROPERTY_TYPE_INTEGER},
    {"gamma", "Gamma", false, VideoProcAmp_Gamma, MINIAV_PROPERTY_TYPE_INTEGER},
    {"white-balance", "White Balance Temperature", false, VideoProcAmp_WhiteBalance, MINIAV_PROPERTY_TYPE_INTEGER},
    {"backlight-compensation", "Backlight Compensation", false, VideoProcAmp_BacklightCompensation, MINIAV_PROPERTY_TYPE_INTEGER},
    {"gain", "Gain", false, VideoProcAmp_Gain, MINIAV_PROPERTY_TYPE_INTEGER},
    {"power-line-frequency", "Power Line Frequency", false, PROCAMP_POWERLINE_FREQUENCY, MINIAV_PROPERTY_TYPE_MENU},
    {"color_enable", "Color Enable", false, VideoProcAmp_ColorEnable, MINIAV_PROPERTY_TYPE_BOOLEAN},
    /* Exposure is log2 seconds (-6 = 1/64 s), as DirectShow defines it. */
    {"exposure", "Exposure", true, CameraControl_Exposure, MINIAV_PROPERTY_TYPE_INTEGER},
    {"focus", "Focus", true, CameraControl_Focus, MINIAV_PROPERTY_TYPE_INTEGER},
    {"zoom", "Zoom", true, CameraControl_Zoom, MINIAV_PROPERTY_TYPE_INTEGER},
    {"pan", "Pan", true, CameraControl_Pan, MINIAV_PROPERTY_TYPE_INTEGER},
    {"tilt", "Tilt", true, CameraControl_Tilt, MINIAV_PROPERTY_TYPE_INTEGER},
    {"roll", "Roll", true, CameraControl_Roll, MINIAV_PROPERTY_TYPE_INTEGER},
    {"iris", "Iris", true, CameraControl_Iris, MINIAV_PROPERTY_TYPE_INTEGER},
};
#define PROPERTY_COUNT (sizeof properties / sizeof properties[0])

/* Both interfaces have the same GetRange/Get/Set and the same flag values. */
static HRESULT prop_range(mf_state *st, const mf_property *p, long *min, long *max, long *step, long *def, long *caps) {
    if (p->camera)
        return st->camera_control ? IAMCameraControl_GetRange(st->camera_control, p->id, min, max, step, def, caps) : E_NOINTERFACE;
    return st->procamp ? IAMVideoProcAmp_GetRange(st->procamp, p->id, min, max, step, def, caps) : E_NOINTERFACE;
}
static HRESULT prop_get(mf_state *st, const mf_property *p, long *value, long *flags) {
    return p->camera ? IAMCameraControl_Get(st->camera_control, p->id, value, flags) : IAMVideoProcAmp_Get(st->procamp, p->id, value, flags);
}
static HRESULT prop_set(mf_state *st, const mf_property *p, long value, long flags) {
    return p->camera ? IAMCameraControl_Set(st->camera_control, p->id, value, flags) : IAMVideoProcAmp_Set(st->procamp, p->id, value, flags);
}

typedef struct {
    const mf_property *p;
    long min, max, step, def, caps;
} resolved_property;

static MiniAVResultCode resolve_property(mf_state *st, const char *name, resolved_property *out) {
    for (size_t i = 0; i < PROPERTY_COUNT; i++) {
        if (strcmp(properties[i].name, name)) continue;
        out->p = &properties[i];
        if (SUCCEEDED(prop_range(st, out->p, &out->min, &out->max, &out->step, &out->def, &out->caps))) return MINIAV_SUCCESS;
        break;
    }
    return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "camera '%s' has no property '%s'; list them with ListProperties", st->name, name);
}

static void describe_property(mf_state *st, const resolved_property *rp, MiniAVCameraProperty *out) {
    static const char *const power_line[] = {"Disabled", "50 Hz", "60 Hz", "Auto"};
    memset(out, 0, sizeof *out);
    miniav_copy_string(out->name, sizeof out->name, rp->p->name);
    miniav_copy_string(out->label, sizeof out->label, rp->p->label);
    out->type = rp->p->type;
    out->min = rp->min;
    out->max = rp->max;
    out->step = rp->step;
    out->default_value = rp->def;
    out->has_auto = (rp->caps & VideoProcAmp_Flags_Auto) != 0;
    long value = 0, flags = 0;
    if (SUCCEEDED(prop_get(st, rp->p, &value, &flags))) {
        out->value = value;
        out->is_auto = out->has_auto && (flags & VideoProcAmp_Flags_Auto);
        out->inactive = out->is_auto;
    }
    if (rp->p->type == MINIAV_PROPERTY_TYPE_MENU)
        for (long v = rp->min; v <= rp->max && v >= 0 && v < 4; v++) {
            out->menu[out->menu_count].value = v;
            miniav_copy_string(out->menu[out->menu_count].name, sizeof out->menu[0].name, power_line[v]);
            out->menu_count++;
        }
}

static MiniAVResultCode list_properties(miniav_stream *s, MiniAVCameraProperty **out, uint32_t *count) {
    mf_state *st = s->backend_data;
    bool com = com_enter();
    MiniAVCameraProperty *items = calloc(PROPERTY_COUNT, sizeof *items);
    uint32_t n = 0;
    for (size_t i = 0; items && i < PROPERTY_COUNT; i++) {
        resolved_property rp;
        if (resolve_property(st, properties[i].name, &rp)) continue;
        describe_property(st, &rp, &items[n++]);
    }
    miniav_clear_error(); /* absent properties are not an error */
    com_leave(com);
    if (!items) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    *out = items;
    *count = n;
    return MINIAV_SUCCESS;
}

static MiniAVResultCode get_property(miniav_stream *s, const char *name, int64_t *value, int *is_auto) {
    mf_state *st = s->backend_data;
    bool com = com_enter();
    resolved_property rp;
    long v = 0, flags = 0;
    MiniAVResultCode r = resolve_property(st, name, &rp);
    if (!r) {
        HRESULT hr = prop_get(st, rp.p, &v, &flags);
        if (FAILED(hr)) r = hr_fail(hr, st->name, "reading a property");
    }
    com_leave(com);
    if (r) return r;
    *value = v;
    if (is_auto) *is_auto = (rp.caps & VideoProcAmp_Flags_Auto) && (flags & VideoProcAmp_Flags_Auto);
    return MINIAV_SUCCESS;
}

static MiniAVResultCode set_property(miniav_stream *s, const char *name, int64_t value) {
    mf_state *st = s->backend_data;
    bool com = com_enter();
    resolved_property rp;
    MiniAVResultCode r = resolve_property(st, name, &rp);
    if (!r && (value < rp.min || value > rp.max))
        r = miniav_fail(MINIAV_ERROR_INVALID_ARG, "%lld is outside %ld..%ld, the range of property '%s'", (long long)value, rp.min, rp.max,
                        name);
    if (!r) {
        /* Manual flag: a value set by hand turns automatic off, as on V4L2. */
        HRESULT hr = prop_set(st, rp.p, (long)value, VideoProcAmp_Flags_Manual);
        if (hr == E_INVALIDARG)
            r = miniav_fail(MINIAV_ERROR_INVALID_ARG, "camera '%s' refused %lld for '%s' (range %ld..%ld, step %ld)", st->name,
                            (long long)value, name, rp.min, rp.max, rp.step);
        else if (FAILED(hr))
            r = hr_fail(hr, st->name, "setting a property");
    }
    com_leave(com);
    return r;
}

static MiniAVResultCode set_property_auto(miniav_stream *s, const char *name, bool enable) {
    mf_state *st = s->backend_data;
    bool com = com_enter();
    resolved_property rp;
    MiniAVResultCode r = resolve_property(st, name, &rp);
    if (!r && !(rp.caps & VideoProcAmp_Flags_Auto))
        r = miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "property '%s' has no automatic mode on camera '%s'", name, st->name);
    if (!r) {
        /* The flag carries the mode; the value given keeps the current one for manual. */
        long v = 0, flags = 0;
        HRESULT hr = prop_get(st, rp.p, &v, &flags);
        if (FAILED(hr)) v = rp.def;
        hr = prop_set(st, rp.p, v, enable ? VideoProcAmp_Flags_Auto : VideoProcAmp_Flags_Manual);
        if (FAILED(hr)) r = hr_fail(hr, st->name, enable ? "turning automatic on" : "turning automatic off");
    }
    com_leave(com);
    return r;
}

const miniav_backend miniav_mediafoundation_camera = {
    .name = "mediafoundation",
    .type = MINIAV_DEVICE_TYPE_CAMERA,
    .available = available,
    .unavailable_reason = unavailable_reason,
    .enumerate = enumerate,
    .owns_id = owns_id,
    .video_formats = video_formats,
    .configure = configure,
    .start = start,
    .stop = stop,
    .destroy = destroy,
    .list_properties = list_properties,
    .get_property = get_property,
    .set_property = set_property,
    .set_property_auto = set_property_auto,
};
