/* The one monotonic clock, and the capture-thread helpers that pace by it. Every buffer timestamp and MiniAV_GetTimeUs() use it, so
 * streams of different types line up by arithmetic alone. */
#define _GNU_SOURCE
#include "miniav_internal.h"

#include <errno.h>
#include <time.h>

int64_t MiniAV_GetTimeUs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool miniav_sleep_until(int64_t deadline_us, const atomic_bool *stop) {
    for (;;) {
        if (atomic_load(stop)) return false;
        int64_t now = MiniAV_GetTimeUs();
        if (now >= deadline_us) return true;
        /* Wake at least every 20 ms so Stop never waits long for a slow frame rate. */
        int64_t wake = deadline_us - now > 20000 ? now + 20000 : deadline_us;
        struct timespec ts = {.tv_sec = wake / 1000000, .tv_nsec = (wake % 1000000) * 1000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        }
    }
}

MiniAVResultCode miniav_capture_thread_start(miniav_capture_thread *t, void *(*run)(void *), void *arg) {
    atomic_store(&t->stop, false);
    if (pthread_create(&t->thread, NULL, run, arg))
        return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "cannot start a capture thread (out of threads or memory?)");
    return MINIAV_SUCCESS;
}

void miniav_capture_thread_stop(miniav_capture_thread *t) {
    atomic_store(&t->stop, true);
    pthread_join(t->thread, NULL);
}

void miniav_pacer_init(miniav_pacer *p, double period_us) {
    p->period_us = period_us;
    p->start = MiniAV_GetTimeUs();
    p->n = 0;
}

bool miniav_pacer_wait(miniav_pacer *p, const atomic_bool *stop) {
    if (atomic_load(stop)) return false;
    if (p->period_us > 0) {
        int64_t due = p->start + (int64_t)((double)p->n * p->period_us);
        if (!miniav_sleep_until(due, stop)) return false;
        if (MiniAV_GetTimeUs() - due > 2 * p->period_us) { /* machine busy: no burst to catch up */
            p->start = MiniAV_GetTimeUs();
            p->n = 0;
        }
    }
    p->n++;
    return true;
}
