/* PulseAudio plumbing shared by the audio input and loopback backends; see pulse_common.h.
 *
 * Capture: one threaded mainloop + context per running stream. The record stream's read
 * callback runs on the mainloop thread, copies what pa_stream_peek gives into the pool
 * slot being filled, and delivers a slot once it holds exactly buffer_frames frames. The
 * application's callback therefore runs on the mainloop thread; the core never makes it
 * wait (no free slot = the buffer is dropped and counted). Timestamps come from the sample
 * count since the first data, so consecutive buffers are sample-accurate; a hole in the
 * data advances the count and is counted as dropped buffers.
 */
#define _GNU_SOURCE
#include "pulse_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONNECT_TIMEOUT_MS 2000
#define PROBE_TIMEOUT_MS 500
#define PROBE_CACHE_US 1000000
#define DEFAULT_POOL 16u

pulse_api libpulse;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static miniav_library *library; /* open for the life of the process */
static bool loaded;

static void load_library(void) {
    static const char *const names[] = {"libpulse.so.0", NULL};
#define PULSE_ENTRY(name) {#name, (void **)&libpulse.name},
    const miniav_symbol table[] = {PULSE_FUNCTIONS(PULSE_ENTRY)};
#undef PULSE_ENTRY
    library = miniav_library_open(names);
    if (!library) return;
    if (miniav_library_load_symbols(library, table, sizeof table / sizeof table[0])) {
        miniav_log(MINIAV_LOG_LEVEL_INFO, "pulse: %s", MiniAV_GetLastErrorMessage());
        miniav_library_close(library);
        library = NULL;
        return;
    }
    loaded = true;
}

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ connection */

static void signal_loop(pa_context *context, void *user) {
    (void)context;
    pulse_connection *c = user;
    libpulse.pa_threaded_mainloop_signal(c->loop, 0);
}

/* Connects, or says why not in `why` without touching the thread's last error (the probe
 * in available() must not overwrite the message of the call that asked). */
static bool connect_quietly(pulse_connection *c, const char *client_name, int timeout_ms, char *why, size_t why_size) {
    memset(c, 0, sizeof *c);
    c->loop = libpulse.pa_threaded_mainloop_new();
    if (!c->loop) {
        snprintf(why, why_size, "cannot create a PulseAudio mainloop (out of memory?)");
        return false;
    }
    c->context = libpulse.pa_context_new(libpulse.pa_threaded_mainloop_get_api(c->loop), client_name);
    if (!c->context) {
        snprintf(why, why_size, "cannot create a PulseAudio context (out of memory?)");
        pulse_disconnect(c);
        return false;
    }
    libpulse.pa_context_set_state_callback(c->context, signal_loop, c);
    /* NOAUTOSPAWN: asking whether a server runs must never start one. */
    if (libpulse.pa_context_connect(c->context, NULL, PA_CONTEXT_NOAUTOSPAWN, NULL) < 0 ||
        libpulse.pa_threaded_mainloop_start(c->loop) < 0) {
        snprintf(why, why_size, "%s", libpulse.pa_strerror(libpulse.pa_context_errno(c->context)));
        pulse_disconnect(c);
        return false;
    }
    /* Polled rather than waited on: pa_threaded_mainloop_wait has no timeout. */
    int64_t deadline = MiniAV_GetTimeUs() + (int64_t)timeout_ms * 1000;
    libpulse.pa_threaded_mainloop_lock(c->loop);
    pa_context_state_t state;
    while ((state = libpulse.pa_context_get_state(c->context)) != PA_CONTEXT_READY && PA_CONTEXT_IS_GOOD(state) &&
           MiniAV_GetTimeUs() < deadline) {
        libpulse.pa_threaded_mainloop_unlock(c->loop);
        sleep_us(2000);
        libpulse.pa_threaded_mainloop_lock(c->loop);
    }
    if (state != PA_CONTEXT_READY)
        snprintf(why, why_size, "%s", PA_CONTEXT_IS_GOOD(state) ? "no answer within the timeout"
                                                                 : libpulse.pa_strerror(libpulse.pa_context_errno(c->context)));
    libpulse.pa_threaded_mainloop_unlock(c->loop);
    if (state != PA_CONTEXT_READY) {
        pulse_disconnect(c);
        return false;
    }
    return true;
}

MiniAVResultCode pulse_connect(pulse_connection *c, const char *client_name, int timeout_ms) {
    char why[256];
    if (!loaded) return miniav_fail(MINIAV_ERROR_BACKEND_UNAVAILABLE, "libpulse.so.0 could not be loaded: install libpulse0");
    if (connect_quietly(c, client_name, timeout_ms, why, sizeof why)) return MINIAV_SUCCESS;
    const char *server = getenv("PULSE_SERVER");
    return miniav_fail(MINIAV_ERROR_BACKEND_UNAVAILABLE, "cannot connect to the PulseAudio server (%s%s): %s; is it running for this user?",
                       server ? "PULSE_SERVER=" : "the default server", server ? server : "", why);
}

void pulse_disconnect(pulse_connection *c) {
    if (!c->loop) return;
    /* Stopping joins the mainloop thread: no callback runs after this. */
    libpulse.pa_threaded_mainloop_stop(c->loop);
    if (c->context) {
        libpulse.pa_context_set_state_callback(c->context, NULL, NULL);
        libpulse.pa_context_disconnect(c->context);
        libpulse.pa_context_unref(c->context);
    }
    libpulse.pa_threaded_mainloop_free(c->loop);
    memset(c, 0, sizeof *c);
}

bool pulse_available(void) {
    static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
    static int64_t probed_at;
    static bool probed, answer;
    pthread_once(&load_once, load_library);
    if (!loaded) return false;
    pthread_mutex_lock(&probe_lock);
    int64_t now = MiniAV_GetTimeUs();
    /* Cached: enumerate asks every backend, and a connection costs a round trip and a thread. */
    if (!probed || now - probed_at > PROBE_CACHE_US) {
        pulse_connection c;
        char why[256];
        answer = connect_quietly(&c, "MiniAV probe", PROBE_TIMEOUT_MS, why, sizeof why);
        if (answer)
            pulse_disconnect(&c);
        else
            miniav_log(MINIAV_LOG_LEVEL_DEBUG, "pulse: no server: %s", why);
        probed = true;
        probed_at = MiniAV_GetTimeUs();
    }
    bool result = answer;
    pthread_mutex_unlock(&probe_lock);
    return result;
}

/* Waits (mainloop locked) for an operation whose callback signals the loop. */
static bool wait_operation(pulse_connection *c, pa_operation *op) {
    if (!op) return false;
    while (libpulse.pa_operation_get_state(op) == PA_OPERATION_RUNNING &&
           PA_CONTEXT_IS_GOOD(libpulse.pa_context_get_state(c->context)))
        libpulse.pa_threaded_mainloop_wait(c->loop);
    bool done = libpulse.pa_operation_get_state(op) == PA_OPERATION_DONE;
    libpulse.pa_operation_unref(op);
    return done;
}

/* ------------------------------------------------------------------ snapshot */

typedef struct {
    pulse_connection *conn;
    pulse_snapshot *snap;
} snapshot_job;

/* Grows an array by one zeroed element; NULL when out of memory. */
static void *grow(void **items, uint32_t *count, size_t size) {
    void *bigger = realloc(*items, (*count + 1) * size);
    if (!bigger) return NULL;
    *items = bigger;
    void *item = (char *)bigger + *count * size;
    memset(item, 0, size);
    (*count)++;
    return item;
}

static void on_server_info(pa_context *context, const pa_server_info *info, void *user) {
    (void)context;
    snapshot_job *job = user;
    if (info) {
        miniav_copy_string(job->snap->default_source, sizeof job->snap->default_source, info->default_source_name);
        miniav_copy_string(job->snap->default_sink, sizeof job->snap->default_sink, info->default_sink_name);
    }
    libpulse.pa_threaded_mainloop_signal(job->conn->loop, 0);
}

static void on_source(pa_context *context, const pa_source_info *info, int eol, void *user) {
    (void)context;
    snapshot_job *job = user;
    if (eol || !info) {
        libpulse.pa_threaded_mainloop_signal(job->conn->loop, 0);
        return;
    }
    pulse_source *src = grow((void **)&job->snap->sources, &job->snap->source_count, sizeof *src);
    if (!src) {
        job->snap->failed = true;
        return;
    }
    src->index = info->index;
    miniav_copy_string(src->name, sizeof src->name, info->name);
    miniav_copy_string(src->description, sizeof src->description, info->description ? info->description : info->name);
    src->monitor_of_sink = info->monitor_of_sink;
    src->rate = info->sample_spec.rate;
    src->channels = info->sample_spec.channels;
}

static void on_sink(pa_context *context, const pa_sink_info *info, int eol, void *user) {
    (void)context;
    snapshot_job *job = user;
    if (eol || !info) {
        libpulse.pa_threaded_mainloop_signal(job->conn->loop, 0);
        return;
    }
    pulse_sink *sink = grow((void **)&job->snap->sinks, &job->snap->sink_count, sizeof *sink);
    if (!sink) {
        job->snap->failed = true;
        return;
    }
    sink->index = info->index;
    miniav_copy_string(sink->name, sizeof sink->name, info->name);
    miniav_copy_string(sink->description, sizeof sink->description, info->description ? info->description : info->name);
    miniav_copy_string(sink->monitor_source, sizeof sink->monitor_source, info->monitor_source_name);
    sink->rate = info->sample_spec.rate;
    sink->channels = info->sample_spec.channels;
}

static void on_sink_input(pa_context *context, const pa_sink_input_info *info, int eol, void *user) {
    (void)context;
    snapshot_job *job = user;
    if (eol || !info) {
        libpulse.pa_threaded_mainloop_signal(job->conn->loop, 0);
        return;
    }
    pulse_sink_input *in = grow((void **)&job->snap->inputs, &job->snap->input_count, sizeof *in);
    if (!in) {
        job->snap->failed = true;
        return;
    }
    in->index = info->index;
    in->sink = info->sink;
    /* application.name names the program; streams of modules (module-sine) only have a media name. */
    const char *app = libpulse.pa_proplist_gets(info->proplist, PA_PROP_APPLICATION_NAME);
    if (app && *app)
        miniav_copy_string(in->name, sizeof in->name, app);
    else if (info->name && *info->name)
        miniav_copy_string(in->name, sizeof in->name, info->name);
    else
        snprintf(in->name, sizeof in->name, "sink input %u", info->index);
    const char *pid = libpulse.pa_proplist_gets(info->proplist, PA_PROP_APPLICATION_PROCESS_ID);
    in->process_id = pid ? (uint32_t)strtoul(pid, NULL, 10) : 0;
    miniav_copy_string(in->binary, sizeof in->binary, libpulse.pa_proplist_gets(info->proplist, PA_PROP_APPLICATION_PROCESS_BINARY));
    in->rate = info->sample_spec.rate;
    in->channels = info->sample_spec.channels;
}

MiniAVResultCode pulse_snapshot_take(pulse_snapshot *snap) {
    memset(snap, 0, sizeof *snap);
    pulse_connection conn;
    MiniAVResultCode r = pulse_connect(&conn, "MiniAV", CONNECT_TIMEOUT_MS);
    if (r) return r;
    snapshot_job job = {&conn, snap};
    libpulse.pa_threaded_mainloop_lock(conn.loop);
    pa_context *ctx = conn.context;
    bool ok = wait_operation(&conn, libpulse.pa_context_get_server_info(ctx, on_server_info, &job)) &&
              wait_operation(&conn, libpulse.pa_context_get_source_info_list(ctx, on_source, &job)) &&
              wait_operation(&conn, libpulse.pa_context_get_sink_info_list(ctx, on_sink, &job)) &&
              wait_operation(&conn, libpulse.pa_context_get_sink_input_info_list(ctx, on_sink_input, &job));
    char why[256];
    snprintf(why, sizeof why, "%s", libpulse.pa_strerror(libpulse.pa_context_errno(ctx)));
    libpulse.pa_threaded_mainloop_unlock(conn.loop);
    pulse_disconnect(&conn);
    if (snap->failed) {
        pulse_snapshot_free(snap);
        return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory while listing PulseAudio devices");
    }
    if (!ok) {
        pulse_snapshot_free(snap);
        return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "listing the PulseAudio server's devices failed: %s", why);
    }
    return MINIAV_SUCCESS;
}

void pulse_snapshot_free(pulse_snapshot *snap) {
    free(snap->sources);
    free(snap->sinks);
    free(snap->inputs);
    memset(snap, 0, sizeof *snap);
}

const pulse_source *pulse_find_source(const pulse_snapshot *snap, const char *name) {
    for (uint32_t i = 0; i < snap->source_count; i++)
        if (!strcmp(snap->sources[i].name, name)) return &snap->sources[i];
    return NULL;
}

const pulse_sink *pulse_find_sink(const pulse_snapshot *snap, const char *name) {
    for (uint32_t i = 0; i < snap->sink_count; i++)
        if (!strcmp(snap->sinks[i].name, name)) return &snap->sinks[i];
    return NULL;
}

const pulse_sink_input *pulse_find_input(const pulse_snapshot *snap, uint32_t index) {
    for (uint32_t i = 0; i < snap->input_count; i++)
        if (snap->inputs[i].index == index) return &snap->inputs[i];
    return NULL;
}

bool pulse_make_id(char *id, size_t size, const char *prefix, const char *name) {
    size_t a = strlen(prefix), b = strlen(name);
    if (a + b >= size) {
        miniav_log(MINIAV_LOG_LEVEL_WARN, "pulse: '%s' is too long for a MiniAV device id; it is not listed", name);
        return false;
    }
    memcpy(id, prefix, a);
    memcpy(id + a, name, b + 1);
    return true;
}

/* ------------------------------------------------------------------ formats */

#define MIN_RATE 8000u
#define MAX_RATE 192000u
#define MAX_CHANNELS 8u

MiniAVResultCode pulse_format_list(uint32_t native_rate, MiniAVAudioInfo **formats, uint32_t *count) {
    static const uint32_t common_rates[] = {8000, 16000, 22050, 32000, 44100, 48000, 96000, 192000};
    static const MiniAVAudioFormat sample_formats[] = {MINIAV_AUDIO_FORMAT_F32, MINIAV_AUDIO_FORMAT_S16};
    uint32_t rates[1 + sizeof common_rates / sizeof common_rates[0]], rate_count = 0;
    bool native_listed = false;
    for (size_t i = 0; i < sizeof common_rates / sizeof common_rates[0]; i++) native_listed |= common_rates[i] == native_rate;
    if (!native_listed && native_rate >= MIN_RATE && native_rate <= MAX_RATE) rates[rate_count++] = native_rate; /* first: the device's own */
    for (size_t i = 0; i < sizeof common_rates / sizeof common_rates[0]; i++) rates[rate_count++] = common_rates[i];
    size_t n = 2 * MAX_CHANNELS * rate_count, k = 0;
    MiniAVAudioInfo *list = calloc(n, sizeof *list);
    if (!list) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    for (size_t f = 0; f < 2; f++)
        for (uint32_t c = 1; c <= MAX_CHANNELS; c++)
            for (uint32_t r = 0; r < rate_count; r++) list[k++] = (MiniAVAudioInfo){rates[r], c, sample_formats[f], rates[r] / 100};
    *formats = list;
    *count = (uint32_t)n;
    return MINIAV_SUCCESS;
}

MiniAVResultCode pulse_resolve_format(miniav_stream *s, uint32_t native_rate, uint32_t native_channels) {
    MiniAVAudioInfo f = s->requested_audio;
    /* PulseAudio resamples and remixes to anything in range: the device's own is the default. */
    MiniAVResultCode r = miniav_resolve_audio_format(&f, native_rate >= MIN_RATE && native_rate <= MAX_RATE ? native_rate : 48000,
                                                     native_channels >= 1 && native_channels <= MAX_CHANNELS ? native_channels : 2,
                                                     "the pulse backend");
    if (r) return r;
    s->audio = f;
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ capture: data path (mainloop thread) */

static void consume(pulse_capture *cap, const uint8_t *data, uint64_t frames) {
    while (frames) {
        uint8_t *dst;
        uint32_t take = miniav_audio_chunker_room(&cap->chunk, cap->stream, frames, &dst);
        /* libpulse lends its memory only until pa_stream_drop: this is the counted copy. */
        if (dst) memcpy(dst, data, (size_t)take * cap->bytes_per_frame);
        data += (size_t)take * cap->bytes_per_frame;
        frames -= take;
        miniav_audio_chunker_advance(&cap->chunk, cap->stream, take);
    }
}

static void end_capture(pulse_capture *cap, MiniAVStreamEventType event, MiniAVResultCode code, const char *what, const char *why) {
    if (cap->ended) return;
    cap->ended = true;
    miniav_audio_chunker_abandon(&cap->chunk, cap->stream);
    if (cap->record) {
        libpulse.pa_stream_set_read_callback(cap->record, NULL, NULL);
        if (libpulse.pa_stream_get_state(cap->record) == PA_STREAM_READY) libpulse.pa_stream_disconnect(cap->record);
    }
    miniav_stream_emit(cap->stream, event, code, "%s %s", what, why);
}

/* How far the sample clock lags the monotonic clock: the capture time of the first queued
 * frame (now − queued/rate) against its timestamp. Each reading carries the mainloop's
 * wake-up delay, which only ever adds, so the smallest reading of a window (about 2 s) is
 * the lag; what it says beyond the last window's is left for the chunker to take out. */
#define CLOCK_WINDOW_READS 200
static void measure_clock(pulse_capture *cap, int64_t now, uint64_t queued_frames) {
    const uint32_t rate = cap->stream->audio.sample_rate;
    int64_t captured = now - (int64_t)(queued_frames * 1000000u / rate);
    int64_t expected = miniav_audio_chunker_time(&cap->chunk, cap->chunk.next_sample, rate);
    int64_t lag = captured - expected;
    if (cap->window_reads == 0 || lag < cap->window_min_us) cap->window_min_us = lag;
    if (++cap->window_reads < CLOCK_WINDOW_READS) return;
    cap->window_reads = 0;
    /* Measured against the anchor as corrected so far, so it replaces what is still pending;
     * below 50 µs it is noise, not drift. */
    cap->chunk.clock_error_us = cap->window_min_us > 50 || cap->window_min_us < -50 ? cap->window_min_us : 0;
}

static void on_readable(pa_stream *p, size_t nbytes, void *user) {
    (void)nbytes;
    pulse_capture *cap = user;
    const uint32_t rate = cap->stream->audio.sample_rate;
    while (!cap->ended && libpulse.pa_stream_readable_size(p) > 0) {
        const void *data;
        size_t bytes;
        if (libpulse.pa_stream_peek(p, &data, &bytes) < 0) {
            end_capture(cap, MINIAV_EVENT_ERROR, MINIAV_ERROR_SYSTEM_CALL_FAILED, cap->target.what,
                        "could not be read (pa_stream_peek failed); start the capture again");
            return;
        }
        if (bytes == 0) break; /* nothing queued after all */
        uint64_t frames = bytes / cap->bytes_per_frame;
        int64_t now = MiniAV_GetTimeUs();
        size_t queued = libpulse.pa_stream_readable_size(p); /* includes this fragment */
        uint64_t queued_frames = queued == (size_t)-1 ? frames : queued / cap->bytes_per_frame;
        if (!cap->anchored) {
            /* Sample 0 is dated when the queued data would have started, had it been read at once. */
            cap->chunk.anchor_us = now - (int64_t)(queued_frames * 1000000u / rate);
            cap->anchored = true;
        } else if (cap->chunk.next_sample < cap->stream->audio.buffer_frames) {
            /* No buffer is out yet, so the date of sample 0 may still move. Each read bounds it
             * from above (its data waited, it was not captured later), and the server's first
             * fragments can come as a short one and then, at once, data captured before it
             * was read (seen: sample 0 dated 6-10 ms late, the first buffer "arriving" before
             * its last sample was captured). The earliest bound is the best. */
            int64_t bound = now - (int64_t)((queued_frames + cap->chunk.next_sample) * 1000000u / rate);
            if (bound < cap->chunk.anchor_us) cap->chunk.anchor_us = bound;
        } else if (cap->overflowed) {
            /* The server lost data without saying how much: measure the gap on the clock. */
            cap->overflowed = false;
            int64_t clock_sample = (now - cap->chunk.anchor_us) * (int64_t)rate / 1000000 - (int64_t)queued_frames;
            if (clock_sample > (int64_t)(cap->chunk.next_sample + cap->stream->audio.buffer_frames))
                miniav_audio_chunker_drop(&cap->chunk, cap->stream, (uint64_t)clock_sample - cap->chunk.next_sample);
        }
        measure_clock(cap, now, queued_frames);
        if (data)
            consume(cap, data, frames);
        else
            miniav_audio_chunker_drop(&cap->chunk, cap->stream, frames); /* a hole in the stream */
        libpulse.pa_stream_drop(p);
    }
}

static void on_overflow(pa_stream *p, void *user) {
    (void)p;
    pulse_capture *cap = user;
    cap->overflowed = true;
    miniav_log(MINIAV_LOG_LEVEL_WARN, "pulse: %s overflowed: data was lost", cap->target.what);
}

static void on_stream_state(pa_stream *p, void *user) {
    pulse_capture *cap = user;
    pa_stream_state_t state = libpulse.pa_stream_get_state(p);
    libpulse.pa_threaded_mainloop_signal(cap->conn.loop, 0);
    if (state == PA_STREAM_READY && cap->target.watch == PULSE_WATCH_SOURCE)
        cap->target.watch_index = libpulse.pa_stream_get_device_index(p); /* also after following a new default */
    /* Before start returns, start itself reports a failure. */
    if (cap->streaming && (state == PA_STREAM_FAILED || state == PA_STREAM_TERMINATED))
        end_capture(cap, MINIAV_EVENT_ENDED, MINIAV_ERROR_DEVICE_LOST, cap->target.what, "is gone (its stream was closed by the server)");
}

static void on_context_state(pa_context *context, void *user) {
    pulse_capture *cap = user;
    libpulse.pa_threaded_mainloop_signal(cap->conn.loop, 0);
    if (cap->streaming && !PA_CONTEXT_IS_GOOD(libpulse.pa_context_get_state(context)))
        end_capture(cap, MINIAV_EVENT_ENDED, MINIAV_ERROR_DEVICE_LOST, cap->target.what, "is gone: the PulseAudio server connection was lost");
}

static MiniAVResultCode open_record(pulse_capture *cap, const char *source);

/* Drops the current record stream without an event (its state callback is detached first). */
static void close_record(pulse_capture *cap) {
    if (!cap->record) return;
    libpulse.pa_stream_set_read_callback(cap->record, NULL, NULL);
    libpulse.pa_stream_set_state_callback(cap->record, NULL, NULL);
    libpulse.pa_stream_set_overflow_callback(cap->record, NULL, NULL);
    if (libpulse.pa_stream_get_state(cap->record) == PA_STREAM_READY) libpulse.pa_stream_disconnect(cap->record);
    libpulse.pa_stream_unref(cap->record);
    cap->record = NULL;
}

/* The system mix follows the default output: when it changes (or the output being
 * recorded goes away and another becomes the default), record the new one's monitor.
 * Samples go on counting; the switch's gap is measured on the clock like an overflow. */
static void on_default_sink(pa_context *context, const pa_server_info *info, void *user) {
    (void)context;
    pulse_capture *cap = user;
    if (!cap->streaming || cap->ended) return;
    bool lost = cap->target.watch_index == PA_INVALID_INDEX; /* the recorded monitor was removed */
    if (!info || !info->default_sink_name || !*info->default_sink_name || !strcmp(info->default_sink_name, cap->target.sink_name)) {
        if (lost) end_capture(cap, MINIAV_EVENT_ENDED, MINIAV_ERROR_DEVICE_LOST, cap->target.what, "is gone, and there is no other default output");
        return;
    }
    char monitor[300];
    snprintf(monitor, sizeof monitor, "%s.monitor", info->default_sink_name);
    miniav_log(MINIAV_LOG_LEVEL_INFO, "pulse: system audio follows the default output to '%s'", info->default_sink_name);
    miniav_copy_string(cap->target.sink_name, sizeof cap->target.sink_name, info->default_sink_name);
    miniav_copy_string(cap->target.source_name, sizeof cap->target.source_name, monitor);
    snprintf(cap->target.what, sizeof cap->target.what, "system audio (%s)", info->default_sink_name);
    close_record(cap);
    cap->overflowed = cap->anchored; /* measure the gap at the first data of the new stream */
    if (open_record(cap, monitor)) end_capture(cap, MINIAV_EVENT_ERROR, MINIAV_ERROR_DEVICE_LOST, cap->target.what, MiniAV_GetLastErrorMessage());
}

static void on_server_event(pa_context *context, pa_subscription_event_type_t event, uint32_t index, void *user) {
    pulse_capture *cap = user;
    if (!cap->streaming) return;
    pa_subscription_event_type_t type = event & PA_SUBSCRIPTION_EVENT_TYPE_MASK;
    pa_subscription_event_type_t facility = event & PA_SUBSCRIPTION_EVENT_FACILITY_MASK;
    if (cap->target.follow_default_sink && facility == PA_SUBSCRIPTION_EVENT_SERVER && type == PA_SUBSCRIPTION_EVENT_CHANGE) {
        pa_operation *op = libpulse.pa_context_get_server_info(context, on_default_sink, cap);
        if (op) libpulse.pa_operation_unref(op);
        return;
    }
    if (type != PA_SUBSCRIPTION_EVENT_REMOVE || index != cap->target.watch_index) return;
    pa_subscription_event_type_t watched =
        cap->target.watch == PULSE_WATCH_SINK_INPUT ? PA_SUBSCRIPTION_EVENT_SINK_INPUT : PA_SUBSCRIPTION_EVENT_SOURCE;
    if (facility != watched) return;
    if (cap->target.follow_default_sink) {
        /* The server announces the new default after the removal: ask it, then decide. */
        cap->target.watch_index = PA_INVALID_INDEX;
        pa_operation *op = libpulse.pa_context_get_server_info(context, on_default_sink, cap);
        if (op) libpulse.pa_operation_unref(op);
        return;
    }
    end_capture(cap, MINIAV_EVENT_ENDED, MINIAV_ERROR_DEVICE_LOST, cap->target.what, "is gone (removed from the PulseAudio server)");
}

/* Creates and connects the record stream for `source` (mainloop lock held); READY
 * arrives through on_stream_state. */
static MiniAVResultCode open_record(pulse_capture *cap, const char *source) {
    const MiniAVAudioInfo *f = &cap->stream->audio;
    pa_context *ctx = cap->conn.context;
    /* The server converts to what was asked: format, rate and channels. */
    pa_sample_spec spec = {f->format == MINIAV_AUDIO_FORMAT_F32 ? PA_SAMPLE_FLOAT32NE : PA_SAMPLE_S16NE, f->sample_rate,
                           (uint8_t)f->channel_count};
    pa_channel_map map;
    libpulse.pa_channel_map_init_extend(&map, f->channel_count, PA_CHANNEL_MAP_DEFAULT); /* any count 1..8 */
    cap->record = libpulse.pa_stream_new(ctx, "MiniAV capture", &spec, &map);
    if (!cap->record)
        return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "cannot create a PulseAudio record stream: %s",
                           libpulse.pa_strerror(libpulse.pa_context_errno(ctx)));
    if (cap->target.monitor_sink_input != PA_INVALID_INDEX &&
        libpulse.pa_stream_set_monitor_stream(cap->record, cap->target.monitor_sink_input) < 0)
        return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "cannot capture %s alone: %s", cap->target.what,
                           libpulse.pa_strerror(libpulse.pa_context_errno(ctx)));
    libpulse.pa_stream_set_state_callback(cap->record, on_stream_state, cap);
    libpulse.pa_stream_set_read_callback(cap->record, on_readable, cap);
    /* Documented for playback streams; registered so a server that reports record
     * overflows gets its gap measured instead of hidden in the timestamps. */
    libpulse.pa_stream_set_overflow_callback(cap->record, on_overflow, cap);
    /* fragsize = one buffer: the server sends about a buffer at a time (ADJUST_LATENCY
     * makes that the source's latency too). DONT_MOVE: a capture follows its device, and
     * ends with it, instead of moving silently to another one. */
    pa_buffer_attr attr = {(uint32_t)-1, (uint32_t)-1, (uint32_t)-1, (uint32_t)-1, f->buffer_frames * cap->bytes_per_frame};
    if (libpulse.pa_stream_connect_record(cap->record, source, &attr, PA_STREAM_ADJUST_LATENCY | PA_STREAM_DONT_MOVE) < 0)
        return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "cannot record from %s: %s", cap->target.what,
                           libpulse.pa_strerror(libpulse.pa_context_errno(ctx)));
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ capture: start/stop (application thread) */

MiniAVResultCode pulse_capture_start(pulse_capture *cap, miniav_stream *s) {
    const MiniAVAudioInfo *f = &s->audio;
    cap->stream = s;
    cap->bytes_per_frame = f->channel_count * miniav_audio_format_bytes(f->format);
    miniav_audio_chunker_reset(&cap->chunk);
    cap->anchored = cap->overflowed = cap->ended = cap->streaming = false;
    cap->window_min_us = 0;
    cap->window_reads = 0;
    MiniAVResultCode r =
        miniav_stream_ensure_pool(s, miniav_stream_pool_size(s, DEFAULT_POOL), (size_t)f->buffer_frames * cap->bytes_per_frame);
    if (r) return r;
    r = pulse_connect(&cap->conn, "MiniAV", CONNECT_TIMEOUT_MS);
    if (r) return r;

    libpulse.pa_threaded_mainloop_lock(cap->conn.loop);
    pa_context *ctx = cap->conn.context;
    libpulse.pa_context_set_state_callback(ctx, on_context_state, cap);
    r = open_record(cap, cap->target.source_name);
    if (r) goto failed;
    libpulse.pa_context_set_subscribe_callback(ctx, on_server_event, cap);
    pa_subscription_mask_t mask = cap->target.watch == PULSE_WATCH_SINK_INPUT ? PA_SUBSCRIPTION_MASK_SINK_INPUT : PA_SUBSCRIPTION_MASK_SOURCE;
    if (cap->target.follow_default_sink) mask |= PA_SUBSCRIPTION_MASK_SERVER;
    pa_operation *op = libpulse.pa_context_subscribe(ctx, mask, NULL, NULL);
    if (op) libpulse.pa_operation_unref(op);
    pa_stream_state_t state;
    while ((state = libpulse.pa_stream_get_state(cap->record)) == PA_STREAM_CREATING &&
           PA_CONTEXT_IS_GOOD(libpulse.pa_context_get_state(ctx)))
        libpulse.pa_threaded_mainloop_wait(cap->conn.loop);
    if (state != PA_STREAM_READY) {
        int err = libpulse.pa_context_errno(ctx);
        r = miniav_fail(err == PA_ERR_NOENTITY ? MINIAV_ERROR_DEVICE_NOT_FOUND : MINIAV_ERROR_SYSTEM_CALL_FAILED,
                        "cannot record from %s: %s; list the current ids with enumerate", cap->target.what, libpulse.pa_strerror(err));
        goto failed;
    }
    if (cap->target.watch == PULSE_WATCH_SOURCE) cap->target.watch_index = libpulse.pa_stream_get_device_index(cap->record);
    cap->streaming = true;
    libpulse.pa_threaded_mainloop_unlock(cap->conn.loop);
    return MINIAV_SUCCESS;

failed:
    libpulse.pa_threaded_mainloop_unlock(cap->conn.loop);
    pulse_capture_stop(cap);
    return r;
}

void pulse_capture_stop(pulse_capture *cap) {
    if (!cap->conn.loop) return;
    libpulse.pa_threaded_mainloop_lock(cap->conn.loop);
    cap->ended = true; /* stopping is not an event */
    cap->streaming = false;
    libpulse.pa_context_set_subscribe_callback(cap->conn.context, NULL, NULL);
    libpulse.pa_context_set_state_callback(cap->conn.context, NULL, NULL);
    close_record(cap);
    libpulse.pa_threaded_mainloop_unlock(cap->conn.loop);
    pulse_disconnect(&cap->conn); /* joins the mainloop thread */
    miniav_audio_chunker_abandon(&cap->chunk, cap->stream);
}
