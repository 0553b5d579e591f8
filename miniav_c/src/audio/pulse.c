/* PulseAudio audio input: the server's sources that are not monitors (microphones,
 * line-in, virtual sources). Device id "pulse:<source name>".
 *
 * libpulse is loaded at run time; the backend is available when it loads and a server
 * answers. The capture path (record stream -> pool buffers) is in pulse_common.c, shared
 * with the loopback backend.
 */
#define _GNU_SOURCE
#include "pulse_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_PREFIX "pulse:"
#define ID_PREFIX_LEN (sizeof ID_PREFIX - 1)

static bool owns_id(const char *id) { return id && !strncmp(id, ID_PREFIX, ID_PREFIX_LEN); }

static MiniAVResultCode enumerate(miniav_device_list *out, MiniAVLoopbackTargetType filter) {
    (void)filter;
    pulse_snapshot snap;
    MiniAVResultCode r = pulse_snapshot_take(&snap);
    if (r) return r;
    for (uint32_t i = 0; i < snap.source_count && !r; i++) {
        const pulse_source *src = &snap.sources[i];
        if (src->monitor_of_sink != PA_INVALID_INDEX) continue; /* what plays: that is loopback */
        char id[sizeof out->items->device_id];
        if (!pulse_make_id(id, sizeof id, ID_PREFIX, src->name)) continue;
        MiniAVDeviceInfo *d = miniav_device_list_add(out);
        if (!d) {
            r = miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
            break;
        }
        miniav_copy_string(d->device_id, sizeof d->device_id, id);
        miniav_copy_string(d->name, sizeof d->name, src->description);
        d->is_default = !strcmp(src->name, snap.default_source);
    }
    pulse_snapshot_free(&snap);
    return r;
}

/* The source a device id names, or DEVICE_NOT_FOUND saying how to find the ids. */
static MiniAVResultCode find_input(const pulse_snapshot *snap, const char *id, const pulse_source **out) {
    const char *name = id + ID_PREFIX_LEN;
    const pulse_source *src = pulse_find_source(snap, name);
    if (!src)
        return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND,
                           "no PulseAudio source '%s'; list the audio input ids with MiniAV_Audio_EnumerateDevices", name);
    if (src->monitor_of_sink != PA_INVALID_INDEX)
        return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND,
                           "'%s' is the monitor of an output, not an input; capture outputs with the loopback API "
                           "(MiniAV_Loopback_EnumerateTargets lists 'pulse:sink:<sink name>')",
                           name);
    *out = src;
    return MINIAV_SUCCESS;
}

static MiniAVResultCode audio_formats(const char *id, MiniAVAudioInfo **formats, uint32_t *count) {
    pulse_snapshot snap;
    MiniAVResultCode r = pulse_snapshot_take(&snap);
    if (r) return r;
    const pulse_source *src = NULL;
    r = find_input(&snap, id, &src);
    if (!r) r = pulse_format_list(src->rate, formats, count);
    pulse_snapshot_free(&snap);
    return r;
}

static MiniAVResultCode configure(miniav_stream *s) {
    pulse_snapshot snap;
    MiniAVResultCode r = pulse_snapshot_take(&snap);
    if (r) return r;
    const pulse_source *src = NULL;
    r = find_input(&snap, s->device_id, &src);
    if (!r) r = pulse_resolve_format(s, src->rate, src->channels);
    pulse_capture *cap = NULL;
    if (!r && !(cap = calloc(1, sizeof *cap))) r = miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    if (!r) {
        miniav_copy_string(cap->target.source_name, sizeof cap->target.source_name, src->name);
        cap->target.monitor_sink_input = PA_INVALID_INDEX;
        cap->target.watch = PULSE_WATCH_SOURCE;
        snprintf(cap->target.what, sizeof cap->target.what, "PulseAudio source '%s'", src->description);
        s->backend_data = cap;
    }
    pulse_snapshot_free(&snap);
    return r;
}

static MiniAVResultCode start(miniav_stream *s) { return pulse_capture_start(s->backend_data, s); }

static void stop(miniav_stream *s) { pulse_capture_stop(s->backend_data); }

static void destroy(miniav_stream *s) { free(s->backend_data); }

const miniav_backend miniav_pulse_audio = {
    .name = "pulse", .type = MINIAV_DEVICE_TYPE_AUDIO, .available = pulse_available,
    .enumerate = enumerate, .owns_id = owns_id, .audio_formats = audio_formats,
    .configure = configure, .start = start, .stop = stop, .destroy = destroy,
};
