/* Audio test helpers shared by test_pulse.c and test_wasapi.c (header-only, like check.h):
 * a recorder that keeps channel 0 of every buffer and checks each buffer's size and its
 * sample-accurate timestamp, the measurements made on what it kept, and audio input and
 * loopback contexts driven alike. */
#ifndef MINIAV_TEST_AUDIO_CHECK_H
#define MINIAV_TEST_AUDIO_CHECK_H
#include "miniav.h"
#include "check.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define AUDIO_MAX_SAMPLES (48000 * 3)

typedef struct {
    float samples[AUDIO_MAX_SAMPLES]; /* channel 0, as float */
    atomic_uint count;               /* samples stored */
    atomic_int buffers;
    uint32_t want_frames, rate;      /* every buffer must have exactly want_frames */
    int wrong_frames, bad_timestamps, sequence_gaps;
    int early;                       /* buffers handed over > 2 ms before their last sample's time */
    int64_t first_timestamp, last_timestamp;
    uint64_t last_sequence;
    uint32_t last_frames;
    void *held;                      /* the first buffer, kept past destroy */
    atomic_int ended;
    MiniAVResultCode ended_code;
} audio_recorder;

/* One buffer into rec: its size, its timestamp against the previous buffer's end (within
 * slack_us: rounding, and the backend's 1 us per buffer of clock correction), its
 * sequence number; channel 0 kept. The first buffer is held, the others released. */
static inline void audio_recorder_add(audio_recorder *rec, const MiniAVBuffer *b, double slack_us) {
    const int n = atomic_load(&rec->buffers);
    __typeof__(b->data.audio) const *a = &b->data.audio;
    if (a->frame_count != rec->want_frames) rec->wrong_frames++;
    /* A buffer cannot be complete before its last sample was captured: one that is dates
     * its samples too late (2 ms: the clock correction still pending at start-up). */
    if (MiniAV_GetTimeUs() < b->timestamp_us + (int64_t)(a->frame_count * 1e6 / a->sample_rate) - 2000) rec->early++;
    if (n == 0) {
        rec->first_timestamp = b->timestamp_us;
    } else {
        double expected = (double)rec->last_timestamp + rec->last_frames * 1e6 / rec->rate;
        if (fabs((double)b->timestamp_us - expected) > slack_us) rec->bad_timestamps++;
        if (b->sequence != rec->last_sequence + 1) rec->sequence_gaps++;
    }
    rec->last_timestamp = b->timestamp_us;
    rec->last_frames = a->frame_count;
    rec->last_sequence = b->sequence;
    unsigned stored = atomic_load(&rec->count);
    for (uint32_t i = 0; i < a->frame_count && stored < AUDIO_MAX_SAMPLES; i++, stored++) {
        size_t at = (size_t)i * a->channel_count;
        rec->samples[stored] = a->format == MINIAV_AUDIO_FORMAT_F32 ? ((const float *)a->data)[at] : ((const int16_t *)a->data)[at] / 32768.0f;
    }
    atomic_store(&rec->count, stored);
    if (n == 0)
        rec->held = b->internal_handle;
    else
        MiniAV_ReleaseBuffer(b->internal_handle);
    atomic_fetch_add(&rec->buffers, 1);
}

/* Frequency from positive-going zero crossings (interpolated), over samples [from, to). */
static inline double audio_frequency(const float *x, unsigned from, unsigned to, uint32_t rate) {
    double first = -1, last = -1;
    int crossings = 0;
    for (unsigned i = from + 1; i < to; i++)
        if (x[i - 1] < 0 && x[i] >= 0) {
            double t = (i - 1) + x[i - 1] / (x[i - 1] - x[i]);
            if (first < 0) first = t;
            last = t;
            crossings++;
        }
    return crossings > 1 ? (crossings - 1) * (double)rate / (last - first) : 0;
}

static inline int audio_by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the frequencies of 100 ms windows: a glitch in the rig's own feed (its player
 * starved on a loaded machine) spoils one window, not the measurement. */
static inline double audio_frequency_median(const float *x, unsigned from, unsigned to, uint32_t rate) {
    double f[64];
    unsigned n = 0, w = rate / 10;
    for (unsigned at = from; at + w <= to && n < 64; at += w) f[n++] = audio_frequency(x, at, at + w, rate);
    if (!n) return audio_frequency(x, from, to, rate);
    qsort(f, n, sizeof f[0], audio_by_value);
    return f[n / 2];
}

static inline double audio_peak(const float *x, unsigned from, unsigned to) {
    double m = 0;
    for (unsigned i = from; i < to; i++) m = fmax(m, fabs(x[i]));
    return m;
}

/* ------------------------------------------------------------------ audio input and loopback alike */

typedef enum { AUDIO_INPUT, LOOPBACK } audio_kind;

/* A context of kind k configured for id with f; *got is the format it took. On failure
 * *ctx may still need destroying. */
static inline MiniAVResultCode audio_configure(audio_kind k, const char *id, MiniAVAudioInfo *f, void **ctx, MiniAVAudioInfo *got) {
    MiniAVResultCode r;
    if (k == AUDIO_INPUT) {
        MiniAV_Audio_CreateContext((MiniAVAudioContextHandle *)ctx);
        r = MiniAV_Audio_Configure(*ctx, id, f);
        if (!r) r = MiniAV_Audio_GetConfiguredFormat(*ctx, got);
    } else {
        MiniAV_Loopback_CreateContext((MiniAVLoopbackContextHandle *)ctx);
        r = MiniAV_Loopback_Configure(*ctx, id, f);
        if (!r) r = MiniAV_Loopback_GetConfiguredFormat(*ctx, got);
    }
    return r;
}

static inline MiniAVResultCode audio_start(audio_kind k, void *ctx, MiniAVBufferCallback cb, void *user) {
    return k == AUDIO_INPUT ? MiniAV_Audio_StartCapture(ctx, cb, user) : MiniAV_Loopback_StartCapture(ctx, cb, user);
}

static inline MiniAVResultCode audio_stop(audio_kind k, void *ctx) {
    return k == AUDIO_INPUT ? MiniAV_Audio_StopCapture(ctx) : MiniAV_Loopback_StopCapture(ctx);
}

static inline MiniAVResultCode audio_destroy(audio_kind k, void *ctx) {
    return k == AUDIO_INPUT ? MiniAV_Audio_DestroyContext(ctx) : MiniAV_Loopback_DestroyContext(ctx);
}

/* The configured format `got` is what was asked (0: the backend's choice; 10 ms buffers by
 * default); rec then expects its buffers. */
static inline void audio_expect(audio_recorder *rec, const MiniAVAudioInfo *got, uint32_t rate, uint32_t channels, MiniAVAudioFormat format,
                                uint32_t frames) {
    if (rate) CHECK_EQ_INT(got->sample_rate, rate);
    if (channels) CHECK_EQ_INT(got->channel_count, channels);
    CHECK_EQ_INT(got->format, format);
    CHECK_EQ_INT(got->buffer_frames, frames ? frames : got->sample_rate / 100);
    rec->want_frames = got->buffer_frames;
    rec->rate = got->sample_rate;
}

#endif
