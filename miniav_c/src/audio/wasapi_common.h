/* WASAPI code shared by the audio input (audio/wasapi.c) and loopback (loopback/wasapi.c)
 * backends: COM set-up, endpoint enumeration, opening an endpoint (or a process loopback
 * through ActivateAudioInterfaceAsync), and the one capture path (event-driven capture
 * thread -> format conversion -> pool buffers of exactly buffer_frames frames). Not installed. */
#ifndef MINIAV_WASAPI_COMMON_H
#define MINIAV_WASAPI_COMMON_H

#include "../common/miniav_internal.h"

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <audioclient.h>
#include <mmdeviceapi.h>

/* ------------------------------------------------------------------ COM */

/* Every thread that uses COM here: initialises the multithreaded apartment, or goes on in
 * whatever apartment the thread already has (RPC_E_CHANGED_MODE). Returns whether
 * wasapi_com_leave must uninitialise. */
bool wasapi_com_enter(void);
void wasapi_com_leave(bool entered);

/* A device enumerator (COM entered by the caller); BACKEND_UNAVAILABLE with the HRESULT. */
MiniAVResultCode wasapi_enumerator(IMMDeviceEnumerator **out);
/* The MMDevice enumerator can be created: the audio service answers. */
bool wasapi_available(void);
/* Running under Wine (ntdll exports wine_get_version). */
bool wasapi_is_wine(void);

/* ------------------------------------------------------------------ endpoints */

typedef struct {
    wchar_t *id;          /* IMMDevice::GetId, CoTaskMem, freed by wasapi_endpoints_free */
    char id_utf8[200];
    char name[256];       /* PKEY_Device_FriendlyName, UTF-8 */
    bool is_default;      /* the eConsole default of its flow */
} wasapi_endpoint;

typedef struct {
    wasapi_endpoint *items;
    uint32_t count;
} wasapi_endpoint_list;

/* Active endpoints of one flow (eCapture or eRender). COM entered by the caller. */
MiniAVResultCode wasapi_endpoints_list(IMMDeviceEnumerator *en, EDataFlow flow, wasapi_endpoint_list *out);
void wasapi_endpoints_free(wasapi_endpoint_list *list);
const wasapi_endpoint *wasapi_endpoints_find(const wasapi_endpoint_list *list, const char *id_utf8);
/* The friendly name of an active endpoint, for messages; false (error left clear) if none. */
bool wasapi_endpoint_name(EDataFlow flow, const char *id_utf8, char *name, size_t size);

/* ------------------------------------------------------------------ what to capture */

typedef enum {
    WASAPI_SOURCE_CAPTURE = 0,  /* a capture endpoint (microphone, line-in) */
    WASAPI_SOURCE_LOOPBACK,     /* a render endpoint with AUDCLNT_STREAMFLAGS_LOOPBACK */
    WASAPI_SOURCE_PROCESS       /* one process tree (or all but it) through the process loopback device */
} wasapi_source;

typedef struct {
    wasapi_source source;
    char endpoint_id[200];      /* UTF-8 endpoint id; empty with follow_default */
    bool follow_default;        /* loopback of the default render endpoint, reopened when it changes */
    uint32_t process_id;        /* WASAPI_SOURCE_PROCESS */
    bool exclude_process;       /* everything but that process tree */
    char what[300];             /* for messages: "microphone 'x'", "system audio" */
} wasapi_target;

/* Native format of a target (the mix format; 48 kHz stereo for a process). */
MiniAVResultCode wasapi_native_format(const wasapi_target *t, uint32_t *rate, uint32_t *channels);
/* f32/s16 x 1..8 channels at the native rate (native channel count first), 10 ms buffers. */
MiniAVResultCode wasapi_format_list(uint32_t rate, uint32_t channels, MiniAVAudioInfo **formats, uint32_t *count);
/* Fills the defaults into s->requested_audio's zeros, checks the ranges, tries to open the
 * target with it (so an unsupported rate fails here, not at start) and writes s->audio. */
MiniAVResultCode wasapi_resolve_format(miniav_stream *s, const wasapi_target *t);

/* Per-process loopback needs Windows 10 build 20348; NOT_SUPPORTED naming it otherwise. */
MiniAVResultCode wasapi_check_process_loopback(void);

/* ------------------------------------------------------------------ capture */

typedef struct wasapi_capture wasapi_capture;

/* What both backends' configure ends with: the format (wasapi_resolve_format), then a
 * capture of t as s->backend_data. */
MiniAVResultCode wasapi_configure(miniav_stream *s, const wasapi_target *t);
/* The backend table's start/stop/destroy, for input and loopback alike. start runs the
 * capture thread and waits until the device runs (or says why not); stop leaves no callbacks
 * after it returns and is safe after the device ended on its own. */
MiniAVResultCode wasapi_start(miniav_stream *s);
void wasapi_stop(miniav_stream *s);
void wasapi_destroy(miniav_stream *s);

#endif
