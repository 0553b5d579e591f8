/* WASAPI loopback: what the outputs play.
 *
 * Target ids:
 *   "wasapi:loopback:default"          the system mix = loopback of the default output (eConsole);
 *                                      when the default output changes mid-stream the capture
 *                                      reopens on the new one (IMMNotificationClient)
 *   "wasapi:loopback:<endpoint id>"    one output (render endpoint)
 *   "wasapi:process:<pid>"             one process and its children (Windows 10 build 20348+,
 *                                      ActivateAudioInterfaceAsync on the process loopback device)
 *   "wasapi:process-exclude:<pid>"     everything but that process tree (not listed: the same
 *                                      targets with this prefix; for an application that wants
 *                                      the mix without its own sound)
 * Under Wine (no WASAPI loopback) only outputs with a PulseAudio monitor capture endpoint are
 * listed, and captured through it; the system mix, Wine's "PulseAudio" default alias, is not.
 * Processes are listed from the audio sessions of the active outputs (IAudioSessionManager2);
 * MiniAV_Loopback_ConfigureWithTargetInfo(PROCESS, pid) picks "wasapi:process:<pid>".
 *
 * WASAPI delivers nothing while nothing plays: the capture path (wasapi_common.c) fills
 * silence so buffers keep coming at their period.
 */
#include "../audio/wasapi_common.h"

#include <audiopolicy.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_PREFIX "wasapi:"
#define SYSTEM_ID "wasapi:loopback:default"
#define DEVICE_PREFIX "wasapi:loopback:"
#define PROCESS_PREFIX "wasapi:process:"
#define EXCLUDE_PREFIX "wasapi:process-exclude:"

static const GUID IID_IAudioSessionManager2_ = {0x77aa99a0, 0x1bd6, 0x484f, {0x8b, 0xc7, 0x2c, 0x65, 0x4c, 0x9a, 0x9b, 0x6f}};
static const GUID IID_IAudioSessionControl2_ = {0xbfb7ff88, 0x7239, 0x4fc9, {0x8f, 0xa2, 0x07, 0xc9, 0x50, 0xbe, 0x9c, 0x6d}};

static bool owns_id(const char *id) { return id && !strncmp(id, ID_PREFIX, strlen(ID_PREFIX)); }

static bool wants(MiniAVLoopbackTargetType filter, MiniAVLoopbackTargetType type) {
    return filter == MINIAV_LOOPBACK_TARGET_NONE || filter == type;
}

/* The image name of a process ("app.exe"), empty when it cannot be opened. */
static void process_image(DWORD pid, char *dst, size_t size) {
    dst[0] = '\0';
    HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
    if (!h) return;
    wchar_t path[MAX_PATH];
    DWORD len = MAX_PATH;
    if (QueryFullProcessImageNameW(h, 0, path, &len)) {
        const wchar_t *base = path;
        for (const wchar_t *p = path; *p; p++)
            if (*p == L'\\' || *p == L'/') base = p + 1;
        miniav_utf16_to_utf8(dst, size, base);
    }
    CloseHandle(h);
}

/* Appends one PROCESS target per process that has an audio session on `dev` (once each). */
static MiniAVResultCode list_sessions(IMMDevice *dev, miniav_device_list *out, uint32_t first_process) {
    IAudioSessionManager2 *manager = NULL;
    IAudioSessionEnumerator *sessions = NULL;
    int n = 0;
    HRESULT hr = IMMDevice_Activate(dev, &IID_IAudioSessionManager2_, CLSCTX_ALL, NULL, (void **)&manager);
    if (SUCCEEDED(hr)) hr = IAudioSessionManager2_GetSessionEnumerator(manager, &sessions);
    if (SUCCEEDED(hr)) hr = IAudioSessionEnumerator_GetCount(sessions, &n);
    if (FAILED(hr)) /* not fatal: the outputs are still listed */
        miniav_log(MINIAV_LOG_LEVEL_DEBUG, "wasapi: audio sessions cannot be listed (HRESULT 0x%08lx)", (unsigned long)hr);
    MiniAVResultCode r = MINIAV_SUCCESS;
    for (int i = 0; SUCCEEDED(hr) && i < n && !r; i++) {
        IAudioSessionControl *control = NULL;
        IAudioSessionControl2 *control2 = NULL;
        DWORD pid = 0;
        AudioSessionState state = AudioSessionStateExpired;
        if (SUCCEEDED(IAudioSessionEnumerator_GetSession(sessions, i, &control)) &&
            SUCCEEDED(IAudioSessionControl_QueryInterface(control, &IID_IAudioSessionControl2_, (void **)&control2)) &&
            SUCCEEDED(IAudioSessionControl2_GetProcessId(control2, &pid)) && pid &&
            IAudioSessionControl2_IsSystemSoundsSession(control2) != S_OK &&
            SUCCEEDED(IAudioSessionControl_GetState(control, &state)) && state != AudioSessionStateExpired) {
            bool seen = false;
            for (uint32_t k = first_process; k < out->count && !seen; k++) seen = out->items[k].process_id == pid;
            if (!seen) {
                MiniAVDeviceInfo *d = miniav_device_list_add(out);
                if (!d) {
                    r = miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
                } else {
                    snprintf(d->device_id, sizeof d->device_id, PROCESS_PREFIX "%lu", (unsigned long)pid);
                    d->process_id = pid;
                    process_image(pid, d->class_name, sizeof d->class_name);
                    wchar_t *display = NULL;
                    if (SUCCEEDED(IAudioSessionControl_GetDisplayName(control, &display)) && display && display[0] && display[0] != L'@')
                        miniav_utf16_to_utf8(d->name, sizeof d->name, display);
                    CoTaskMemFree(display);
                    if (!d->name[0]) {
                        if (d->class_name[0]) miniav_copy_string(d->name, sizeof d->name, d->class_name);
                        else snprintf(d->name, sizeof d->name, "process %lu", (unsigned long)pid);
                    }
                }
            }
        }
        if (control2) IAudioSessionControl2_Release(control2);
        if (control) IAudioSessionControl_Release(control);
    }
    if (sessions) IAudioSessionEnumerator_Release(sessions);
    if (manager) IAudioSessionManager2_Release(manager);
    return r;
}

/* Wine has no WASAPI loopback; an output is captured through its PulseAudio monitor, the
 * capture endpoint "Monitor of <output>" (wasapi_common.c). Outputs without one (Wine's
 * "PulseAudio" alias of the default sink, hence the system mix) are not listed: a listed
 * target can be captured, and the system mix then comes from another backend. */
static MiniAVResultCode keep_wine_capturable(IMMDeviceEnumerator *en, wasapi_endpoint_list *render) {
    wasapi_endpoint_list capture;
    MiniAVResultCode r = wasapi_endpoints_list(en, eCapture, &capture);
    if (r) return r;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < render->count; i++) {
        char monitor[300];
        snprintf(monitor, sizeof monitor, "Monitor of %s", render->items[i].name);
        bool found = false;
        for (uint32_t k = 0; k < capture.count && !found; k++) found = !strcmp(capture.items[k].name, monitor);
        if (found) {
            render->items[kept++] = render->items[i];
        } else {
            miniav_log(MINIAV_LOG_LEVEL_DEBUG, "wasapi: Wine: output '%s' has no '%s' capture endpoint; not listed for loopback",
                       render->items[i].name, monitor);
            CoTaskMemFree(render->items[i].id);
        }
    }
    render->count = kept;
    wasapi_endpoints_free(&capture);
    return MINIAV_SUCCESS;
}

static MiniAVResultCode enumerate(miniav_device_list *out, MiniAVLoopbackTargetType filter) {
    if (!wants(filter, MINIAV_LOOPBACK_TARGET_SYSTEM_AUDIO) && !wants(filter, MINIAV_LOOPBACK_TARGET_DEVICE) &&
        !wants(filter, MINIAV_LOOPBACK_TARGET_PROCESS))
        return MINIAV_SUCCESS; /* windows: captured through their process */
    bool com = wasapi_com_enter();
    IMMDeviceEnumerator *en = NULL;
    wasapi_endpoint_list list = {0};
    MiniAVDeviceInfo *d;
    MiniAVResultCode r = wasapi_enumerator(&en);
    if (!r) r = wasapi_endpoints_list(en, eRender, &list);
    if (!r && wasapi_is_wine()) r = keep_wine_capturable(en, &list);
    for (uint32_t i = 0; !r && i < list.count && wants(filter, MINIAV_LOOPBACK_TARGET_SYSTEM_AUDIO); i++) {
        if (!list.items[i].is_default) continue;
        if (!(d = miniav_device_list_add(out))) r = miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
        else {
            miniav_copy_string(d->device_id, sizeof d->device_id, SYSTEM_ID);
            snprintf(d->name, sizeof d->name, "System audio (%.200s)", list.items[i].name);
            d->is_default = 1;
        }
    }
    for (uint32_t i = 0; !r && i < list.count && wants(filter, MINIAV_LOOPBACK_TARGET_DEVICE); i++) {
        if (!(d = miniav_device_list_add(out))) r = miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
        else {
            snprintf(d->device_id, sizeof d->device_id, DEVICE_PREFIX "%s", list.items[i].id_utf8);
            miniav_copy_string(d->name, sizeof d->name, list.items[i].name);
        }
    }
    uint32_t first_process = out->count;
    for (uint32_t i = 0; !r && i < list.count && wants(filter, MINIAV_LOOPBACK_TARGET_PROCESS); i++) {
        IMMDevice *dev = NULL;
        if (FAILED(IMMDeviceEnumerator_GetDevice(en, list.items[i].id, &dev))) continue;
        r = list_sessions(dev, out, first_process);
        IMMDevice_Release(dev);
    }
    wasapi_endpoints_free(&list);
    if (en) IMMDeviceEnumerator_Release(en);
    wasapi_com_leave(com);
    return r;
}

/* What a target id means; the endpoint or process is checked when it is opened. */
static MiniAVResultCode make_target(const char *id, wasapi_target *t) {
    memset(t, 0, sizeof *t);
    if (!strcmp(id, SYSTEM_ID)) {
        t->source = WASAPI_SOURCE_LOOPBACK;
        t->follow_default = true;
        snprintf(t->what, sizeof t->what, "system audio");
        return MINIAV_SUCCESS;
    }
    bool exclude = !strncmp(id, EXCLUDE_PREFIX, strlen(EXCLUDE_PREFIX));
    if (exclude || !strncmp(id, PROCESS_PREFIX, strlen(PROCESS_PREFIX))) {
        const char *number = id + strlen(exclude ? EXCLUDE_PREFIX : PROCESS_PREFIX);
        char *end;
        errno = 0;
        unsigned long pid = strtoul(number, &end, 10);
        if (*number < '0' || *number > '9' || *end || errno || !pid || pid > 0xffffffffUL)
            return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "'%s': expected a process id after '%s'", id,
                               exclude ? EXCLUDE_PREFIX : PROCESS_PREFIX);
        t->source = WASAPI_SOURCE_PROCESS;
        t->process_id = (uint32_t)pid;
        t->exclude_process = exclude;
        char image[128];
        process_image((DWORD)pid, image, sizeof image);
        snprintf(t->what, sizeof t->what, "%s process %lu%s%s%s", exclude ? "everything but" : "the audio of", pid, image[0] ? " (" : "",
                 image, image[0] ? ")" : "");
        return MINIAV_SUCCESS;
    }
    if (!strncmp(id, DEVICE_PREFIX, strlen(DEVICE_PREFIX)) && id[strlen(DEVICE_PREFIX)] &&
        strlen(id + strlen(DEVICE_PREFIX)) < sizeof t->endpoint_id) {
        t->source = WASAPI_SOURCE_LOOPBACK;
        miniav_copy_string(t->endpoint_id, sizeof t->endpoint_id, id + strlen(DEVICE_PREFIX));
        char name[256];
        if (wasapi_endpoint_name(eRender, t->endpoint_id, name, sizeof name)) snprintf(t->what, sizeof t->what, "audio output '%.250s'", name);
        else snprintf(t->what, sizeof t->what, "audio output '%.200s'", t->endpoint_id);
        return MINIAV_SUCCESS;
    }
    return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "'%s' is not a WASAPI loopback id ('" SYSTEM_ID "', '" DEVICE_PREFIX "<endpoint id>', '"
                       PROCESS_PREFIX "<pid>', '" EXCLUDE_PREFIX "<pid>'); list them with MiniAV_Loopback_EnumerateTargets", id);
}

/* Process targets: the version first (the reason it cannot work at all), then the process. */
static MiniAVResultCode check_process(const wasapi_target *t) {
    MiniAVResultCode r = wasapi_check_process_loopback();
    if (r) return r;
    HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, t->process_id);
    DWORD alive = h ? WaitForSingleObject(h, 0) : WAIT_FAILED;
    if (h) CloseHandle(h);
    if (!h && GetLastError() == ERROR_ACCESS_DENIED) {
        /* It exists, but we may not wait on it: an elevated or protected process (or a
         * service) seen from an ordinary one. Process loopback captures it all the same.
         * The limited query right is granted more widely: where it is, it says whether the
         * process has exited; where it is not either, the process is taken as running. */
        alive = WAIT_TIMEOUT;
        HANDLE q = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, t->process_id);
        DWORD code = 0;
        if (q && GetExitCodeProcess(q, &code) && code != STILL_ACTIVE) alive = WAIT_OBJECT_0;
        if (q) CloseHandle(q);
    }
    if (alive != WAIT_TIMEOUT)
        return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "no running process %u; list the ones playing sound with "
                           "MiniAV_Loopback_EnumerateTargets(MINIAV_LOOPBACK_TARGET_PROCESS)", t->process_id);
    return MINIAV_SUCCESS;
}

static MiniAVResultCode audio_formats(const char *id, MiniAVAudioInfo **formats, uint32_t *count) {
    wasapi_target t;
    uint32_t rate, channels;
    MiniAVResultCode r = make_target(id, &t);
    if (!r && t.source == WASAPI_SOURCE_PROCESS) r = check_process(&t);
    if (!r) r = wasapi_native_format(&t, &rate, &channels);
    return r ? r : wasapi_format_list(rate, channels, formats, count);
}

static MiniAVResultCode configure(miniav_stream *s) {
    wasapi_target t;
    MiniAVResultCode r = make_target(s->device_id, &t);
    if (!r && t.source == WASAPI_SOURCE_PROCESS) r = check_process(&t);
    return r ? r : wasapi_configure(s, &t);
}

/* Process loopback takes any process id (the tree is captured from activation on, whether
 * it plays now or not), so ConfigureWithTargetInfo gets an id even where sessions cannot be
 * listed; whether this Windows can do it is answered at configure. */
static bool process_target_id(uint32_t pid, char *id, size_t id_size) {
    return snprintf(id, id_size, PROCESS_PREFIX "%u", pid) < (int)id_size;
}

const miniav_backend miniav_wasapi_loopback = {
    .name = "wasapi", .type = MINIAV_DEVICE_TYPE_LOOPBACK, .available = wasapi_available,
    .enumerate = enumerate, .owns_id = owns_id, .audio_formats = audio_formats,
    .configure = configure, .start = wasapi_start, .stop = wasapi_stop, .destroy = wasapi_destroy,
    .process_target_id = process_target_id,
};
