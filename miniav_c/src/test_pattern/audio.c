/* Test-pattern audio device, id "test-pattern", for audio input and loopback.
 *
 * A 440 Hz sine of amplitude 0.5 on every channel, phase-continuous across buffers,
 * paced by a real thread at the sample rate. Buffer n's timestamp is the start time
 * plus the samples before it divided by the rate, so timestamps and sample counts
 * agree exactly; a buffer dropped because the application holds every buffer still
 * advances time, and is counted.
 */
#define _GNU_SOURCE
#include "../common/miniav_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TEST_PATTERN_ID "test-pattern"
#define TONE_HZ 440u
#define AMPLITUDE 0.5
#define DEFAULT_POOL 16u

typedef struct {
    miniav_capture_thread worker;
    uint32_t bytes_per_frame;
} audio_state;

static void fill(const MiniAVAudioInfo *f, void *mem, uint64_t first_sample) {
    const double two_pi = 6.283185307179586;
    for (uint32_t i = 0; i < f->buffer_frames; i++) {
        /* Exact phase from the integer sample index: no drift over hours. */
        uint64_t phase_index = ((first_sample + i) * TONE_HZ) % f->sample_rate;
        double value = AMPLITUDE * sin(two_pi * (double)phase_index / f->sample_rate);
        if (f->format == MINIAV_AUDIO_FORMAT_F32) {
            float *out = (float *)mem + (size_t)i * f->channel_count;
            for (uint32_t c = 0; c < f->channel_count; c++) out[c] = (float)value;
        } else {
            int16_t *out = (int16_t *)mem + (size_t)i * f->channel_count;
            int16_t v = (int16_t)lrint(value * 32767.0);
            for (uint32_t c = 0; c < f->channel_count; c++) out[c] = v;
        }
    }
}

static void *capture_thread(void *arg) {
    miniav_stream *s = arg;
    audio_state *st = s->backend_data;
    const MiniAVAudioInfo *f = &s->audio;
    int64_t start = MiniAV_GetTimeUs();
    uint64_t samples = 0;
    while (!atomic_load(&st->worker.stop)) {
        /* A buffer is "captured" once its last sample's time has passed. */
        int64_t ready_at = start + (int64_t)((samples + f->buffer_frames) * 1000000 / f->sample_rate);
        if (!miniav_sleep_until(ready_at, &st->worker.stop)) break;
        int64_t timestamp = start + (int64_t)(samples * 1000000 / f->sample_rate);
        uint64_t first = samples;
        samples += f->buffer_frames;
        miniav_slot *slot = miniav_stream_acquire(s);
        if (!slot) continue;
        fill(f, slot->mem, first);
        MiniAVBuffer *b = &slot->buffer;
        memset(b, 0, sizeof *b);
        b->type = MINIAV_BUFFER_TYPE_AUDIO;
        b->content_type = MINIAV_BUFFER_CONTENT_TYPE_CPU;
        b->timestamp_us = timestamp;
        b->data.audio.frame_count = f->buffer_frames;
        b->data.audio.channel_count = f->channel_count;
        b->data.audio.sample_rate = f->sample_rate;
        b->data.audio.format = f->format;
        b->data.audio.data = slot->mem;
        b->data_size_bytes = (size_t)f->buffer_frames * st->bytes_per_frame;
        miniav_stream_deliver(s, slot);
    }
    return NULL;
}

static bool always_available(void) { return true; }

static bool owns_id(const char *id) { return id && !strcmp(id, TEST_PATTERN_ID); }

static MiniAVResultCode audio_formats(const char *id, MiniAVAudioInfo **formats, uint32_t *count) {
    (void)id;
    static const uint32_t rates[] = {8000, 16000, 44100, 48000, 96000, 192000};
    static const MiniAVAudioFormat sample_formats[] = {MINIAV_AUDIO_FORMAT_F32, MINIAV_AUDIO_FORMAT_S16};
    static const uint32_t channels[] = {1, 2, 8};
    size_t n = (sizeof rates / sizeof rates[0]) * 2 * 3, i = 0;
    MiniAVAudioInfo *list = calloc(n, sizeof *list);
    if (!list) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    for (size_t f = 0; f < 2; f++)
        for (size_t c = 0; c < 3; c++)
            for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++)
                list[i++] = (MiniAVAudioInfo){rates[r], channels[c], sample_formats[f], rates[r] / 100};
    *formats = list;
    *count = (uint32_t)n;
    return MINIAV_SUCCESS;
}

static MiniAVResultCode configure(miniav_stream *s) {
    MiniAVAudioInfo f = s->requested_audio;
    MiniAVResultCode r = miniav_resolve_audio_format(&f, 48000, 2, "the test pattern");
    if (r) return r;
    audio_state *st = calloc(1, sizeof *st);
    if (!st) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    st->bytes_per_frame = f.channel_count * miniav_audio_format_bytes(f.format);
    s->backend_data = st;
    s->audio = f;
    return MINIAV_SUCCESS;
}

static MiniAVResultCode start(miniav_stream *s) {
    audio_state *st = s->backend_data;
    MiniAVResultCode r =
        miniav_stream_ensure_pool(s, miniav_stream_pool_size(s, DEFAULT_POOL), (size_t)s->audio.buffer_frames * st->bytes_per_frame);
    if (r) return r;
    return miniav_capture_thread_start(&st->worker, capture_thread, s);
}

static void stop(miniav_stream *s) {
    audio_state *st = s->backend_data;
    miniav_capture_thread_stop(&st->worker);
}

static void destroy(miniav_stream *s) { free(s->backend_data); }

static MiniAVResultCode add_device(miniav_device_list *out, const char *name) {
    if (!miniav_env_flag("MINIAV_FAKE_DEVICES")) return MINIAV_SUCCESS;
    MiniAVDeviceInfo *d = miniav_device_list_add(out);
    if (!d) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    miniav_copy_string(d->device_id, sizeof d->device_id, TEST_PATTERN_ID);
    miniav_copy_string(d->name, sizeof d->name, name);
    return MINIAV_SUCCESS;
}

static MiniAVResultCode enumerate_input(miniav_device_list *out, MiniAVLoopbackTargetType filter) {
    (void)filter;
    return add_device(out, "MiniAV test pattern microphone (440 Hz)");
}

static MiniAVResultCode enumerate_loopback(miniav_device_list *out, MiniAVLoopbackTargetType filter) {
    /* The test pattern stands for the system mix. */
    if (filter != MINIAV_LOOPBACK_TARGET_NONE && filter != MINIAV_LOOPBACK_TARGET_SYSTEM_AUDIO) return MINIAV_SUCCESS;
    return add_device(out, "MiniAV test pattern system audio (440 Hz)");
}

const miniav_backend miniav_test_pattern_audio = {
    .name = "test-pattern", .type = MINIAV_DEVICE_TYPE_AUDIO, .available = always_available,
    .enumerate = enumerate_input, .owns_id = owns_id, .audio_formats = audio_formats,
    .configure = configure, .start = start, .stop = stop, .destroy = destroy,
};

const miniav_backend miniav_test_pattern_loopback = {
    .name = "test-pattern", .type = MINIAV_DEVICE_TYPE_LOOPBACK, .available = always_available,
    .enumerate = enumerate_loopback, .owns_id = owns_id, .audio_formats = audio_formats,
    .configure = configure, .start = start, .stop = stop, .destroy = destroy,
};
