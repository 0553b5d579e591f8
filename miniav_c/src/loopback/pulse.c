/* PulseAudio loopback: what the outputs play.
 *
 * Target ids:
 *   "pulse:system"              the system mix = the default sink's monitor; when the
 *                               default output changes mid-stream the capture follows it
 *   "pulse:sink:<sink name>"    one output's monitor
 *   "pulse:app:<sink input>"    one playing stream alone: a record stream on its sink's
 *                               monitor, restricted to it with pa_stream_set_monitor_stream
 *
 * The capture path is audio/pulse_common.c, shared with the audio input backend.
 */
#define _GNU_SOURCE
#include "../audio/pulse_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_PREFIX "pulse:"
#define SYSTEM_ID "pulse:system"
#define SINK_PREFIX "pulse:sink:"
#define APP_PREFIX "pulse:app:"

static bool owns_id(const char *id) { return id && !strncmp(id, ID_PREFIX, strlen(ID_PREFIX)); }

static bool wants(MiniAVLoopbackTargetType filter, MiniAVLoopbackTargetType type) {
    return filter == MINIAV_LOOPBACK_TARGET_NONE || filter == type;
}

static MiniAVResultCode enumerate(miniav_device_list *out, MiniAVLoopbackTargetType filter) {
    if (!wants(filter, MINIAV_LOOPBACK_TARGET_SYSTEM_AUDIO) && !wants(filter, MINIAV_LOOPBACK_TARGET_DEVICE) &&
        !wants(filter, MINIAV_LOOPBACK_TARGET_PROCESS))
        return MINIAV_SUCCESS; /* windows: PulseAudio does not know them */
    pulse_snapshot snap;
    MiniAVResultCode r = pulse_snapshot_take(&snap);
    if (r) return r;
    MiniAVDeviceInfo *d;
    const pulse_sink *default_sink = pulse_find_sink(&snap, snap.default_sink);
    if (wants(filter, MINIAV_LOOPBACK_TARGET_SYSTEM_AUDIO) && default_sink) {
        if (!(d = miniav_device_list_add(out))) goto out_of_memory;
        miniav_copy_string(d->device_id, sizeof d->device_id, SYSTEM_ID);
        snprintf(d->name, sizeof d->name, "System audio (%.200s)", default_sink->description);
        d->is_default = 1;
    }
    if (wants(filter, MINIAV_LOOPBACK_TARGET_DEVICE))
        for (uint32_t i = 0; i < snap.sink_count; i++) {
            char id[sizeof out->items->device_id];
            if (!pulse_make_id(id, sizeof id, SINK_PREFIX, snap.sinks[i].name)) continue;
            if (!(d = miniav_device_list_add(out))) goto out_of_memory;
            miniav_copy_string(d->device_id, sizeof d->device_id, id);
            miniav_copy_string(d->name, sizeof d->name, snap.sinks[i].description);
        }
    if (wants(filter, MINIAV_LOOPBACK_TARGET_PROCESS))
        for (uint32_t i = 0; i < snap.input_count; i++) {
            const pulse_sink_input *in = &snap.inputs[i];
            if (!(d = miniav_device_list_add(out))) goto out_of_memory;
            snprintf(d->device_id, sizeof d->device_id, APP_PREFIX "%u", in->index);
            miniav_copy_string(d->name, sizeof d->name, in->name);
            d->process_id = in->process_id;
            miniav_copy_string(d->class_name, sizeof d->class_name, in->binary);
        }
    pulse_snapshot_free(&snap);
    return MINIAV_SUCCESS;
out_of_memory:
    pulse_snapshot_free(&snap);
    return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
}

/* What a target id means on the server now: the source to record, what to watch, and the
 * native rate/channels. */
static MiniAVResultCode resolve_target(const char *id, pulse_target *target, uint32_t *rate, uint32_t *channels) {
    pulse_snapshot snap;
    MiniAVResultCode r = pulse_snapshot_take(&snap);
    if (r) return r;
    memset(target, 0, sizeof *target);
    target->monitor_sink_input = PA_INVALID_INDEX;
    target->watch = PULSE_WATCH_SOURCE;
    const pulse_sink *sink = NULL;
    if (!strcmp(id, SYSTEM_ID)) {
        sink = pulse_find_sink(&snap, snap.default_sink);
        if (!sink) r = miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "the PulseAudio server has no default output (sink) to capture");
        else {
            snprintf(target->what, sizeof target->what, "system audio (%s)", sink->description);
            target->follow_default_sink = true;
            miniav_copy_string(target->sink_name, sizeof target->sink_name, sink->name);
        }
    } else if (!strncmp(id, SINK_PREFIX, strlen(SINK_PREFIX))) {
        sink = pulse_find_sink(&snap, id + strlen(SINK_PREFIX));
        if (!sink) r = miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "no PulseAudio output (sink) '%s'; list the loopback ids with "
                                   "MiniAV_Loopback_EnumerateTargets", id + strlen(SINK_PREFIX));
        else snprintf(target->what, sizeof target->what, "PulseAudio output '%s'", sink->description);
    } else if (!strncmp(id, APP_PREFIX, strlen(APP_PREFIX))) {
        const char *number = id + strlen(APP_PREFIX);
        char *end;
        errno = 0;
        unsigned long index = strtoul(number, &end, 10);
        const pulse_sink_input *in = NULL;
        if (*number >= '0' && *number <= '9' && !*end && !errno && index < PA_INVALID_INDEX) in = pulse_find_input(&snap, (uint32_t)index);
        for (uint32_t i = 0; in && i < snap.sink_count; i++)
            if (snap.sinks[i].index == in->sink) sink = &snap.sinks[i];
        if (!in || !sink) {
            r = miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "no playing application '%s' (it may have stopped); list the current ones with "
                            "MiniAV_Loopback_EnumerateTargets(MINIAV_LOOPBACK_TARGET_PROCESS)", number);
        } else {
            target->monitor_sink_input = in->index;
            target->watch = PULSE_WATCH_SINK_INPUT;
            target->watch_index = in->index;
            snprintf(target->what, sizeof target->what, "application '%s'", in->name);
            *rate = in->rate;
            *channels = in->channels;
        }
    } else {
        r = miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "'%s' is not a PulseAudio loopback id ('pulse:system', 'pulse:sink:<name>', "
                        "'pulse:app:<index>'); list them with MiniAV_Loopback_EnumerateTargets", id);
    }
    if (!r) {
        miniav_copy_string(target->source_name, sizeof target->source_name, sink->monitor_source);
        if (target->watch == PULSE_WATCH_SOURCE) *rate = sink->rate, *channels = sink->channels;
    }
    pulse_snapshot_free(&snap);
    return r;
}

static MiniAVResultCode audio_formats(const char *id, MiniAVAudioInfo **formats, uint32_t *count) {
    pulse_target target;
    uint32_t rate = 0, channels = 0;
    MiniAVResultCode r = resolve_target(id, &target, &rate, &channels);
    return r ? r : pulse_format_list(rate, formats, count);
}

static MiniAVResultCode configure(miniav_stream *s) {
    pulse_target target;
    uint32_t rate = 0, channels = 0;
    MiniAVResultCode r = resolve_target(s->device_id, &target, &rate, &channels);
    if (!r) r = pulse_resolve_format(s, rate, channels);
    if (r) return r;
    pulse_capture *cap = calloc(1, sizeof *cap);
    if (!cap) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    cap->target = target;
    s->backend_data = cap;
    return MINIAV_SUCCESS;
}

static MiniAVResultCode start(miniav_stream *s) {
    pulse_capture *cap = s->backend_data;
    uint32_t rate = 0, channels = 0;
    /* Again at start: the default sink, or the sink an application plays to, may have changed. */
    MiniAVResultCode r = resolve_target(s->device_id, &cap->target, &rate, &channels);
    return r ? r : pulse_capture_start(cap, s);
}

static void stop(miniav_stream *s) { pulse_capture_stop(s->backend_data); }

static void destroy(miniav_stream *s) { free(s->backend_data); }

const miniav_backend miniav_pulse_loopback = {
    .name = "pulse", .type = MINIAV_DEVICE_TYPE_LOOPBACK, .available = pulse_available,
    .enumerate = enumerate, .owns_id = owns_id, .audio_formats = audio_formats,
    .configure = configure, .start = start, .stop = stop, .destroy = destroy,
};
