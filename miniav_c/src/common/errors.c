/* Result codes, this thread's last error message, and the log. */
#define _GNU_SOURCE
#include "miniav_internal.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    MiniAVResultCode code;
    const char *name;
    const char *description;
} result_entry;

static const result_entry results[] = {
    {MINIAV_SUCCESS, "MINIAV_SUCCESS", "Success"},
    {MINIAV_ERROR_UNKNOWN, "MINIAV_ERROR_UNKNOWN", "Unknown error"},
    {MINIAV_ERROR_INVALID_ARG, "MINIAV_ERROR_INVALID_ARG", "Invalid argument"},
    {MINIAV_ERROR_NOT_INITIALIZED, "MINIAV_ERROR_NOT_INITIALIZED", "Not configured or not initialized"},
    {MINIAV_ERROR_SYSTEM_CALL_FAILED, "MINIAV_ERROR_SYSTEM_CALL_FAILED", "A system call failed"},
    {MINIAV_ERROR_NOT_SUPPORTED, "MINIAV_ERROR_NOT_SUPPORTED", "Not supported on this platform or backend"},
    {MINIAV_ERROR_BUFFER_TOO_SMALL, "MINIAV_ERROR_BUFFER_TOO_SMALL", "Buffer too small"},
    {MINIAV_ERROR_INVALID_HANDLE, "MINIAV_ERROR_INVALID_HANDLE", "Invalid handle"},
    {MINIAV_ERROR_DEVICE_NOT_FOUND, "MINIAV_ERROR_DEVICE_NOT_FOUND", "Device not found"},
    {MINIAV_ERROR_DEVICE_BUSY, "MINIAV_ERROR_DEVICE_BUSY", "Device busy"},
    {MINIAV_ERROR_DEVICE_LOST, "MINIAV_ERROR_DEVICE_LOST", "Device lost"},
    {MINIAV_ERROR_OUT_OF_MEMORY, "MINIAV_ERROR_OUT_OF_MEMORY", "Out of memory"},
    {MINIAV_ERROR_ALREADY_RUNNING, "MINIAV_ERROR_ALREADY_RUNNING", "Capture already running"},
    {MINIAV_ERROR_NOT_RUNNING, "MINIAV_ERROR_NOT_RUNNING", "Capture not running"},
    {MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "MINIAV_ERROR_FORMAT_NOT_SUPPORTED", "Format not supported"},
    {MINIAV_ERROR_TIMEOUT, "MINIAV_ERROR_TIMEOUT", "Timed out"},
    {MINIAV_ERROR_BACKEND_UNAVAILABLE, "MINIAV_ERROR_BACKEND_UNAVAILABLE", "Backend unavailable"},
    {MINIAV_ERROR_PERMISSION_DENIED, "MINIAV_ERROR_PERMISSION_DENIED", "Permission denied"},
    {MINIAV_ERROR_STREAM_CLOSED, "MINIAV_ERROR_STREAM_CLOSED", "Stream closed"},
};

static const result_entry *find_result(MiniAVResultCode code) {
    for (size_t i = 0; i < sizeof results / sizeof results[0]; i++)
        if (results[i].code == code) return &results[i];
    return NULL;
}

const char *MiniAV_GetErrorString(MiniAVResultCode code) {
    const result_entry *e = find_result(code);
    return e ? e->description : "Unrecognised result code";
}

const char *MiniAV_GetErrorName(MiniAVResultCode code) {
    const result_entry *e = find_result(code);
    return e ? e->name : "MINIAV_ERROR_UNKNOWN";
}

static _Thread_local char last_error[512];

const char *MiniAV_GetLastErrorMessage(void) { return last_error; }

void miniav_clear_error(void) { last_error[0] = '\0'; }

MiniAVResultCode miniav_fail(MiniAVResultCode code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    miniav_log(MINIAV_LOG_LEVEL_DEBUG, "%s: %s", MiniAV_GetErrorName(code), last_error);
    return code;
}

/* ------------------------------------------------------------------ log */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static MiniAVLogCallback log_callback;
static void *log_user;
static atomic_int log_level = MINIAV_LOG_LEVEL_WARN;

MiniAVResultCode MiniAV_SetLogCallback(MiniAVLogCallback callback, void *user_data) {
    pthread_mutex_lock(&log_lock);
    log_callback = callback;
    log_user = user_data;
    pthread_mutex_unlock(&log_lock);
    return MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_SetLogLevel(MiniAVLogLevel level) {
    if ((int)level < MINIAV_LOG_LEVEL_DEBUG || level > MINIAV_LOG_LEVEL_NONE)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "log level %d is not one of DEBUG(0)..NONE(4)", (int)level);
    atomic_store(&log_level, (int)level);
    return MINIAV_SUCCESS;
}

void miniav_log(MiniAVLogLevel level, const char *fmt, ...) {
    if ((int)level < atomic_load(&log_level)) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    static const char *const names[] = {"debug", "info", "warn", "error"};
    pthread_mutex_lock(&log_lock);
    if (log_callback)
        log_callback(level, msg, log_user);
    else
        fprintf(stderr, "[miniav] %s: %s\n", names[level], msg);
    pthread_mutex_unlock(&log_lock);
}

/* ------------------------------------------------------------------ version */

MiniAVResultCode MiniAV_GetVersion(uint32_t *major, uint32_t *minor, uint32_t *patch) {
    if (!major || !minor || !patch) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "major, minor and patch must not be NULL");
    *major = MINIAV_VERSION_MAJOR;
    *minor = MINIAV_VERSION_MINOR;
    *patch = MINIAV_VERSION_PATCH;
    return MINIAV_SUCCESS;
}

#define MINIAV_STR2(x) #x
#define MINIAV_STR(x) MINIAV_STR2(x)
const char *MiniAV_GetVersionString(void) {
    return MINIAV_STR(MINIAV_VERSION_MAJOR) "." MINIAV_STR(MINIAV_VERSION_MINOR) "." MINIAV_STR(MINIAV_VERSION_PATCH);
}
