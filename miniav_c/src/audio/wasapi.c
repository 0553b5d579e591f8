/* WASAPI audio input: the active capture endpoints (microphones, line-in, "Stereo Mix").
 * Device id "wasapi:<endpoint id>" (IMMDevice::GetId in UTF-8), name = the endpoint's
 * friendly name, default = the eConsole default capture endpoint.
 *
 * Shared-mode, event-driven capture; the capture path (thread, conversion, timestamps) is
 * in wasapi_common.c, shared with the loopback backend.
 */
#include "wasapi_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_PREFIX "wasapi:"
#define ID_PREFIX_LEN (sizeof ID_PREFIX - 1)

static bool owns_id(const char *id) { return id && !strncmp(id, ID_PREFIX, ID_PREFIX_LEN); }

static MiniAVResultCode enumerate(miniav_device_list *out, MiniAVLoopbackTargetType filter) {
    (void)filter;
    bool com = wasapi_com_enter();
    IMMDeviceEnumerator *en = NULL;
    wasapi_endpoint_list list = {0};
    MiniAVResultCode r = wasapi_enumerator(&en);
    if (!r) r = wasapi_endpoints_list(en, eCapture, &list);
    for (uint32_t i = 0; !r && i < list.count; i++) {
        MiniAVDeviceInfo *d = miniav_device_list_add(out);
        if (!d) {
            r = miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
            break;
        }
        snprintf(d->device_id, sizeof d->device_id, ID_PREFIX "%s", list.items[i].id_utf8);
        miniav_copy_string(d->name, sizeof d->name, list.items[i].name);
        d->is_default = list.items[i].is_default;
    }
    wasapi_endpoints_free(&list);
    if (en) IMMDeviceEnumerator_Release(en);
    wasapi_com_leave(com);
    return r;
}

/* The target a device id names (the endpoint is looked up when it is opened). */
static MiniAVResultCode make_target(const char *id, wasapi_target *t) {
    memset(t, 0, sizeof *t);
    const char *endpoint = id + ID_PREFIX_LEN;
    if (!*endpoint || strlen(endpoint) >= sizeof t->endpoint_id)
        return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "'%s' is not a WASAPI input id; list them with MiniAV_Audio_EnumerateDevices", id);
    t->source = WASAPI_SOURCE_CAPTURE;
    miniav_copy_string(t->endpoint_id, sizeof t->endpoint_id, endpoint);
    snprintf(t->what, sizeof t->what, "audio input '%.200s'", endpoint);
    return MINIAV_SUCCESS;
}

static MiniAVResultCode audio_formats(const char *id, MiniAVAudioInfo **formats, uint32_t *count) {
    wasapi_target t;
    uint32_t rate, channels;
    MiniAVResultCode r = make_target(id, &t);
    if (!r) r = wasapi_native_format(&t, &rate, &channels);
    return r ? r : wasapi_format_list(rate, channels, formats, count);
}

static MiniAVResultCode configure(miniav_stream *s) {
    wasapi_target t;
    MiniAVResultCode r = make_target(s->device_id, &t);
    if (r) return r;
    char name[256];
    if (wasapi_endpoint_name(eCapture, t.endpoint_id, name, sizeof name)) snprintf(t.what, sizeof t.what, "audio input '%.250s'", name);
    return wasapi_configure(s, &t);
}

const miniav_backend miniav_wasapi_audio = {
    .name = "wasapi", .type = MINIAV_DEVICE_TYPE_AUDIO, .available = wasapi_available,
    .enumerate = enumerate, .owns_id = owns_id, .audio_formats = audio_formats,
    .configure = configure, .start = wasapi_start, .stop = wasapi_stop, .destroy = wasapi_destroy,
};
