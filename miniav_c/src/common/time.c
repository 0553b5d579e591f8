/* The one monotonic clock, and the capture-thread helpers that pace by it. Every buffer timestamp and MiniAV_GetTimeUs() use it, so
 * streams of different types line up by arithmetic alone. */
#define _GNU_SOURCE
#include "miniav_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#endif

#ifdef _WIN32
/* Windows: QueryPerformanceCounter, the clock WASAPI, DXGI and Media Foundation stamp with. */
static int64_t qpc_frequency(void) {
    static int64_t freq; /* constant from boot; a racy first write stores the same value */
    if (!freq) {
        LARGE_INTEGER f;
        QueryPerformanceFrequency(&f);
        freq = f.QuadPart;
    }
    return freq;
}

int64_t miniav_time_from_qpc(int64_t ticks) {
    int64_t f = qpc_frequency();
    return ticks / f * 1000000 + ticks % f * 1000000 / f; /* no overflow for years of uptime */
}

int64_t miniav_time_from_100ns_qpc(int64_t hns) { return hns / 10; }

int64_t MiniAV_GetTimeUs(void) {
    LARGE_INTEGER t;
    QueryPerformanceCounter(&t);
    return miniav_time_from_qpc(t.QuadPart);
}

/* One waitable timer per thread: high resolution where Windows has it (10 1803+), else
 * the classic one (about 1 ms with the multimedia timer period, 15.6 ms without). A thread
 * key closes it when the thread ends (capture threads come and go with every start). */
static pthread_key_t timer_key;
static pthread_once_t timer_key_once = PTHREAD_ONCE_INIT;
static void close_timer(void *timer) { CloseHandle((HANDLE)timer); }
static void make_timer_key(void) { pthread_key_create(&timer_key, close_timer); }

static void sleep_us(int64_t us) {
    pthread_once(&timer_key_once, make_timer_key);
    HANDLE sleep_timer = pthread_getspecific(timer_key);
    if (!sleep_timer) {
        sleep_timer = CreateWaitableTimerExW(NULL, NULL, 0x00000002 /* CREATE_WAITABLE_TIMER_HIGH_RESOLUTION */,
                                             TIMER_ALL_ACCESS);
        if (!sleep_timer) sleep_timer = CreateWaitableTimerExW(NULL, NULL, 0, TIMER_ALL_ACCESS);
        if (sleep_timer) pthread_setspecific(timer_key, sleep_timer);
    }
    LARGE_INTEGER due = {.QuadPart = -us * 10}; /* relative, 100-ns units */
    if (sleep_timer && SetWaitableTimer(sleep_timer, &due, 0, NULL, NULL, FALSE))
        WaitForSingleObject(sleep_timer, INFINITE);
    else
        Sleep((DWORD)((us + 999) / 1000));
}
#else
int64_t MiniAV_GetTimeUs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
#endif

bool miniav_sleep_until(int64_t deadline_us, const atomic_bool *stop) {
    for (;;) {
        if (atomic_load(stop)) return false;
        int64_t now = MiniAV_GetTimeUs();
        if (now >= deadline_us) return true;
        /* Wake at least every 20 ms so Stop never waits long for a slow frame rate. */
        int64_t wake = deadline_us - now > 20000 ? now + 20000 : deadline_us;
#ifdef _WIN32
        sleep_us(wake - now);
#else
        struct timespec ts = {.tv_sec = wake / 1000000, .tv_nsec = (wake % 1000000) * 1000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        }
#endif
    }
}

void *miniav_aligned_alloc(size_t alignment, size_t size) {
#ifdef _WIN32
    return _aligned_malloc(size ? size : 1, alignment);
#else
    void *p = NULL;
    return posix_memalign(&p, alignment, size ? size : 1) ? NULL : p;
#endif
}

void miniav_aligned_free(void *p) {
#ifdef _WIN32
    _aligned_free(p);
#else
    free(p);
#endif
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
