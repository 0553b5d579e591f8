/* What every context type shares: backend choice, lifecycle state checks, events.
 * The four <type>/<type>_api.c files are thin wrappers over these. */
#define _GNU_SOURCE
#include "miniav_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[MINIAV_DEVICE_TYPE_COUNT] = {"camera", "screen", "audio", "loopback"};
static const char *const type_env[MINIAV_DEVICE_TYPE_COUNT] = {"MINIAV_CAMERA_BACKEND", "MINIAV_SCREEN_BACKEND",
                                                               "MINIAV_AUDIO_BACKEND", "MINIAV_LOOPBACK_BACKEND"};
static pthread_mutex_t forced_lock = PTHREAD_MUTEX_INITIALIZER;
static char forced_backend[MINIAV_DEVICE_TYPE_COUNT][32];

static const miniav_backend *const *backends_of(MiniAVDeviceType type) {
    switch (type) {
    case MINIAV_DEVICE_TYPE_CAMERA: return miniav_camera_backends;
    case MINIAV_DEVICE_TYPE_SCREEN: return miniav_screen_backends;
    case MINIAV_DEVICE_TYPE_AUDIO: return miniav_audio_backends;
    case MINIAV_DEVICE_TYPE_LOOPBACK: return miniav_loopback_backends;
    default: return NULL;
    }
}

const char *MiniAV_GetBackendNames(MiniAVDeviceType type) {
    static char names[MINIAV_DEVICE_TYPE_COUNT][256];
    const miniav_backend *const *list = backends_of(type);
    if (!list) return "";
    pthread_mutex_lock(&forced_lock);
    char *out = names[type];
    out[0] = '\0';
    for (size_t i = 0; list[i]; i++) {
        size_t len = strlen(out);
        snprintf(out + len, sizeof names[type] - len, "%s%s", len ? "," : "", list[i]->name);
    }
    pthread_mutex_unlock(&forced_lock);
    return out;
}

MiniAVResultCode MiniAV_SetBackend(MiniAVDeviceType type, const char *backend_name) {
    const miniav_backend *const *list = backends_of(type);
    if (!list) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "device type %d is not camera(0), screen(1), audio(2) or loopback(3)", (int)type);
    if (backend_name && *backend_name) {
        bool known = false;
        for (size_t i = 0; list[i]; i++) known |= !strcmp(list[i]->name, backend_name);
        if (!known)
            return miniav_fail(MINIAV_ERROR_INVALID_ARG, "no %s backend named '%s'; this build has: %s", type_names[type],
                               backend_name, MiniAV_GetBackendNames(type));
    }
    pthread_mutex_lock(&forced_lock);
    miniav_copy_string(forced_backend[type], sizeof forced_backend[type], backend_name);
    pthread_mutex_unlock(&forced_lock);
    return MINIAV_SUCCESS;
}

/* The forced backend's name (API call first, then environment), or "" for automatic. */
static void forced_name(MiniAVDeviceType type, char out[32]) {
    pthread_mutex_lock(&forced_lock);
    miniav_copy_string(out, 32, forced_backend[type]);
    pthread_mutex_unlock(&forced_lock);
    if (!out[0]) miniav_copy_string(out, 32, miniav_getenv(type_env[type]));
}

/* The backend a stream must use ("" = any): `preferred` (a stream's own option) wins over
 * the global choice. */
static void chosen_name(MiniAVDeviceType type, const char *preferred, char out[32]) {
    if (preferred && *preferred)
        miniav_copy_string(out, 32, preferred);
    else
        forced_name(type, out);
}

static const char *why_unavailable(const miniav_backend *b) {
    const char *why = b->unavailable_reason ? b->unavailable_reason() : NULL;
    return why && *why ? why : "its library or server is missing";
}

bool miniav_backend_usable(MiniAVDeviceType type, const miniav_backend *b) {
    char forced[32];
    forced_name(type, forced);
    return (!forced[0] || !strcmp(forced, b->name)) && b->available();
}

/* Backends to consider, in order: the forced one alone, or every available one. */
static MiniAVResultCode usable_backends(MiniAVDeviceType type, const char *preferred, const miniav_backend *out[], size_t max,
                                        size_t *n) {
    const miniav_backend *const *list = backends_of(type);
    char forced[32];
    chosen_name(type, preferred, forced);
    *n = 0;
    for (size_t i = 0; list[i] && *n < max; i++) {
        if (forced[0] && strcmp(forced, list[i]->name)) continue;
        if (forced[0] && !list[i]->available())
            return miniav_fail(MINIAV_ERROR_BACKEND_UNAVAILABLE, "the %s backend '%s' was forced but cannot run here: %s",
                               type_names[type], forced, why_unavailable(list[i]));
        if (list[i]->available()) out[(*n)++] = list[i];
    }
    if (forced[0] && *n == 0)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "backend '%s' (%s) names no %s backend; this build has: %s", forced,
                           preferred && *preferred ? "stream option" : type_env[type], type_names[type], MiniAV_GetBackendNames(type));
    return MINIAV_SUCCESS;
}

MiniAVResultCode miniav_enumerate(MiniAVDeviceType type, MiniAVLoopbackTargetType filter, bool windows,
                                  MiniAVDeviceInfo **devices, uint32_t *count) {
    if (!devices || !count) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "devices and count must not be NULL");
    *devices = NULL;
    *count = 0;
    const miniav_backend *use[16];
    size_t n;
    MiniAVResultCode r = usable_backends(type, NULL, use, 16, &n);
    if (r) return r;
    miniav_device_list list = {0};
    for (size_t i = 0; i < n; i++) {
        uint32_t before = list.count;
        if (windows)
            r = use[i]->enumerate_windows ? use[i]->enumerate_windows(&list) : MINIAV_SUCCESS;
        else
            r = use[i]->enumerate(&list, filter);
        if (r == MINIAV_ERROR_OUT_OF_MEMORY) {
            free(list.items);
            return r;
        }
        if (r) { /* one broken backend must not hide the others' devices */
            miniav_log(MINIAV_LOG_LEVEL_WARN, "%s backend %s: enumerate failed: %s", type_names[type], use[i]->name,
                       MiniAV_GetLastErrorMessage());
            list.count = before;
        }
        for (uint32_t d = before; d < list.count; d++) {
            list.items[d].type = type;
            miniav_copy_string(list.items[d].backend, sizeof list.items[d].backend, use[i]->name);
        }
    }
    /* Exactly one default when there are devices: the first backend's pick, or the first device. */
    bool have_default = false;
    for (uint32_t d = 0; d < list.count; d++) {
        if (list.items[d].is_default && have_default) list.items[d].is_default = 0;
        have_default |= list.items[d].is_default != 0;
    }
    if (!have_default && list.count && !windows) list.items[0].is_default = 1;
    *devices = list.items;
    *count = list.count;
    return MINIAV_SUCCESS;
}

MiniAVResultCode miniav_find_backend(MiniAVDeviceType type, const char *device_id, const char *preferred, const miniav_backend **out) {
    if (!device_id || !*device_id)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "%s device id is empty: pass an id from enumerate", type_names[type]);
    /* Ids say which backend they belong to: ask only that one whether it can run (some
     * availability checks cost a connection to a server). */
    const miniav_backend *const *list = backends_of(type);
    char forced[32];
    chosen_name(type, preferred, forced);
    bool named = false;
    for (size_t i = 0; list[i]; i++) {
        if (forced[0] && strcmp(forced, list[i]->name)) continue;
        named = true;
        if (!list[i]->owns_id(device_id)) continue;
        if (!list[i]->available())
            return miniav_fail(MINIAV_ERROR_BACKEND_UNAVAILABLE, "'%s' belongs to the %s backend '%s', which cannot run here: %s",
                               device_id, type_names[type], list[i]->name, why_unavailable(list[i]));
        *out = list[i];
        return MINIAV_SUCCESS;
    }
    if (forced[0] && !named)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "backend '%s' (%s) names no %s backend; this build has: %s", forced,
                           preferred && *preferred ? "stream option" : type_env[type], type_names[type], MiniAV_GetBackendNames(type));
    if (forced[0])
        return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND,
                           "the %s backend '%s' (forced by %s) has no device '%s'; list its ids with enumerate, or unset the forced backend",
                           type_names[type], forced, preferred && *preferred ? "the stream option" : "MiniAV_SetBackend or the environment",
                           device_id);
    return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "no %s with id '%s'; list the ids with enumerate%s", type_names[type], device_id,
                       miniav_env_flag("MINIAV_FAKE_DEVICES") ? "" : " (the virtual 'test-pattern' device is listed when MINIAV_FAKE_DEVICES=1)");
}

/* ------------------------------------------------------------------ lifecycle */

MiniAVResultCode miniav_stream_check(const void *context, MiniAVDeviceType type) {
    const miniav_stream *s = context;
    if (!s) return miniav_fail(MINIAV_ERROR_INVALID_HANDLE, "context is NULL");
    if (s->magic != MINIAV_STREAM_MAGIC) return miniav_fail(MINIAV_ERROR_INVALID_HANDLE, "not a live MiniAV context (destroyed already?)");
    if (type != MINIAV_DEVICE_TYPE_COUNT && s->type != type)
        return miniav_fail(MINIAV_ERROR_INVALID_HANDLE, "a %s context was passed where a %s context is needed", type_names[s->type],
                           type_names[type]);
    return MINIAV_SUCCESS;
}

MiniAVResultCode miniav_stream_create(MiniAVDeviceType type, miniav_stream **out) {
    if (!out) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "context out-pointer is NULL");
    *out = NULL;
    miniav_stream *s = calloc(1, sizeof *s);
    if (!s) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory for a context");
    s->magic = MINIAV_STREAM_MAGIC;
    s->type = type;
    *out = s;
    return MINIAV_SUCCESS;
}

MiniAVResultCode miniav_stream_stop(miniav_stream *s, MiniAVDeviceType type) {
    MiniAVResultCode r = miniav_stream_check(s, type);
    if (r) return r;
    if (!s->running) return miniav_fail(MINIAV_ERROR_NOT_RUNNING, "capture is not running: call start first");
    s->backend->stop(s);
    s->running = false;
    return MINIAV_SUCCESS;
}

static void release_backend(miniav_stream *s) {
    if (s->backend && s->backend->destroy) s->backend->destroy(s);
    s->backend = NULL;
    s->backend_data = NULL;
    s->configured = false;
}

MiniAVResultCode miniav_stream_destroy(miniav_stream *s, MiniAVDeviceType type) {
    MiniAVResultCode r = miniav_stream_check(s, type);
    if (r) return r;
    if (s->running) miniav_stream_stop(s, type);
    release_backend(s);
    miniav_stream_orphan_pool(s); /* held buffers stay valid until released */
    s->magic = 0;
    free(s);
    return MINIAV_SUCCESS;
}

MiniAVResultCode miniav_stream_configure(miniav_stream *s, MiniAVDeviceType type, const char *device_id) {
    if (s->running) return miniav_fail(MINIAV_ERROR_ALREADY_RUNNING, "stop capture before configuring again");
    const miniav_backend *backend;
    MiniAVResultCode r = miniav_find_backend(type, device_id, s->options.backend, &backend);
    if (r) return r;
    release_backend(s);
    miniav_copy_string(s->device_id, sizeof s->device_id, device_id);
    s->backend = backend;
    memset(&s->video, 0, sizeof s->video);
    memset(&s->audio, 0, sizeof s->audio);
    s->restore_token[0] = '\0';
    r = backend->configure(s);
    if (!r && s->requested_video.fourcc && s->video.fourcc != s->requested_video.fourcc) {
        const char c[5] = {(char)s->requested_video.fourcc, (char)(s->requested_video.fourcc >> 8), (char)(s->requested_video.fourcc >> 16),
                           (char)(s->requested_video.fourcc >> 24), 0};
        r = miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "the %s backend has no format with fourcc '%s'; ask by pixel format instead",
                        backend->name, c);
    }
    if (r) {
        release_backend(s);
        return r;
    }
    s->configured = true;
    return MINIAV_SUCCESS;
}

MiniAVResultCode miniav_stream_start(miniav_stream *s, MiniAVDeviceType type, MiniAVBufferCallback cb, void *user) {
    MiniAVResultCode r = miniav_stream_check(s, type);
    if (r) return r;
    if (!s->configured) return miniav_fail(MINIAV_ERROR_NOT_INITIALIZED, "configure the %s context before starting it", type_names[type]);
    if (s->running) return miniav_fail(MINIAV_ERROR_ALREADY_RUNNING, "capture is already running");
    s->callback = cb;
    s->callback_user = user;
    s->sequence = 0;
    r = s->backend->start(s);
    if (r) return r;
    s->running = true;
    return MINIAV_SUCCESS;
}

void miniav_stream_emit(miniav_stream *s, MiniAVStreamEventType event, MiniAVResultCode result, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    miniav_log(event == MINIAV_EVENT_ERROR ? MINIAV_LOG_LEVEL_ERROR : MINIAV_LOG_LEVEL_INFO, "%s", msg);
    if (s->event_callback) s->event_callback(event, result, msg, s->event_user);
}

/* ------------------------------------------------------------------ stream functions for any context */

MiniAVResultCode MiniAV_Stream_SetOptions(void *context, const MiniAVStreamOptions *options) {
    MiniAVResultCode r = miniav_stream_check(context, MINIAV_DEVICE_TYPE_COUNT);
    if (r) return r;
    miniav_stream *s = context;
    if (!options) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "options must not be NULL");
    if (options->pool_size > 256) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "pool size %u is above the maximum of 256", options->pool_size);
    if (options->drop_policy != MINIAV_DROP_NEWEST && options->drop_policy != MINIAV_DROP_OLDEST)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "drop policy %d is not DROP_NEWEST(0) or DROP_OLDEST(1)", (int)options->drop_policy);
    if (s->running) return miniav_fail(MINIAV_ERROR_ALREADY_RUNNING, "stop capture before changing stream options");
    if (options->backend[0] && !memchr(options->backend, '\0', sizeof options->backend))
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "backend name is not NUL-terminated");
    if (options->backend[0]) {
        const miniav_backend *const *list = backends_of(s->type);
        bool known = false;
        for (size_t i = 0; list[i]; i++) known |= !strcmp(list[i]->name, options->backend);
        if (!known)
            return miniav_fail(MINIAV_ERROR_INVALID_ARG, "no %s backend named '%.31s'; this build has: %s", type_names[s->type],
                               options->backend, MiniAV_GetBackendNames(s->type));
    }
    s->options = *options;
    return MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_Stream_SetEventCallback(void *context, MiniAVStreamEventCallback callback, void *user_data) {
    MiniAVResultCode r = miniav_stream_check(context, MINIAV_DEVICE_TYPE_COUNT);
    if (r) return r;
    miniav_stream *s = context;
    if (s->running) return miniav_fail(MINIAV_ERROR_ALREADY_RUNNING, "set the event callback before starting capture");
    s->event_callback = callback;
    s->event_user = user_data;
    return MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_Stream_AddCopies(void *context, uint64_t n) {
    MiniAVResultCode r = miniav_stream_check(context, MINIAV_DEVICE_TYPE_COUNT);
    if (r) return r;
    atomic_fetch_add(&((miniav_stream *)context)->copies, n);
    return MINIAV_SUCCESS;
}

const char *MiniAV_Stream_GetBackendName(void *context) {
    if (miniav_stream_check(context, MINIAV_DEVICE_TYPE_COUNT)) return "";
    const miniav_stream *s = context;
    return s->backend ? s->backend->name : "";
}
