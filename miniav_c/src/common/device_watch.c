/* Device lists that update. One thread per watch re-enumerates at an interval and
 * reports the difference by device id. Polling works with every backend as it is;
 * a backend with its own notifications (udev, PulseAudio subscriptions) can feed the
 * same callback later without changing the API. */
#define _GNU_SOURCE
#include "miniav_internal.h"

#include <stdlib.h>
#include <string.h>

struct MiniAVDeviceWatch {
    MiniAVDeviceType type;
    uint32_t interval_ms;
    MiniAVDeviceCallback callback;
    void *user;
    miniav_capture_thread worker;
    MiniAVDeviceInfo *known;
    uint32_t known_count;
};

/* Everything of the type: for screens, displays and windows. */
static MiniAVResultCode list_all(MiniAVDeviceType type, MiniAVDeviceInfo **out, uint32_t *count) {
    if (type != MINIAV_DEVICE_TYPE_SCREEN) return miniav_enumerate(type, MINIAV_LOOPBACK_TARGET_NONE, false, out, count);
    MiniAVDeviceInfo *displays, *windows;
    uint32_t nd, nw;
    MiniAVResultCode r = miniav_enumerate(type, MINIAV_LOOPBACK_TARGET_NONE, false, &displays, &nd);
    if (r) return r;
    r = miniav_enumerate(type, MINIAV_LOOPBACK_TARGET_NONE, true, &windows, &nw);
    if (r) {
        free(displays);
        return r;
    }
    MiniAVDeviceInfo *all = realloc(displays, ((size_t)nd + nw + 1) * sizeof *all);
    if (!all) {
        free(displays);
        free(windows);
        return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    if (nw) memcpy(all + nd, windows, nw * sizeof *all);
    free(windows);
    *out = all;
    *count = nd + nw;
    return MINIAV_SUCCESS;
}

static bool contains(const MiniAVDeviceInfo *list, uint32_t n, const char *id) {
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(list[i].device_id, id)) return true;
    return false;
}

static void *watch_thread(void *arg) {
    struct MiniAVDeviceWatch *w = arg;
    miniav_pacer pacer;
    miniav_pacer_init(&pacer, w->interval_ms * 1000.0);
    miniav_pacer_wait(&pacer, &w->worker.stop); /* the first tick is now: skip it, the list was taken at start */
    while (miniav_pacer_wait(&pacer, &w->worker.stop)) {
        MiniAVDeviceInfo *now;
        uint32_t n;
        if (list_all(w->type, &now, &n)) continue; /* a transient failure: try again next time */
        for (uint32_t i = 0; i < w->known_count; i++)
            if (!contains(now, n, w->known[i].device_id)) w->callback(MINIAV_DEVICE_REMOVED, &w->known[i], w->user);
        for (uint32_t i = 0; i < n; i++)
            if (!contains(w->known, w->known_count, now[i].device_id)) w->callback(MINIAV_DEVICE_ADDED, &now[i], w->user);
        free(w->known);
        w->known = now;
        w->known_count = n;
    }
    return NULL;
}

MiniAVResultCode MiniAV_WatchDevices(MiniAVDeviceType type, uint32_t interval_ms, MiniAVDeviceCallback callback, void *user_data,
                                     MiniAVDeviceWatchHandle *watch_out) {
    miniav_clear_error();
    if (!watch_out || !callback) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "callback and watch_out must not be NULL");
    if ((int)type < 0 || type >= MINIAV_DEVICE_TYPE_COUNT)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "device type %d is not camera(0), screen(1), audio(2) or loopback(3)", (int)type);
    if (interval_ms > 3600000) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "interval %u ms is more than an hour", interval_ms);
    struct MiniAVDeviceWatch *w = calloc(1, sizeof *w);
    if (!w) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    w->type = type;
    w->interval_ms = interval_ms ? interval_ms : 1000;
    w->callback = callback;
    w->user = user_data;
    MiniAVResultCode r = list_all(type, &w->known, &w->known_count);
    if (!r) r = miniav_capture_thread_start(&w->worker, watch_thread, w);
    if (r) {
        free(w->known);
        free(w);
        return r;
    }
    *watch_out = w;
    return MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_UnwatchDevices(MiniAVDeviceWatchHandle watch) {
    miniav_clear_error();
    if (!watch) return miniav_fail(MINIAV_ERROR_INVALID_HANDLE, "watch is NULL");
    miniav_capture_thread_stop(&watch->worker);
    free(watch->known);
    free(watch);
    return MINIAV_SUCCESS;
}
