/* Device lists that update. One thread per watch re-enumerates at an interval and
 * reports the difference by device id. Polling works with every backend as it is;
 * on Linux, cameras are also re-listed as soon as a /dev/video* node appears, goes
 * away or changes permissions (inotify on /dev: what udev does on a plug), so the
 * interval only matters for changes no file shows. */
#define _GNU_SOURCE
#include "miniav_internal.h"

#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>
#endif

struct MiniAVDeviceWatch {
    MiniAVDeviceType type;
    uint32_t interval_ms;
    MiniAVDeviceCallback callback;
    void *user;
    miniav_capture_thread worker;
    MiniAVDeviceInfo *known;
    uint32_t known_count;
    int notify_fd; /* inotify on /dev for cameras, or -1 */
};

static int open_notifier(MiniAVDeviceType type) {
#ifdef __linux__
    if (type != MINIAV_DEVICE_TYPE_CAMERA) return -1;
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return -1;
    if (inotify_add_watch(fd, "/dev", IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO) < 0) {
        close(fd);
        return -1;
    }
    return fd;
#else
    (void)type;
    return -1;
#endif
}

#ifdef __linux__
/* True when a video node changed; drains the queue. */
static bool video_node_changed(int fd) {
    char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool changed = false;
    ssize_t n;
    while ((n = read(fd, events, sizeof events)) > 0)
        for (char *p = events; p < events + n;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            changed |= e->len && !strncmp(e->name, "video", 5);
            p += sizeof *e + e->len;
        }
    return changed;
}
#endif

/* Waits for the next poll tick, or less when a video node changed. False once stopped. */
static bool wait_for_change(struct MiniAVDeviceWatch *w, miniav_pacer *pacer) {
#ifdef __linux__
    if (w->notify_fd >= 0) {
        int64_t deadline = pacer->start + (int64_t)(pacer->period_us * (double)pacer->n);
        while (!atomic_load(&w->worker.stop)) {
            int64_t left_ms = (deadline - MiniAV_GetTimeUs()) / 1000;
            if (left_ms <= 0) {
                pacer->start = MiniAV_GetTimeUs(); /* the next tick one interval from now */
                pacer->n = 1;
                return true;
            }
            struct pollfd pfd = {.fd = w->notify_fd, .events = POLLIN};
            /* 20 ms slices: Unwatch never waits long. */
            if (poll(&pfd, 1, left_ms < 20 ? (int)left_ms : 20) > 0 && video_node_changed(w->notify_fd)) {
                /* udev sets the node's owner and mode just after creating it: let it settle. */
                miniav_sleep_until(MiniAV_GetTimeUs() + 100000, &w->worker.stop);
                video_node_changed(w->notify_fd);
                pacer->start = MiniAV_GetTimeUs();
                pacer->n = 1;
                return !atomic_load(&w->worker.stop);
            }
        }
        return false;
    }
#endif
    return miniav_pacer_wait(pacer, &w->worker.stop);
}

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
    while (wait_for_change(w, &pacer)) {
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
    w->notify_fd = open_notifier(type);
    MiniAVResultCode r = list_all(type, &w->known, &w->known_count);
    if (!r) r = miniav_capture_thread_start(&w->worker, watch_thread, w);
    if (r) {
#ifdef __linux__
        if (w->notify_fd >= 0) close(w->notify_fd);
#endif
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
#ifdef __linux__
    if (watch->notify_fd >= 0) close(watch->notify_fd);
#endif
    free(watch->known);
    free(watch);
    return MINIAV_SUCCESS;
}
