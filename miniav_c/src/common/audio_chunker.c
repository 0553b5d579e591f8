/* Pool buffers of exactly buffer_frames frames from packets of any size; see audio_chunker.h. */
#include "audio_chunker.h"

#include <string.h>

void miniav_audio_chunker_reset(miniav_audio_chunker *c) {
    memset(c, 0, sizeof *c);
}

int64_t miniav_audio_chunker_time(const miniav_audio_chunker *c, uint64_t sample, uint32_t rate) {
    return c->anchor_us + (int64_t)(sample * 1000000u / rate);
}

static void begin(miniav_audio_chunker *c, miniav_stream *s) {
    c->slot = miniav_stream_acquire(s); /* NULL: no free slot, dropped and counted by the core */
    c->in_progress = true;
    c->filled = 0;
    c->first_sample = c->next_sample;
}

static void finish(miniav_audio_chunker *c, miniav_stream *s) {
    const MiniAVAudioInfo *f = &s->audio;
    miniav_slot *slot = c->slot;
    c->slot = NULL;
    c->in_progress = false;
    if (!slot) return;
    MiniAVBuffer *b = &slot->buffer;
    memset(b, 0, sizeof *b);
    b->type = MINIAV_BUFFER_TYPE_AUDIO;
    b->content_type = MINIAV_BUFFER_CONTENT_TYPE_CPU;
    /* The sound card's clock drifts from the monotonic one (10 ppm on the rig, up to ~100 ppm
     * on hardware): 3 ms of difference over 5 minutes. Whatever error the backend measured is
     * taken out 1 µs per buffer, so consecutive buffers stay frames/rate apart to within
     * 1 µs and timestamps stay on the MiniAV clock (100 ppm at 10 ms buffers). */
    if (c->clock_error_us > 0) c->anchor_us++, c->clock_error_us--;
    else if (c->clock_error_us < 0) c->anchor_us--, c->clock_error_us++;
    b->timestamp_us = miniav_audio_chunker_time(c, c->first_sample, f->sample_rate);
    b->data.audio.frame_count = f->buffer_frames;
    b->data.audio.channel_count = f->channel_count;
    b->data.audio.sample_rate = f->sample_rate;
    b->data.audio.format = f->format;
    b->data.audio.data = slot->mem;
    b->data_size_bytes = (size_t)f->buffer_frames * f->channel_count * miniav_audio_format_bytes(f->format);
    /* The system lends its packets only until they are released: the copy (or conversion)
     * into the pool is the one copy on this path, and it is counted. */
    atomic_fetch_add(&s->copies, 1);
    miniav_stream_deliver(s, slot);
}

uint32_t miniav_audio_chunker_room(miniav_audio_chunker *c, miniav_stream *s, uint64_t frames, uint8_t **dst) {
    const MiniAVAudioInfo *f = &s->audio;
    if (!c->in_progress) begin(c, s);
    uint64_t take = f->buffer_frames - c->filled;
    if (take > frames) take = frames;
    *dst = c->slot ? c->slot->mem + (size_t)c->filled * f->channel_count * miniav_audio_format_bytes(f->format) : NULL;
    return (uint32_t)take;
}

void miniav_audio_chunker_advance(miniav_audio_chunker *c, miniav_stream *s, uint32_t frames) {
    c->filled += frames;
    c->next_sample += frames;
    if (c->filled == s->audio.buffer_frames) finish(c, s);
}

void miniav_audio_chunker_drop(miniav_audio_chunker *c, miniav_stream *s, uint64_t lost) {
    const uint32_t per_buffer = s->audio.buffer_frames;
    uint64_t partial = 0, already_counted = 0;
    if (!lost) return;
    if (c->in_progress) {
        partial = c->filled;
        if (c->slot)
            miniav_stream_abandon(s, c->slot);
        else
            already_counted = 1; /* acquire found no slot and counted it */
        c->slot = NULL;
        c->in_progress = false;
    }
    uint64_t buffers = (partial + lost + per_buffer - 1) / per_buffer;
    if (buffers > already_counted) miniav_stream_count_lost(s, buffers - already_counted);
    c->next_sample += lost;
}

void miniav_audio_chunker_abandon(miniav_audio_chunker *c, miniav_stream *s) {
    if (c->in_progress && c->slot) miniav_stream_abandon(s, c->slot);
    c->slot = NULL;
    c->in_progress = false;
}
