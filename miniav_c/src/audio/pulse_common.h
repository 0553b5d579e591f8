/* PulseAudio code shared by the audio input (audio/pulse.c) and loopback
 * (loopback/pulse.c) backends: libpulse loaded at run time, a connection on a threaded
 * mainloop, a snapshot of the server's devices, and the one capture path (record stream
 * -> pool buffers of exactly buffer_frames frames). Not installed. */
#ifndef MINIAV_PULSE_COMMON_H
#define MINIAV_PULSE_COMMON_H

#include "../common/audio_chunker.h"
#include "../common/miniav_internal.h"

#include <pulse/pulseaudio.h>

/* ------------------------------------------------------------------ libpulse, loaded at run time */

#define PULSE_FUNCTIONS(F)                                                                                              \
    F(pa_threaded_mainloop_new) F(pa_threaded_mainloop_free) F(pa_threaded_mainloop_start) F(pa_threaded_mainloop_stop) \
    F(pa_threaded_mainloop_lock) F(pa_threaded_mainloop_unlock) F(pa_threaded_mainloop_wait)                            \
    F(pa_threaded_mainloop_signal) F(pa_threaded_mainloop_get_api) F(pa_context_new) F(pa_context_unref)               \
    F(pa_context_connect) F(pa_context_disconnect) F(pa_context_get_state) F(pa_context_set_state_callback)            \
    F(pa_context_errno) F(pa_strerror) F(pa_context_get_server_info) F(pa_context_get_source_info_list)                 \
    F(pa_context_get_sink_info_list) F(pa_context_get_sink_input_info_list) F(pa_context_set_subscribe_callback)        \
    F(pa_context_subscribe) F(pa_operation_get_state) F(pa_operation_unref) F(pa_stream_new) F(pa_stream_unref)         \
    F(pa_stream_connect_record) F(pa_stream_disconnect) F(pa_stream_peek) F(pa_stream_drop)                             \
    F(pa_stream_readable_size) F(pa_stream_set_read_callback) F(pa_stream_set_state_callback)                           \
    F(pa_stream_set_overflow_callback) F(pa_stream_set_monitor_stream) F(pa_stream_get_state)                           \
    F(pa_stream_get_device_index) F(pa_proplist_gets) F(pa_channel_map_init_extend)

#define PULSE_DECLARE(name) __typeof__(name) *name;
typedef struct {
    PULSE_FUNCTIONS(PULSE_DECLARE)
} pulse_api;
#undef PULSE_DECLARE

extern pulse_api libpulse;

/* libpulse loads (cached) and a server answers (cached for about a second). */
bool pulse_available(void);

/* ------------------------------------------------------------------ connection */

typedef struct {
    pa_threaded_mainloop *loop;
    pa_context *context;
} pulse_connection;

/* Connects without autospawning a daemon; fails with BACKEND_UNAVAILABLE after timeout_ms.
 * On success the mainloop runs and is unlocked. */
MiniAVResultCode pulse_connect(pulse_connection *c, const char *client_name, int timeout_ms);
void pulse_disconnect(pulse_connection *c);

/* ------------------------------------------------------------------ what the server has */

typedef struct {
    uint32_t index;
    char name[256], description[256];
    uint32_t monitor_of_sink;  /* PA_INVALID_INDEX: a real source */
    uint32_t rate, channels;
} pulse_source;

typedef struct {
    uint32_t index;
    char name[256], description[256], monitor_source[256];
    uint32_t rate, channels;
} pulse_sink;

typedef struct {
    uint32_t index, sink;
    char name[256], binary[128];
    uint32_t process_id;
    uint32_t rate, channels;
} pulse_sink_input;

typedef struct {
    char default_source[256], default_sink[256];
    pulse_source *sources;
    pulse_sink *sinks;
    pulse_sink_input *inputs;
    uint32_t source_count, sink_count, input_count;
    bool failed;  /* out of memory while listing */
} pulse_snapshot;

/* Connects, lists server info, sources, sinks and sink inputs, disconnects. */
MiniAVResultCode pulse_snapshot_take(pulse_snapshot *snap);
void pulse_snapshot_free(pulse_snapshot *snap);
const pulse_source *pulse_find_source(const pulse_snapshot *snap, const char *name);
const pulse_sink *pulse_find_sink(const pulse_snapshot *snap, const char *name);
const pulse_sink_input *pulse_find_input(const pulse_snapshot *snap, uint32_t index);

/* prefix + name into a device id; false (and nothing listed) when it would not fit. */
bool pulse_make_id(char *id, size_t size, const char *prefix, const char *name);

/* ------------------------------------------------------------------ formats */

/* f32/s16, 1..8 channels, the device's rate and the common rates; 10 ms buffers. */
MiniAVResultCode pulse_format_list(uint32_t native_rate, MiniAVAudioInfo **formats, uint32_t *count);
/* Fills the defaults (native rate/channels, f32, 10 ms) into s->requested_audio's zeros,
 * checks the ranges, and writes the result to s->audio. */
MiniAVResultCode pulse_resolve_format(miniav_stream *s, uint32_t native_rate, uint32_t native_channels);

/* ------------------------------------------------------------------ capture */

/* What ends the stream when it disappears from the server. */
typedef enum { PULSE_WATCH_SOURCE = 0, PULSE_WATCH_SINK_INPUT } pulse_watch;  /* a sink goes with its monitor source */

typedef struct {
    char source_name[256];            /* record from this source (a monitor for loopback) */
    uint32_t monitor_sink_input;      /* PA_INVALID_INDEX, or capture this sink input alone */
    pulse_watch watch;
    uint32_t watch_index;             /* index of the watched object; for WATCH_SOURCE, filled at start */
    char what[300];                   /* for messages: "source 'x'", "application 'y'" */
    bool follow_default_sink;         /* the system mix: move to the new default output's monitor */
    char sink_name[256];              /* with follow_default_sink: the sink whose monitor is recorded */
} pulse_target;

typedef struct {
    miniav_stream *stream;
    pulse_target target;
    pulse_connection conn;
    pa_stream *record;
    uint32_t bytes_per_frame;

    /* Mainloop thread only, while running. */
    miniav_audio_chunker chunk; /* anchor follows the monotonic clock (see measure_clock) */
    int64_t window_min_us;    /* smallest lag seen in the current measuring window */
    uint32_t window_reads;
    bool anchored, overflowed;
    bool streaming;           /* start succeeded: losses become events */
    bool ended;               /* no more data or events (lost, or stopping) */
} pulse_capture;

/* Connects, opens the record stream for cap->target with s->audio's format, and
 * delivers to s's pool (which it allocates). */
MiniAVResultCode pulse_capture_start(pulse_capture *cap, miniav_stream *s);
/* No callbacks after it returns; safe after the source ended on its own. */
void pulse_capture_stop(pulse_capture *cap);

#endif
