/* Audio re-chunking shared by the capture backends (pulse_common.c, wasapi_common.c):
 * whatever packet sizes the system gives are cut into pool buffers of exactly
 * buffer_frames frames, dated by sample count from an anchor. The backend writes (copies
 * or converts) the frames; this keeps the buffer being filled, the sample count, the
 * clock correction and the drop accounting. One thread at a time (the capture's). Not
 * installed. */
#ifndef MINIAV_AUDIO_CHUNKER_H
#define MINIAV_AUDIO_CHUNKER_H

#include "miniav_internal.h"

typedef struct {
    miniav_slot *slot;        /* the buffer being filled; NULL while dropping one (no free slot) */
    bool in_progress;         /* a buffer (slot or dropped) is being assembled */
    uint32_t filled;          /* frames of it so far */
    uint64_t first_sample;    /* sample index of its first frame */
    uint64_t next_sample;     /* sample index of the next frame the system gives */
    int64_t anchor_us;        /* MiniAV time of sample 0 (set by the backend, corrected here) */
    int64_t clock_error_us;   /* measured by the backend: still to take out, 1 µs per buffer */
} miniav_audio_chunker;

/* Everything back to zero, for a new start. */
void miniav_audio_chunker_reset(miniav_audio_chunker *c);
/* MiniAV time of sample `sample` at `rate`, on the anchor as corrected so far. */
int64_t miniav_audio_chunker_time(const miniav_audio_chunker *c, uint64_t sample, uint32_t rate);
/* Starts a buffer when none is in progress; returns how many of `frames` it still takes,
 * and in *dst where they go (NULL: the buffer is being dropped, write nothing). */
uint32_t miniav_audio_chunker_room(miniav_audio_chunker *c, miniav_stream *s, uint64_t frames, uint8_t **dst);
/* `frames` (at most what room gave) were written; a full buffer is delivered. */
void miniav_audio_chunker_advance(miniav_audio_chunker *c, miniav_stream *s, uint32_t frames);
/* `lost` frames never came: the buffer in progress and every buffer the gap spans are
 * dropped (counted, sequence numbers jump), and time moves on by the gap. */
void miniav_audio_chunker_drop(miniav_audio_chunker *c, miniav_stream *s, uint64_t lost);
/* Gives back the buffer in progress, if any (stop, end of stream). */
void miniav_audio_chunker_abandon(miniav_audio_chunker *c, miniav_stream *s);

#endif
