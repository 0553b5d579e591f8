/* WASAPI plumbing shared by the audio input and loopback backends; see wasapi_common.h.
 *
 * Capture: one thread per running stream, in the multithreaded apartment. It opens the
 * endpoint in shared, event-driven mode, waits on the engine's event (and a wake event for
 * stop / default-device changes), converts each packet into the pool slot being filled and
 * delivers a slot once it holds exactly buffer_frames frames. The first frame of the stream
 * is dated by the packet's QPC position; later buffers follow by sample count (buffer n+1
 * starts where n ended), with the difference to the device's stamps taken out 1 µs per
 * buffer. A packet that starts well after the expected time (or is flagged
 * DATA_DISCONTINUITY) is a gap: the frames it spans are counted as dropped buffers, so
 * sequence numbers and timestamps stay true. Loopback gets silence instead: WASAPI delivers
 * nothing while nothing plays, so the wait timeout writes zero frames up to the clock.
 *
 * Formats: the engine runs at the mix format. A request at the mix rate is captured in the
 * mix format and converted here (f32/s16, channel count); a request at another rate asks the
 * engine to convert (AUTOCONVERTPCM | SRC_DEFAULT_QUALITY) and fails at configure where it
 * cannot.
 */
#include "wasapi_common.h"

#include "../common/audio_chunker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <propsys.h>

#define DEFAULT_POOL 16u
#define ENGINE_BUFFER_HNS 2000000     /* 200 ms of engine buffer: room for a slow callback */
#define START_TIMEOUT_MS 10000
#define ACTIVATE_TIMEOUT_MS 5000
#define MIN_GAP_US 40000              /* later than this (or two buffers) = frames were lost */
#define CLOCK_WINDOW_PACKETS 100
#define PROCESS_LOOPBACK_BUILD 20348u

/* GUIDs defined here: no INITGUID, no libuuid/ksuser dependency for them. */
static const GUID CLSID_MMDeviceEnumerator_ = {0xbcde0395, 0xe52f, 0x467c, {0x8e, 0x3d, 0xc4, 0x57, 0x92, 0x91, 0x69, 0x2e}};
static const GUID IID_IMMDeviceEnumerator_ = {0xa95664d2, 0x9614, 0x4f35, {0xa7, 0x46, 0xde, 0x8d, 0xb6, 0x36, 0x17, 0xe6}};
static const GUID IID_IAudioClient_ = {0x1cb9ad4c, 0xdbfa, 0x4c32, {0xb1, 0x78, 0xc2, 0xf5, 0x68, 0xa7, 0x03, 0xb2}};
static const GUID IID_IAudioCaptureClient_ = {0xc8adbd64, 0xe71e, 0x48a0, {0xa4, 0xde, 0x18, 0x5c, 0x39, 0x5c, 0xd3, 0x17}};
static const GUID IID_IMMNotificationClient_ = {0x7991eec9, 0x7e89, 0x4d85, {0x83, 0x90, 0x6c, 0x70, 0x3c, 0xec, 0x60, 0xc0}};
static const GUID IID_IUnknown_ = {0x00000000, 0x0000, 0x0000, {0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46}};
static const GUID IID_IAgileObject_ = {0x94ea2b94, 0xe9cc, 0x49e0, {0xc0, 0xff, 0xee, 0x64, 0xca, 0x8f, 0x5b, 0x90}};
static const GUID IID_IActivateAudioInterfaceCompletionHandler_ = {0x41d949ab, 0x9862, 0x444a, {0x80, 0xf6, 0xc2, 0x61, 0x33, 0x4d, 0xa5, 0xeb}};
static const GUID SUBTYPE_PCM = {0x00000001, 0x0000, 0x0010, {0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71}};
static const GUID SUBTYPE_IEEE_FLOAT = {0x00000003, 0x0000, 0x0010, {0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71}};
static const PROPERTYKEY PKEY_FriendlyName_ = {{0xa45c254e, 0xdf1c, 0x4efd, {0x80, 0x20, 0x67, 0xd1, 0x46, 0xa8, 0x50, 0xe0}}, 14};

/* Process loopback (Windows 10 build 20348+): audioclientactivationparams.h is not in
 * mingw-w64 10, so the documented layout is declared here. */
#define PROCESS_LOOPBACK_DEVICE L"VAD\\Process_Loopback"
typedef struct {
    DWORD activation_type;   /* AUDIOCLIENT_ACTIVATION_TYPE_PROCESS_LOOPBACK = 1 */
    DWORD target_process_id;
    DWORD loopback_mode;     /* PROCESS_LOOPBACK_MODE_INCLUDE_TARGET_PROCESS_TREE = 0, EXCLUDE = 1 */
} activation_params;
typedef HRESULT(WINAPI *activate_async_fn)(LPCWSTR, REFIID, PROPVARIANT *, IActivateAudioInterfaceCompletionHandler *,
                                            IActivateAudioInterfaceAsyncOperation **);

#ifndef AUDCLNT_E_DEVICE_INVALIDATED
#define AUDCLNT_E_DEVICE_INVALIDATED ((HRESULT)0x88890004L)
#endif

/* ------------------------------------------------------------------ COM */

bool wasapi_com_enter(void) {
    HRESULT hr = CoInitializeEx(NULL, COINIT_MULTITHREADED);
    return SUCCEEDED(hr); /* RPC_E_CHANGED_MODE: the thread's own apartment, left as it is */
}

void wasapi_com_leave(bool entered) {
    if (entered) CoUninitialize();
}

MiniAVResultCode wasapi_enumerator(IMMDeviceEnumerator **out) {
    HRESULT hr = CoCreateInstance(&CLSID_MMDeviceEnumerator_, NULL, CLSCTX_ALL, &IID_IMMDeviceEnumerator_, (void **)out);
    if (FAILED(hr))
        return miniav_fail(MINIAV_ERROR_BACKEND_UNAVAILABLE,
                           "the Windows audio service does not answer (MMDeviceEnumerator: HRESULT 0x%08lx); is the Windows Audio service running?",
                           (unsigned long)hr);
    return MINIAV_SUCCESS;
}

bool wasapi_available(void) {
    bool com = wasapi_com_enter();
    IMMDeviceEnumerator *en = NULL;
    HRESULT hr = CoCreateInstance(&CLSID_MMDeviceEnumerator_, NULL, CLSCTX_ALL, &IID_IMMDeviceEnumerator_, (void **)&en);
    if (SUCCEEDED(hr)) IMMDeviceEnumerator_Release(en);
    wasapi_com_leave(com);
    return SUCCEEDED(hr);
}

bool wasapi_is_wine(void) {
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    return ntdll && GetProcAddress(ntdll, "wine_get_version");
}

/* ------------------------------------------------------------------ endpoints */

static void friendly_name(IMMDevice *dev, char *dst, size_t size) {
    IPropertyStore *props = NULL;
    PROPVARIANT v;
    PropVariantInit(&v);
    dst[0] = '\0';
    if (SUCCEEDED(IMMDevice_OpenPropertyStore(dev, STGM_READ, &props)) &&
        SUCCEEDED(IPropertyStore_GetValue(props, &PKEY_FriendlyName_, &v)) && v.vt == VT_LPWSTR)
        miniav_utf16_to_utf8(dst, size, v.pwszVal);
    PropVariantClear(&v);
    if (props) IPropertyStore_Release(props);
}

MiniAVResultCode wasapi_endpoints_list(IMMDeviceEnumerator *en, EDataFlow flow, wasapi_endpoint_list *out) {
    memset(out, 0, sizeof *out);
    IMMDeviceCollection *col = NULL;
    UINT n = 0;
    HRESULT hr = IMMDeviceEnumerator_EnumAudioEndpoints(en, flow, DEVICE_STATE_ACTIVE, &col);
    if (FAILED(hr))
        return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "cannot list the audio %s devices (EnumAudioEndpoints: HRESULT 0x%08lx)",
                           flow == eCapture ? "input" : "output", (unsigned long)hr);
    IMMDeviceCollection_GetCount(col, &n);
    wchar_t *default_id = NULL;
    IMMDevice *def = NULL;
    if (SUCCEEDED(IMMDeviceEnumerator_GetDefaultAudioEndpoint(en, flow, eConsole, &def))) {
        IMMDevice_GetId(def, &default_id);
        IMMDevice_Release(def);
    }
    out->items = n ? calloc(n, sizeof *out->items) : NULL;
    if (n && !out->items) {
        IMMDeviceCollection_Release(col);
        CoTaskMemFree(default_id);
        return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    for (UINT i = 0; i < n; i++) {
        IMMDevice *dev = NULL;
        wchar_t *id = NULL;
        if (FAILED(IMMDeviceCollection_Item(col, i, &dev))) continue;
        if (SUCCEEDED(IMMDevice_GetId(dev, &id)) && id) {
            wasapi_endpoint *e = &out->items[out->count];
            miniav_utf16_to_utf8(e->id_utf8, sizeof e->id_utf8, id);
            /* An id that does not fit would not round-trip: leave the endpoint out. */
            if (strlen(e->id_utf8) + 1 < sizeof e->id_utf8) {
                e->id = id;
                id = NULL;
                friendly_name(dev, e->name, sizeof e->name);
                if (!e->name[0]) miniav_copy_string(e->name, sizeof e->name, e->id_utf8);
                e->is_default = default_id && !wcscmp(default_id, e->id);
                out->count++;
            }
        }
        CoTaskMemFree(id);
        IMMDevice_Release(dev);
    }
    IMMDeviceCollection_Release(col);
    CoTaskMemFree(default_id);
    return MINIAV_SUCCESS;
}

void wasapi_endpoints_free(wasapi_endpoint_list *list) {
    for (uint32_t i = 0; i < list->count; i++) CoTaskMemFree(list->items[i].id);
    free(list->items);
    memset(list, 0, sizeof *list);
}

const wasapi_endpoint *wasapi_endpoints_find(const wasapi_endpoint_list *list, const char *id_utf8) {
    for (uint32_t i = 0; i < list->count; i++)
        if (!strcmp(list->items[i].id_utf8, id_utf8)) return &list->items[i];
    return NULL;
}

bool wasapi_endpoint_name(EDataFlow flow, const char *id_utf8, char *name, size_t size) {
    bool com = wasapi_com_enter(), found = false;
    IMMDeviceEnumerator *en = NULL;
    wasapi_endpoint_list list = {0};
    if (!wasapi_enumerator(&en) && !wasapi_endpoints_list(en, flow, &list)) {
        const wasapi_endpoint *e = wasapi_endpoints_find(&list, id_utf8);
        if (e) miniav_copy_string(name, size, e->name);
        found = e != NULL;
    }
    miniav_clear_error(); /* a failure here is reported by the open that follows */
    wasapi_endpoints_free(&list);
    if (en) IMMDeviceEnumerator_Release(en);
    wasapi_com_leave(com);
    return found;
}

/* ------------------------------------------------------------------ formats */

/* What the engine gives: the capture side of the conversion. */
typedef struct {
    uint32_t rate, channels;
    uint32_t bytes;      /* per sample (container) */
    uint32_t block;      /* per frame */
    bool is_float;
} in_format;

static MiniAVResultCode parse_format(const WAVEFORMATEX *wf, in_format *out) {
    bool is_float = wf->wFormatTag == WAVE_FORMAT_IEEE_FLOAT, is_pcm = wf->wFormatTag == WAVE_FORMAT_PCM;
    if (wf->wFormatTag == WAVE_FORMAT_EXTENSIBLE && wf->cbSize >= 22) {
        const WAVEFORMATEXTENSIBLE *x = (const WAVEFORMATEXTENSIBLE *)wf;
        is_float = IsEqualGUID(&x->SubFormat, &SUBTYPE_IEEE_FLOAT);
        is_pcm = IsEqualGUID(&x->SubFormat, &SUBTYPE_PCM);
    }
    uint32_t bits = wf->wBitsPerSample;
    bool ok = (is_float && (bits == 32 || bits == 64)) || (is_pcm && (bits == 8 || bits == 16 || bits == 24 || bits == 32));
    if (!ok || !wf->nChannels || !wf->nSamplesPerSec || wf->nBlockAlign != wf->nChannels * bits / 8)
        return miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED,
                           "the audio engine's format (tag 0x%x, %u bits, %u channels) is not one MiniAV converts from", wf->wFormatTag,
                           (unsigned)bits, (unsigned)wf->nChannels);
    *out = (in_format){wf->nSamplesPerSec, wf->nChannels, bits / 8, wf->nBlockAlign, is_float};
    return MINIAV_SUCCESS;
}

/* The format MiniAV asks the engine for (WAVEFORMATEXTENSIBLE, default channel mask). */
static void make_format(const MiniAVAudioInfo *f, WAVEFORMATEXTENSIBLE *x) {
    static const DWORD masks[9] = {0, SPEAKER_FRONT_CENTER, KSAUDIO_SPEAKER_STEREO, KSAUDIO_SPEAKER_STEREO | SPEAKER_LOW_FREQUENCY,
                                   KSAUDIO_SPEAKER_QUAD, KSAUDIO_SPEAKER_QUAD | SPEAKER_FRONT_CENTER, KSAUDIO_SPEAKER_5POINT1,
                                   KSAUDIO_SPEAKER_5POINT1 | SPEAKER_BACK_CENTER, KSAUDIO_SPEAKER_7POINT1_SURROUND};
    uint32_t bytes = miniav_audio_format_bytes(f->format);
    memset(x, 0, sizeof *x);
    x->Format.wFormatTag = WAVE_FORMAT_EXTENSIBLE;
    x->Format.nChannels = (WORD)f->channel_count;
    x->Format.nSamplesPerSec = f->sample_rate;
    x->Format.wBitsPerSample = (WORD)(bytes * 8);
    x->Format.nBlockAlign = (WORD)(bytes * f->channel_count);
    x->Format.nAvgBytesPerSec = f->sample_rate * x->Format.nBlockAlign;
    x->Format.cbSize = sizeof *x - sizeof x->Format;
    x->Samples.wValidBitsPerSample = x->Format.wBitsPerSample;
    x->dwChannelMask = f->channel_count <= 8 ? masks[f->channel_count] : 0;
    x->SubFormat = f->format == MINIAV_AUDIO_FORMAT_F32 ? SUBTYPE_IEEE_FLOAT : SUBTYPE_PCM;
}

static float read_sample(const in_format *in, const uint8_t *p) {
    if (in->is_float) {
        if (in->bytes == 4) {
            float v;
            memcpy(&v, p, 4);
            return v;
        }
        double d;
        memcpy(&d, p, 8);
        return (float)d;
    }
    switch (in->bytes) {
    case 1: return ((int)p[0] - 128) / 128.0f;
    case 2: {
        int16_t v;
        memcpy(&v, p, 2);
        return v / 32768.0f;
    }
    case 3: {
        int32_t v = (int32_t)((uint32_t)p[0] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 24) >> 8;
        return v / 8388608.0f;
    }
    default: {
        int32_t v;
        memcpy(&v, p, 4);
        return v / 2147483648.0f;
    }
    }
}

/* frames of `in` (NULL = silence) into the requested format. Channels: same count copied;
 * to mono = the average; from mono = copied to every channel; otherwise the first channels
 * and silence for the missing ones. */
static void convert(const in_format *in, const uint8_t *src, const MiniAVAudioInfo *out, uint8_t *dst, uint32_t frames) {
    const uint32_t oc = out->channel_count, ob = miniav_audio_format_bytes(out->format);
    if (!src) {
        memset(dst, 0, (size_t)frames * oc * ob);
        return;
    }
    bool same_type = (out->format == MINIAV_AUDIO_FORMAT_F32 && in->is_float && in->bytes == 4) ||
                     (out->format == MINIAV_AUDIO_FORMAT_S16 && !in->is_float && in->bytes == 2);
    if (same_type && in->channels == oc) {
        memcpy(dst, src, (size_t)frames * in->block);
        return;
    }
    float v[8];
    for (uint32_t f = 0; f < frames; f++, src += in->block) {
        if (in->channels == oc || (oc > 1 && in->channels > 1)) {
            for (uint32_t c = 0; c < oc; c++) v[c] = c < in->channels ? read_sample(in, src + (size_t)c * in->bytes) : 0.0f;
        } else if (oc == 1) {
            float sum = 0;
            for (uint32_t c = 0; c < in->channels; c++) sum += read_sample(in, src + (size_t)c * in->bytes);
            v[0] = sum / (float)in->channels;
        } else {
            float m = read_sample(in, src);
            for (uint32_t c = 0; c < oc; c++) v[c] = m;
        }
        if (out->format == MINIAV_AUDIO_FORMAT_F32) {
            memcpy(dst, v, (size_t)oc * 4);
            dst += (size_t)oc * 4;
        } else {
            for (uint32_t c = 0; c < oc; c++, dst += 2) {
                float x = v[c] * 32768.0f;
                int32_t i = x >= 32767.0f ? 32767 : x <= -32768.0f ? -32768 : (int32_t)(x + (x >= 0 ? 0.5f : -0.5f));
                int16_t s = (int16_t)(i > 32767 ? 32767 : i);
                memcpy(dst, &s, 2);
            }
        }
    }
}

MiniAVResultCode wasapi_format_list(uint32_t rate, uint32_t channels, MiniAVAudioInfo **formats, uint32_t *count) {
    static const MiniAVAudioFormat types[2] = {MINIAV_AUDIO_FORMAT_F32, MINIAV_AUDIO_FORMAT_S16};
    MiniAVAudioInfo *list = calloc(16, sizeof *list);
    if (!list) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    uint32_t k = 0;
    for (int t = 0; t < 2; t++) {
        if (channels >= 1 && channels <= 8) list[k++] = (MiniAVAudioInfo){rate, channels, types[t], rate / 100};
        for (uint32_t c = 1; c <= 8; c++)
            if (c != channels) list[k++] = (MiniAVAudioInfo){rate, c, types[t], rate / 100};
    }
    *formats = list;
    *count = k;
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ opening a target */

static MiniAVResultCode hr_fail(HRESULT hr, const char *doing, const char *what) {
    MiniAVResultCode code = MINIAV_ERROR_SYSTEM_CALL_FAILED;
    const char *hint = "";
    if (hr == AUDCLNT_E_DEVICE_INVALIDATED) code = MINIAV_ERROR_DEVICE_LOST, hint = ": the device was removed or disabled";
    else if (hr == AUDCLNT_E_DEVICE_IN_USE) code = MINIAV_ERROR_DEVICE_BUSY, hint = ": another application uses it exclusively";
    else if (hr == E_ACCESSDENIED) code = MINIAV_ERROR_PERMISSION_DENIED, hint = ": access denied (microphone privacy settings?)";
    else if (hr == AUDCLNT_E_UNSUPPORTED_FORMAT) code = MINIAV_ERROR_FORMAT_NOT_SUPPORTED, hint = ": the engine does not take this format";
    else if (hr == E_OUTOFMEMORY) code = MINIAV_ERROR_OUT_OF_MEMORY;
    return miniav_fail(code, "cannot capture %s: %s failed (HRESULT 0x%08lx)%s", what, doing, (unsigned long)hr, hint);
}

/* RtlGetVersion, which tells the truth without an application manifest. */
static void windows_version(DWORD *major, DWORD *minor, DWORD *build) {
    typedef LONG(WINAPI * rtl_get_version_fn)(OSVERSIONINFOW *);
    OSVERSIONINFOW v = {.dwOSVersionInfoSize = sizeof v};
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    rtl_get_version_fn get = ntdll ? (rtl_get_version_fn)(void (*)(void))GetProcAddress(ntdll, "RtlGetVersion") : NULL;
    if (!get || get(&v) != 0) v.dwMajorVersion = v.dwMinorVersion = v.dwBuildNumber = 0;
    *major = v.dwMajorVersion, *minor = v.dwMinorVersion, *build = v.dwBuildNumber;
}

MiniAVResultCode wasapi_check_process_loopback(void) {
    DWORD major, minor, build;
    windows_version(&major, &minor, &build);
    if (major > 10 || (major == 10 && build >= PROCESS_LOOPBACK_BUILD)) return MINIAV_SUCCESS;
    return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED,
                       "capturing one process's audio needs Windows 10 build %u or later (Windows 11 / Server 2022); this is Windows "
                       "%lu.%lu build %lu%s: capture the system mix ('wasapi:loopback:default') instead",
                       PROCESS_LOOPBACK_BUILD, (unsigned long)major, (unsigned long)minor, (unsigned long)build,
                       wasapi_is_wine() ? " (Wine)" : "");
}

/* The completion handler ActivateAudioInterfaceAsync calls on one of its threads: agile
 * (IAgileObject), so it is never marshalled; it only signals the waiting thread. */
typedef struct {
    IActivateAudioInterfaceCompletionHandler iface;
    LONG refs;
    HANDLE done;
} activation_handler;

static HRESULT STDMETHODCALLTYPE handler_query(IActivateAudioInterfaceCompletionHandler *This, REFIID riid, void **out) {
    if (!out) return E_POINTER;
    if (IsEqualGUID(riid, &IID_IUnknown_) || IsEqualGUID(riid, &IID_IAgileObject_) ||
        IsEqualGUID(riid, &IID_IActivateAudioInterfaceCompletionHandler_)) {
        *out = This;
        IActivateAudioInterfaceCompletionHandler_AddRef(This);
        return S_OK;
    }
    *out = NULL;
    return E_NOINTERFACE;
}

static ULONG STDMETHODCALLTYPE handler_add_ref(IActivateAudioInterfaceCompletionHandler *This) {
    return (ULONG)InterlockedIncrement(&((activation_handler *)This)->refs);
}

static ULONG STDMETHODCALLTYPE handler_release(IActivateAudioInterfaceCompletionHandler *This) {
    activation_handler *h = (activation_handler *)This;
    LONG left = InterlockedDecrement(&h->refs);
    if (left == 0) {
        CloseHandle(h->done);
        free(h);
    }
    return (ULONG)left;
}

static HRESULT STDMETHODCALLTYPE handler_completed(IActivateAudioInterfaceCompletionHandler *This, IActivateAudioInterfaceAsyncOperation *op) {
    (void)op;
    SetEvent(((activation_handler *)This)->done);
    return S_OK;
}

static IActivateAudioInterfaceCompletionHandlerVtbl handler_vtbl = {handler_query, handler_add_ref, handler_release, handler_completed};

/* ActivateAudioInterfaceAsync is looked up at run time: mmdevapi.dll may lack it. */
static pthread_once_t activate_once = PTHREAD_ONCE_INIT;
static activate_async_fn activate;
static void load_activate(void) {
    static const char *const names[] = {"mmdevapi.dll", NULL};
    miniav_library *lib = miniav_library_open(names); /* open for the life of the process */
    if (lib) activate = (activate_async_fn)(void (*)(void))miniav_library_symbol(lib, "ActivateAudioInterfaceAsync");
}

static MiniAVResultCode activate_process_loopback(const wasapi_target *t, IAudioClient **out) {
    MiniAVResultCode r = wasapi_check_process_loopback();
    if (r) return r;
    pthread_once(&activate_once, load_activate);
    if (!activate)
        return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "mmdevapi.dll has no ActivateAudioInterfaceAsync: capturing one process's audio is not possible here");
    activation_handler *h = calloc(1, sizeof *h);
    if (!h) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    h->iface.lpVtbl = &handler_vtbl;
    h->refs = 1;
    if (!(h->done = CreateEventW(NULL, TRUE, FALSE, NULL))) {
        free(h);
        return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "CreateEvent failed (error %lu)", (unsigned long)GetLastError());
    }
    activation_params params = {1, t->process_id, t->exclude_process ? 1u : 0u};
    PROPVARIANT pv;
    PropVariantInit(&pv);
    pv.vt = VT_BLOB;
    pv.blob.cbSize = sizeof params;
    pv.blob.pBlobData = (BYTE *)&params;
    IActivateAudioInterfaceAsyncOperation *op = NULL;
    HRESULT hr = activate(PROCESS_LOOPBACK_DEVICE, &IID_IAudioClient_, &pv, &h->iface, &op);
    if (FAILED(hr)) {
        r = hr_fail(hr, "ActivateAudioInterfaceAsync (process loopback)", t->what);
    } else if (WaitForSingleObject(h->done, ACTIVATE_TIMEOUT_MS) != WAIT_OBJECT_0) {
        r = miniav_fail(MINIAV_ERROR_TIMEOUT, "cannot capture %s: the process loopback activation did not complete within %d ms", t->what,
                        ACTIVATE_TIMEOUT_MS);
    } else {
        HRESULT result = E_FAIL;
        IUnknown *unknown = NULL;
        hr = IActivateAudioInterfaceAsyncOperation_GetActivateResult(op, &result, &unknown);
        if (FAILED(hr) || FAILED(result) || !unknown)
            r = hr_fail(FAILED(hr) ? hr : FAILED(result) ? result : E_NOINTERFACE, "process loopback activation", t->what);
        else if (FAILED(hr = IUnknown_QueryInterface(unknown, &IID_IAudioClient_, (void **)out)))
            r = hr_fail(hr, "IAudioClient of the process loopback", t->what);
        if (unknown) IUnknown_Release(unknown);
    }
    if (op) IActivateAudioInterfaceAsyncOperation_Release(op);
    IActivateAudioInterfaceCompletionHandler_Release(&h->iface); /* the operation may keep its own reference */
    return r;
}

/* What an open target holds. */
typedef struct {
    IAudioClient *client;
    IAudioCaptureClient *capture;
    in_format in;
    bool monitor_fallback;   /* Wine: the render endpoint's Pulse monitor as a capture endpoint */
} opened;

static void close_opened(opened *o) {
    if (o->capture) IAudioCaptureClient_Release(o->capture);
    if (o->client) IAudioClient_Release(o->client);
    memset(o, 0, sizeof *o);
}

static MiniAVResultCode get_device(IMMDeviceEnumerator *en, const wasapi_target *t, IMMDevice **dev) {
    HRESULT hr;
    if (t->follow_default) {
        hr = IMMDeviceEnumerator_GetDefaultAudioEndpoint(en, eRender, eConsole, dev);
        if (FAILED(hr)) return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "there is no default audio output to capture (HRESULT 0x%08lx)", (unsigned long)hr);
        return MINIAV_SUCCESS;
    }
    wchar_t *wid = miniav_utf8_to_utf16(t->endpoint_id);
    if (!wid) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    hr = IMMDeviceEnumerator_GetDevice(en, wid, dev);
    free(wid);
    DWORD state = 0;
    if (SUCCEEDED(hr) && (FAILED(IMMDevice_GetState(*dev, &state)) || state != DEVICE_STATE_ACTIVE)) {
        IMMDevice_Release(*dev);
        *dev = NULL;
        hr = E_NOTFOUND;
    }
    if (FAILED(hr))
        return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "no active audio %s endpoint '%s'; list the ids with %s", t->source == WASAPI_SOURCE_CAPTURE ? "input" : "output",
                           t->endpoint_id, t->source == WASAPI_SOURCE_CAPTURE ? "MiniAV_Audio_EnumerateDevices" : "MiniAV_Loopback_EnumerateTargets");
    /* The id must name an endpoint of the right direction. */
    IMMEndpoint *ep = NULL;
    EDataFlow flow = eAll;
    static const GUID IID_IMMEndpoint_ = {0x1be09788, 0x6894, 0x4089, {0x85, 0x86, 0x9a, 0x2a, 0x6c, 0x26, 0x5a, 0xc5}};
    if (SUCCEEDED(IMMDevice_QueryInterface(*dev, &IID_IMMEndpoint_, (void **)&ep))) {
        IMMEndpoint_GetDataFlow(ep, &flow);
        IMMEndpoint_Release(ep);
    }
    EDataFlow want = t->source == WASAPI_SOURCE_CAPTURE ? eCapture : eRender;
    if (flow != want) {
        IMMDevice_Release(*dev);
        *dev = NULL;
        return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "'%s' is an audio %s, not an %s; %s", t->endpoint_id, flow == eRender ? "output" : "input",
                           want == eRender ? "output" : "input",
                           want == eRender ? "capture inputs with the MiniAV_Audio_* API" : "capture outputs with the MiniAV_Loopback_* API");
    }
    return MINIAV_SUCCESS;
}

/* Initializes `client` for `want`: the mix format converted here when the rates match,
 * else the engine's own conversion. */
static MiniAVResultCode init_client(IAudioClient *client, DWORD flags, const MiniAVAudioInfo *want, bool have_mix, HANDLE event,
                                    const char *what, in_format *in) {
    WAVEFORMATEX *mix = NULL;
    WAVEFORMATEXTENSIBLE asked;
    const WAVEFORMATEX *use;
    MiniAVResultCode r = MINIAV_SUCCESS;
    HRESULT hr;
    if (have_mix) {
        hr = IAudioClient_GetMixFormat(client, &mix);
        if (FAILED(hr)) return hr_fail(hr, "GetMixFormat", what);
        r = parse_format(mix, in);
    }
    if (!r && have_mix && in->rate == want->sample_rate) {
        use = mix;
    } else {
        /* Another rate (or a process loopback, which has no mix format): the engine converts. */
        make_format(want, &asked);
        use = &asked.Format;
        flags |= AUDCLNT_STREAMFLAGS_AUTOCONVERTPCM | AUDCLNT_STREAMFLAGS_SRC_DEFAULT_QUALITY;
        r = parse_format(use, in);
    }
    if (!r) {
        hr = IAudioClient_Initialize(client, AUDCLNT_SHAREMODE_SHARED, flags, ENGINE_BUFFER_HNS, 0, use, NULL);
        if (FAILED(hr) && use == &asked.Format && (hr == AUDCLNT_E_UNSUPPORTED_FORMAT || hr == E_INVALIDARG))
            r = miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "cannot capture %s at %u Hz: the audio engine does not convert to it (HRESULT 0x%08lx); "
                            "use the device's rate (%u Hz), listed by GetSupportedFormats", what, want->sample_rate, (unsigned long)hr,
                            have_mix && mix ? (unsigned)mix->nSamplesPerSec : 48000u);
        else if (FAILED(hr))
            r = hr_fail(hr, "IAudioClient::Initialize", what);
    }
    if (!r && event && FAILED(hr = IAudioClient_SetEventHandle(client, event))) r = hr_fail(hr, "SetEventHandle", what);
    CoTaskMemFree(mix);
    return r;
}

/* Wine: its loopback flag gives no data (GetService = AUDCLNT_E_WRONG_ENDPOINT_TYPE), but
 * winepulse lists each PulseAudio sink's monitor as the capture endpoint "Monitor of <sink>",
 * which is exactly what that output plays. Only used under Wine and after that failure. */
static MiniAVResultCode open_wine_monitor(IMMDeviceEnumerator *en, IMMDevice *render, const MiniAVAudioInfo *want, HANDLE event,
                                          const char *what, opened *o) {
    char render_name[256], monitor_name[300];
    friendly_name(render, render_name, sizeof render_name);
    snprintf(monitor_name, sizeof monitor_name, "Monitor of %s", render_name);
    wasapi_endpoint_list list;
    MiniAVResultCode r = wasapi_endpoints_list(en, eCapture, &list);
    if (r) return r;
    const wasapi_endpoint *found = NULL;
    for (uint32_t i = 0; i < list.count && !found; i++)
        if (!strcmp(list.items[i].name, monitor_name)) found = &list.items[i];
    IMMDevice *dev = NULL;
    HRESULT hr;
    if (!found)
        r = miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "cannot capture %s: Wine's WASAPI loopback gives no data (AUDCLNT_E_WRONG_ENDPOINT_TYPE) "
                        "and there is no '%s' capture endpoint to use instead (Wine's 'PulseAudio' output is whichever sink is "
                        "PulseAudio's default: capture that sink's own target from MiniAV_Loopback_EnumerateTargets)", what, monitor_name);
    else if (FAILED(hr = IMMDeviceEnumerator_GetDevice(en, found->id, &dev)))
        r = hr_fail(hr, "GetDevice (monitor)", what);
    else if (FAILED(hr = IMMDevice_Activate(dev, &IID_IAudioClient_, CLSCTX_ALL, NULL, (void **)&o->client)))
        r = hr_fail(hr, "IMMDevice::Activate (monitor)", what);
    else if (!(r = init_client(o->client, AUDCLNT_STREAMFLAGS_EVENTCALLBACK, want, true, event, what, &o->in)) &&
             FAILED(hr = IAudioClient_GetService(o->client, &IID_IAudioCaptureClient_, (void **)&o->capture)))
        r = hr_fail(hr, "GetService(IAudioCaptureClient) (monitor)", what);
    if (!r) {
        o->monitor_fallback = true;
        miniav_log(MINIAV_LOG_LEVEL_INFO, "wasapi: Wine has no WASAPI loopback; capturing %s from the capture endpoint '%s'", what, monitor_name);
    }
    if (dev) IMMDevice_Release(dev);
    wasapi_endpoints_free(&list);
    return r;
}

/* Opens t for `want` (not started). COM entered by the caller; en may be NULL for a process. */
static MiniAVResultCode open_target(IMMDeviceEnumerator *en, const wasapi_target *t, const MiniAVAudioInfo *want, HANDLE event, opened *o) {
    memset(o, 0, sizeof *o);
    MiniAVResultCode r;
    HRESULT hr;
    if (t->source == WASAPI_SOURCE_PROCESS) {
        r = activate_process_loopback(t, &o->client);
        if (!r) r = init_client(o->client, AUDCLNT_STREAMFLAGS_LOOPBACK | AUDCLNT_STREAMFLAGS_EVENTCALLBACK, want, false, event, t->what, &o->in);
        if (!r && FAILED(hr = IAudioClient_GetService(o->client, &IID_IAudioCaptureClient_, (void **)&o->capture)))
            r = hr_fail(hr, "GetService(IAudioCaptureClient)", t->what);
        if (r) close_opened(o);
        return r;
    }
    IMMDevice *dev = NULL;
    r = get_device(en, t, &dev);
    if (r) return r;
    DWORD flags = AUDCLNT_STREAMFLAGS_EVENTCALLBACK | (t->source == WASAPI_SOURCE_LOOPBACK ? AUDCLNT_STREAMFLAGS_LOOPBACK : 0);
    if (FAILED(hr = IMMDevice_Activate(dev, &IID_IAudioClient_, CLSCTX_ALL, NULL, (void **)&o->client)))
        r = hr_fail(hr, "IMMDevice::Activate", t->what);
    if (!r) r = init_client(o->client, flags, want, true, event, t->what, &o->in);
    if (!r && FAILED(hr = IAudioClient_GetService(o->client, &IID_IAudioCaptureClient_, (void **)&o->capture))) {
        if (t->source == WASAPI_SOURCE_LOOPBACK && hr == AUDCLNT_E_WRONG_ENDPOINT_TYPE && wasapi_is_wine()) {
            close_opened(o);
            r = open_wine_monitor(en, dev, want, event, t->what, o);
        } else {
            r = hr_fail(hr, "GetService(IAudioCaptureClient)", t->what);
        }
    }
    if (r) close_opened(o);
    IMMDevice_Release(dev);
    return r;
}

MiniAVResultCode wasapi_native_format(const wasapi_target *t, uint32_t *rate, uint32_t *channels) {
    if (t->source == WASAPI_SOURCE_PROCESS) {
        /* The process loopback device has no mix format: it converts to what is asked. */
        *rate = 48000, *channels = 2;
        return MINIAV_SUCCESS;
    }
    bool com = wasapi_com_enter();
    IMMDeviceEnumerator *en = NULL;
    IMMDevice *dev = NULL;
    IAudioClient *client = NULL;
    WAVEFORMATEX *mix = NULL;
    HRESULT hr;
    MiniAVResultCode r = wasapi_enumerator(&en);
    if (!r) r = get_device(en, t, &dev);
    if (!r && FAILED(hr = IMMDevice_Activate(dev, &IID_IAudioClient_, CLSCTX_ALL, NULL, (void **)&client))) r = hr_fail(hr, "IMMDevice::Activate", t->what);
    if (!r && FAILED(hr = IAudioClient_GetMixFormat(client, &mix))) r = hr_fail(hr, "GetMixFormat", t->what);
    if (!r) *rate = mix->nSamplesPerSec, *channels = mix->nChannels;
    CoTaskMemFree(mix);
    if (client) IAudioClient_Release(client);
    if (dev) IMMDevice_Release(dev);
    if (en) IMMDeviceEnumerator_Release(en);
    wasapi_com_leave(com);
    return r;
}

MiniAVResultCode wasapi_resolve_format(miniav_stream *s, const wasapi_target *t) {
    uint32_t rate = 48000, channels = 2;
    MiniAVResultCode r = wasapi_native_format(t, &rate, &channels);
    if (r) return r;
    MiniAVAudioInfo f = s->requested_audio;
    r = miniav_resolve_audio_format(&f, rate >= 8000 && rate <= 192000 ? rate : 48000, channels >= 1 && channels <= 8 ? channels : 2,
                                    "the wasapi backend");
    if (r) return r;
    /* A trial open: a rate the engine cannot convert to, a busy device or a Wine without
     * loopback fails here rather than at start. */
    bool com = wasapi_com_enter();
    IMMDeviceEnumerator *en = NULL;
    opened o;
    if (t->source != WASAPI_SOURCE_PROCESS) r = wasapi_enumerator(&en);
    if (!r) r = open_target(en, t, &f, NULL, &o);
    if (!r) close_opened(&o);
    if (en) IMMDeviceEnumerator_Release(en);
    wasapi_com_leave(com);
    if (r) return r;
    s->audio = f;
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ capture */

typedef struct {
    IMMNotificationClient iface;
    wasapi_capture *cap;
} notification_client;

struct wasapi_capture {
    miniav_stream *stream;
    wasapi_target target;
    miniav_capture_thread thread;
    bool thread_running;
    HANDLE wake;               /* stop / default changed */
    HANDLE ready;              /* the thread has opened the device (or failed) */
    HANDLE audio_event;        /* the engine's */
    MiniAVResultCode start_code;
    char start_message[512];
    atomic_bool default_changed;
    notification_client notify;

    /* Capture thread only. */
    IMMDeviceEnumerator *enumerator;
    opened dev;
    bool notify_registered;
    bool loopback;             /* silence when nothing plays */
    int64_t period_us;         /* one buffer */
    int64_t gap_us;            /* a packet later than this is a gap */
    miniav_audio_chunker chunk; /* anchor: the first packet's stamp (or the start, loopback) */
    bool anchored, had_packet;
    bool silence_filled;       /* loopback: silence was written since the last packet */
    bool stamp_noise;          /* Wine: packets are stamped when read, not when captured */
    int64_t lag_min;           /* smallest stamp - expected of the current window */
    uint32_t lag_count;
    uint64_t gaps;
    bool ended;
};

/* ---- IMMNotificationClient: the system mix follows the default output */

static HRESULT STDMETHODCALLTYPE notify_query(IMMNotificationClient *This, REFIID riid, void **out) {
    if (!out) return E_POINTER;
    if (IsEqualGUID(riid, &IID_IUnknown_) || IsEqualGUID(riid, &IID_IMMNotificationClient_)) {
        *out = This;
        return S_OK; /* embedded in the capture, which outlives the registration: no counting */
    }
    *out = NULL;
    return E_NOINTERFACE;
}
static ULONG STDMETHODCALLTYPE notify_add_ref(IMMNotificationClient *This) { (void)This; return 1; }
static ULONG STDMETHODCALLTYPE notify_release(IMMNotificationClient *This) { (void)This; return 1; }
static HRESULT STDMETHODCALLTYPE notify_state(IMMNotificationClient *This, LPCWSTR id, DWORD state) { (void)This, (void)id, (void)state; return S_OK; }
static HRESULT STDMETHODCALLTYPE notify_added(IMMNotificationClient *This, LPCWSTR id) { (void)This, (void)id; return S_OK; }
static HRESULT STDMETHODCALLTYPE notify_removed(IMMNotificationClient *This, LPCWSTR id) { (void)This, (void)id; return S_OK; }
static HRESULT STDMETHODCALLTYPE notify_default(IMMNotificationClient *This, EDataFlow flow, ERole role, LPCWSTR id) {
    (void)id;
    wasapi_capture *cap = ((notification_client *)This)->cap;
    if (flow == eRender && role == eConsole) {
        atomic_store(&cap->default_changed, true);
        SetEvent(cap->wake);
    }
    return S_OK;
}
static HRESULT STDMETHODCALLTYPE notify_property(IMMNotificationClient *This, LPCWSTR id, const PROPERTYKEY key) {
    (void)This, (void)id, (void)key;
    return S_OK;
}
static IMMNotificationClientVtbl notify_vtbl = {notify_query, notify_add_ref, notify_release, notify_state,
                                                notify_added, notify_removed, notify_default, notify_property};

/* ---- data path */

/* frames of the engine's format (data NULL = silence) into pool buffers. The engine lends
 * its packet only until ReleaseBuffer: the conversion is the counted copy. */
static void consume(wasapi_capture *cap, const uint8_t *data, uint64_t frames) {
    const MiniAVAudioInfo *f = &cap->stream->audio;
    while (frames) {
        uint8_t *dst;
        uint32_t take = miniav_audio_chunker_room(&cap->chunk, cap->stream, frames, &dst);
        if (dst) convert(&cap->dev.in, data, f, dst, take);
        if (data) data += (size_t)take * cap->dev.in.block;
        frames -= take;
        miniav_audio_chunker_advance(&cap->chunk, cap->stream, take);
    }
}

static int64_t sample_time(const wasapi_capture *cap, uint64_t sample) {
    return miniav_audio_chunker_time(&cap->chunk, sample, cap->stream->audio.sample_rate);
}

/* One packet; `queued` = frames the engine holds including this packet's. */
static void packet(wasapi_capture *cap, const BYTE *data, UINT32 frames, UINT32 queued, DWORD flags, UINT64 qpc) {
    const uint32_t rate = cap->stream->audio.sample_rate;
    int64_t now = MiniAV_GetTimeUs();
    bool stamped = qpc && !(flags & AUDCLNT_BUFFERFLAGS_TIMESTAMP_ERROR);
    /* Without a stamp: what is queued ends about now. A stamp later than that cannot be the
     * capture time of the first frame (Wine stamps packets when it reads them): bounded. */
    int64_t latest = now - (int64_t)(queued > frames ? queued : frames) * 1000000 / rate;
    int64_t at = stamped ? miniav_time_from_100ns_qpc((int64_t)qpc) : latest;
    if (at > latest) at = latest;
    if (flags & AUDCLNT_BUFFERFLAGS_SILENT) data = NULL;
    bool discontinuity = (flags & AUDCLNT_BUFFERFLAGS_DATA_DISCONTINUITY) && cap->had_packet; /* the first one is flagged on start */
    cap->had_packet = true;
    if (!cap->anchored) {
        cap->chunk.anchor_us = at;
        cap->anchored = true;
    } else {
        int64_t lag = at - sample_time(cap, cap->chunk.next_sample);
        int64_t lag_frames = lag * (int64_t)rate / 1000000;
        if ((discontinuity || lag > cap->gap_us || (cap->silence_filled && !cap->stamp_noise)) && stamped && lag_frames > 0) {
            /* After silence the first packet is placed where its stamp says (the filler runs
             * a margin behind the clock), unless stamps are known to be coarse (Wine). */
            if (cap->loopback && !discontinuity) {
                consume(cap, NULL, (uint64_t)lag_frames); /* nothing played meanwhile */
            } else {
                cap->gaps++;
                miniav_log(MINIAV_LOG_LEVEL_WARN, "wasapi: %s: %lld frames lost", cap->target.what, (long long)lag_frames);
                miniav_audio_chunker_drop(&cap->chunk, cap->stream, (uint64_t)lag_frames);
            }
            cap->lag_count = 0;
        } else if (discontinuity) {
            cap->gaps++; /* lost, but not measurable: timestamps go on by count */
            miniav_log(MINIAV_LOG_LEVEL_WARN, "wasapi: %s: data discontinuity", cap->target.what);
        } else if (cap->loopback && stamped && lag < -cap->gap_us) {
            /* Real data over silence already delivered: its overlapping start is dropped. */
            uint64_t overlap = (uint64_t)(-lag_frames);
            if (overlap >= frames) return;
            if (data) data += overlap * cap->dev.in.block;
            frames -= (UINT32)overlap;
        } else if (stamped) {
            /* Stamps only err late (a packet read after it was complete, bounded above), so
             * the smallest difference of a window is the clock error still to take out;
             * below 50 µs it is noise, not drift. */
            if (cap->lag_count == 0 || lag < cap->lag_min) cap->lag_min = lag;
            if (++cap->lag_count >= CLOCK_WINDOW_PACKETS) {
                cap->chunk.clock_error_us = cap->lag_min > 50 || cap->lag_min < -50 ? cap->lag_min : 0;
                cap->lag_count = 0;
            }
        }
    }
    cap->silence_filled = false;
    consume(cap, data, frames);
}

/* Loopback: WASAPI sends nothing while nothing plays. Silence up to a margin behind the
 * clock keeps buffers coming at their period with continuous timestamps. */
static void fill_silence(wasapi_capture *cap) {
    const uint32_t rate = cap->stream->audio.sample_rate;
    int64_t until = MiniAV_GetTimeUs() - cap->gap_us - cap->period_us;
    int64_t have = sample_time(cap, cap->chunk.next_sample);
    if (until - have < cap->period_us) return;
    int64_t target = (until - cap->chunk.anchor_us) * (int64_t)rate / 1000000;
    if (target > (int64_t)cap->chunk.next_sample) {
        consume(cap, NULL, (uint64_t)target - cap->chunk.next_sample);
        cap->silence_filled = true;
    }
}

/* Reads every packet the engine has. */
static HRESULT drain(wasapi_capture *cap) {
    for (;;) {
        UINT32 next = 0;
        HRESULT hr = IAudioCaptureClient_GetNextPacketSize(cap->dev.capture, &next);
        if (FAILED(hr)) return hr;
        if (!next) return S_OK;
        BYTE *data = NULL;
        UINT32 frames = 0;
        DWORD flags = 0;
        UINT64 position = 0, qpc = 0;
        UINT32 queued = 0;
        if (FAILED(IAudioClient_GetCurrentPadding(cap->dev.client, &queued))) queued = 0;
        hr = IAudioCaptureClient_GetBuffer(cap->dev.capture, &data, &frames, &flags, &position, &qpc);
        if (FAILED(hr)) return hr;
        if (hr == AUDCLNT_S_BUFFER_EMPTY || !frames) return S_OK;
        packet(cap, data, frames, queued, flags, qpc);
        hr = IAudioCaptureClient_ReleaseBuffer(cap->dev.capture, frames);
        if (FAILED(hr)) return hr;
    }
}

static MiniAVResultCode open_and_start(wasapi_capture *cap) {
    MiniAVResultCode r = open_target(cap->enumerator, &cap->target, &cap->stream->audio, cap->audio_event, &cap->dev);
    if (r) return r;
    HRESULT hr = IAudioClient_Start(cap->dev.client);
    if (FAILED(hr)) {
        r = hr_fail(hr, "IAudioClient::Start", cap->target.what);
        close_opened(&cap->dev);
    }
    return r;
}

static void close_device(wasapi_capture *cap) {
    if (cap->dev.client) IAudioClient_Stop(cap->dev.client);
    close_opened(&cap->dev);
}

static void end_capture(wasapi_capture *cap, MiniAVStreamEventType event, MiniAVResultCode code, const char *fmt, const char *detail) {
    if (cap->ended) return;
    cap->ended = true;
    miniav_stream_emit(cap->stream, event, code, fmt, cap->target.what, detail);
}

/* The system mix after the default output changed or went away: the new default, or the end. */
static bool reopen_default(wasapi_capture *cap) {
    close_device(cap);
    MiniAVResultCode r = open_and_start(cap);
    if (r) {
        end_capture(cap, MINIAV_EVENT_ENDED, MINIAV_ERROR_DEVICE_LOST, "%s ended: the default output changed and cannot be captured: %s",
                    MiniAV_GetLastErrorMessage());
        return false;
    }
    miniav_log(MINIAV_LOG_LEVEL_INFO, "wasapi: system audio follows the default output");
    return true;
}

static void *run(void *arg) {
    wasapi_capture *cap = arg;
    bool com = wasapi_com_enter();
    MiniAVResultCode r = MINIAV_SUCCESS;
    if (cap->target.source != WASAPI_SOURCE_PROCESS) r = wasapi_enumerator(&cap->enumerator);
    if (!r) r = open_and_start(cap);
    if (!r && cap->target.follow_default)
        cap->notify_registered = SUCCEEDED(IMMDeviceEnumerator_RegisterEndpointNotificationCallback(cap->enumerator, &cap->notify.iface));
    cap->start_code = r;
    if (r) miniav_copy_string(cap->start_message, sizeof cap->start_message, MiniAV_GetLastErrorMessage());
    if (cap->loopback) {
        /* Silence from the start: sample 0 is now. */
        cap->chunk.anchor_us = MiniAV_GetTimeUs();
        cap->anchored = true;
    }
    SetEvent(cap->ready);
    /* Loopback wakes at least every half buffer to write silence; capture only needs the
     * engine's event (the timeout is a safety net). */
    DWORD timeout = cap->loopback ? (DWORD)(cap->period_us / 2000 < 2 ? 2 : cap->period_us / 2000 > 20 ? 20 : cap->period_us / 2000) : 200;
    /* One process captured alone: the capture ends with it (its loopback would only go silent). */
    HANDLE process = !r && cap->target.source == WASAPI_SOURCE_PROCESS && !cap->target.exclude_process
                         ? OpenProcess(SYNCHRONIZE, FALSE, cap->target.process_id) : NULL;
    HANDLE handles[3] = {cap->audio_event, cap->wake, process};
    while (!r && !cap->ended && !atomic_load(&cap->thread.stop)) {
        DWORD woke = WaitForMultipleObjects(process ? 3 : 2, handles, FALSE, timeout);
        if (atomic_load(&cap->thread.stop)) break;
        if (woke == WAIT_OBJECT_0 + 2) {
            drain(cap);
            end_capture(cap, MINIAV_EVENT_ENDED, MINIAV_ERROR_DEVICE_LOST, "%s ended%s", ": the process exited");
            break;
        }
        if (atomic_exchange(&cap->default_changed, false) && cap->target.follow_default && !reopen_default(cap)) break;
        HRESULT hr = drain(cap);
        if (hr == AUDCLNT_E_DEVICE_INVALIDATED) {
            if (cap->target.follow_default) {
                if (!reopen_default(cap)) break;
                continue;
            }
            end_capture(cap, MINIAV_EVENT_ENDED, MINIAV_ERROR_DEVICE_LOST, "%s is gone%s", " (the device was removed or disabled)");
            break;
        }
        if (FAILED(hr)) {
            char why[64];
            snprintf(why, sizeof why, " (HRESULT 0x%08lx); start the capture again", (unsigned long)hr);
            end_capture(cap, MINIAV_EVENT_ERROR, MINIAV_ERROR_SYSTEM_CALL_FAILED, "%s could not be read%s", why);
            break;
        }
        if (cap->loopback) fill_silence(cap);
    }
    if (process) CloseHandle(process);
    if (cap->notify_registered) IMMDeviceEnumerator_UnregisterEndpointNotificationCallback(cap->enumerator, &cap->notify.iface);
    cap->notify_registered = false;
    close_device(cap);
    if (cap->enumerator) IMMDeviceEnumerator_Release(cap->enumerator);
    cap->enumerator = NULL;
    miniav_audio_chunker_abandon(&cap->chunk, cap->stream);
    if (cap->gaps) miniav_log(MINIAV_LOG_LEVEL_INFO, "wasapi: %s: %llu gaps in the data", cap->target.what, (unsigned long long)cap->gaps);
    wasapi_com_leave(com);
    return NULL;
}

static void capture_stop(wasapi_capture *cap);
static void capture_destroy(wasapi_capture *cap);

static MiniAVResultCode capture_create(miniav_stream *s, const wasapi_target *t, wasapi_capture **out) {
    wasapi_capture *cap = calloc(1, sizeof *cap);
    if (!cap) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    cap->stream = s;
    cap->target = *t;
    cap->notify.iface.lpVtbl = &notify_vtbl;
    cap->notify.cap = cap;
    cap->wake = CreateEventW(NULL, FALSE, FALSE, NULL);
    cap->ready = CreateEventW(NULL, FALSE, FALSE, NULL);
    cap->audio_event = CreateEventW(NULL, FALSE, FALSE, NULL);
    if (!cap->wake || !cap->ready || !cap->audio_event) {
        DWORD e = GetLastError();
        capture_destroy(cap);
        return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "CreateEvent failed (error %lu)", (unsigned long)e);
    }
    *out = cap;
    return MINIAV_SUCCESS;
}

static MiniAVResultCode capture_start(wasapi_capture *cap) {
    miniav_stream *s = cap->stream;
    const MiniAVAudioInfo *f = &s->audio;
    const uint32_t out_bpf = f->channel_count * miniav_audio_format_bytes(f->format);
    cap->period_us = (int64_t)f->buffer_frames * 1000000 / f->sample_rate;
    cap->gap_us = 2 * cap->period_us > MIN_GAP_US ? 2 * cap->period_us : MIN_GAP_US;
    cap->loopback = cap->target.source != WASAPI_SOURCE_CAPTURE;
    miniav_audio_chunker_reset(&cap->chunk);
    cap->anchored = cap->had_packet = cap->ended = cap->silence_filled = false;
    cap->stamp_noise = wasapi_is_wine();
    cap->lag_min = 0;
    cap->lag_count = 0;
    cap->gaps = 0;
    cap->start_code = MINIAV_SUCCESS;
    atomic_store(&cap->default_changed, false);
    ResetEvent(cap->wake);
    ResetEvent(cap->ready);
    MiniAVResultCode r = miniav_stream_ensure_pool(s, miniav_stream_pool_size(s, DEFAULT_POOL), (size_t)f->buffer_frames * out_bpf);
    if (r) return r;
    r = miniav_capture_thread_start(&cap->thread, run, cap);
    if (r) return r;
    cap->thread_running = true;
    if (WaitForSingleObject(cap->ready, START_TIMEOUT_MS) != WAIT_OBJECT_0) {
        capture_stop(cap);
        return miniav_fail(MINIAV_ERROR_TIMEOUT, "%s did not start within %d ms", cap->target.what, START_TIMEOUT_MS);
    }
    if (cap->start_code) {
        r = cap->start_code;
        char message[512];
        miniav_copy_string(message, sizeof message, cap->start_message);
        capture_stop(cap);
        return miniav_fail(r, "%s", message);
    }
    return MINIAV_SUCCESS;
}

static void capture_stop(wasapi_capture *cap) {
    if (!cap || !cap->thread_running) return;
    atomic_store(&cap->thread.stop, true); /* before the wake, so the woken loop sees it */
    SetEvent(cap->wake);
    miniav_capture_thread_stop(&cap->thread); /* sets the flag the loop checks, joins */
    cap->thread_running = false;
}

static void capture_destroy(wasapi_capture *cap) {
    if (!cap) return;
    capture_stop(cap);
    if (cap->wake) CloseHandle(cap->wake);
    if (cap->ready) CloseHandle(cap->ready);
    if (cap->audio_event) CloseHandle(cap->audio_event);
    free(cap);
}

MiniAVResultCode wasapi_configure(miniav_stream *s, const wasapi_target *t) {
    MiniAVResultCode r = wasapi_resolve_format(s, t);
    wasapi_capture *cap = NULL;
    if (!r) r = capture_create(s, t, &cap);
    if (!r) s->backend_data = cap;
    return r;
}

MiniAVResultCode wasapi_start(miniav_stream *s) { return capture_start(s->backend_data); }

void wasapi_stop(miniav_stream *s) { capture_stop(s->backend_data); }

void wasapi_destroy(miniav_stream *s) {
    capture_destroy(s->backend_data);
    s->backend_data = NULL;
}

