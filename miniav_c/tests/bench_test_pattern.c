/* The limit for the Node benchmark: test-pattern frames delivered to a C callback
 * that releases at once. Prints one JSON line.
 * usage: bench_test_pattern [width height seconds pixel_format] */
#define _GNU_SOURCE
#include "miniav.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static atomic_ulong frames;
static void on_frame(const MiniAVBuffer *b, void *user) {
    (void)user;
    atomic_fetch_add(&frames, 1);
    MiniAV_ReleaseBuffer(b->internal_handle);
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv) {
    uint32_t w = argc > 1 ? (uint32_t)atoi(argv[1]) : 1920, h = argc > 2 ? (uint32_t)atoi(argv[2]) : 1080;
    double seconds = argc > 3 ? atof(argv[3]) : 3;
    MiniAVPixelFormat fmt = argc > 4 ? MiniAV_PixelFormatFromName(argv[4]) : MINIAV_PIXEL_FORMAT_BGRA32;
    MiniAVCameraContextHandle cam;
    MiniAV_Camera_CreateContext(&cam);
    MiniAVVideoFormatInfo f = {w, h, fmt, MINIAV_FRAME_RATE_UNLIMITED_NUMERATOR, MINIAV_FRAME_RATE_UNLIMITED_DENOMINATOR, 0, 0};
    if (MiniAV_Camera_Configure(cam, "test-pattern", &f)) {
        fprintf(stderr, "configure: %s\n", MiniAV_GetLastErrorMessage());
        return 1;
    }
    double cpu0 = cpu_seconds();
    int64_t t0 = MiniAV_GetTimeUs();
    MiniAV_Camera_StartCapture(cam, on_frame, NULL);
    struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    MiniAV_Camera_StopCapture(cam);
    double wall = (MiniAV_GetTimeUs() - t0) / 1e6, cpu = cpu_seconds() - cpu0;
    MiniAVStats st;
    MiniAV_Stream_GetStats(cam, &st);
    unsigned long n = atomic_load(&frames);
    printf("{\"fps\":%.1f,\"cpuMsPerFrame\":%.3f,\"copiesPerFrame\":%.2f,\"frames\":%lu,\"dropped\":%llu}\n", n / wall,
           n ? cpu * 1000 / n : 0, n ? (double)st.copies / n : 0, n, (unsigned long long)st.dropped);
    MiniAV_Camera_DestroyContext(cam);
    return 0;
}
