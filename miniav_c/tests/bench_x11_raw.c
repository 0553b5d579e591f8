/* The limit for the X11 benchmark (bench/x11.mjs): a bare loop of MIT-SHM reads of the
 * root window, with nothing around it. One SysV shared-memory segment is attached to
 * the X server; then xcb_shm_get_image (Z_PIXMAP, all planes) of the top-left
 * width x height of the root is requested and its reply awaited, again and again, for
 * the given number of seconds. The X server writes the pixels into the segment; this
 * process only waits. No pixel is read here, no alpha is set, nothing is delivered.
 *
 * An optional fourth argument attaches that many segments and reads into them in turn
 * (round robin), as a capture library with a pool of buffers does: with one segment
 * the destination stays in the CPU cache, with several it may not.
 *
 * An optional fifth argument, "render", reads the way MiniAV reads displays instead: a
 * RENDER composite (op SRC) of the root into a 32-bit ARGB pixmap made over each segment
 * (MIT-SHM shared pixmaps), then a GetInputFocus round trip to know the copy is done.
 * That copy also sets alpha to 255; GetImage leaves the pad byte as the server has it.
 *
 * Prints one JSON line: {"fps":..,"cpuMsPerFrame":..,"frames":..}. CPU is this
 * process's user + system time (getrusage); the X server's own CPU is not in it (the
 * benchmark reads that from /proc).
 *
 * usage: bench_x11_raw [seconds [width height [segments [getimage|render]]]]
 *        (defaults: 3 1920 1080 1 getimage)
 * Needs DISPLAY; exits 77 when there is no X server or no MIT-SHM. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <string.h>
#include <time.h>
#include <xcb/render.h>
#include <xcb/shm.h>
#include <xcb/xcb.h>

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double mono_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define MAX_SEGMENTS 16

static void detach_all(xcb_connection_t *c, const xcb_shm_seg_t *seg, void *const *addr, int n) {
    for (int i = 0; i < n; i++) {
        xcb_shm_detach(c, seg[i]);
        shmdt(addr[i]);
    }
    xcb_flush(c);
}

/* The root's picture and an ARGB picture over each segment; false when the server lacks
 * RENDER, shared pixmaps or a 32-bit a8r8g8b8 format. */
static bool make_pictures(xcb_connection_t *c, xcb_screen_t *screen, uint16_t w, uint16_t h, const xcb_shm_seg_t *seg, int segments,
                          xcb_render_picture_t *source, xcb_render_picture_t *target) {
    const xcb_query_extension_reply_t *ext = xcb_get_extension_data(c, &xcb_render_id);
    xcb_render_query_pict_formats_reply_t *formats =
        ext && ext->present ? xcb_render_query_pict_formats_reply(c, xcb_render_query_pict_formats(c), NULL) : NULL;
    if (!formats) {
        fprintf(stderr, "bench_x11_raw: the X server has no RENDER extension\n");
        return false;
    }
    xcb_render_pictformat_t argb = 0, root = 0;
    for (xcb_render_pictforminfo_iterator_t f = xcb_render_query_pict_formats_formats_iterator(formats); f.rem; xcb_render_pictforminfo_next(&f))
        if (f.data->type == XCB_RENDER_PICT_TYPE_DIRECT && f.data->depth == 32 && f.data->direct.alpha_shift == 24 &&
            f.data->direct.alpha_mask == 0xff && f.data->direct.red_shift == 16 && f.data->direct.blue_shift == 0)
            argb = f.data->id;
    xcb_render_pictscreen_iterator_t sc = xcb_render_query_pict_formats_screens_iterator(formats);
    for (xcb_render_pictdepth_iterator_t d = xcb_render_pictscreen_depths_iterator(sc.data); sc.rem && d.rem; xcb_render_pictdepth_next(&d))
        for (xcb_render_pictvisual_iterator_t v = xcb_render_pictdepth_visuals_iterator(d.data); v.rem; xcb_render_pictvisual_next(&v))
            if (v.data->visual == screen->root_visual) root = v.data->format;
    free(formats);
    uint32_t subwindows = XCB_SUBWINDOW_MODE_INCLUDE_INFERIORS;
    *source = xcb_generate_id(c);
    xcb_generic_error_t *err = argb && root ? xcb_request_check(c, xcb_render_create_picture_checked(c, *source, screen->root, root,
                                                                                                      XCB_RENDER_CP_SUBWINDOW_MODE, &subwindows))
                                            : NULL;
    for (int i = 0; !err && argb && root && i < segments; i++) {
        xcb_pixmap_t pixmap = xcb_generate_id(c);
        err = xcb_request_check(c, xcb_shm_create_pixmap_checked(c, pixmap, screen->root, w, h, 32, seg[i], 0));
        target[i] = xcb_generate_id(c);
        if (!err) err = xcb_request_check(c, xcb_render_create_picture_checked(c, target[i], pixmap, argb, 0, NULL));
    }
    if (!argb || !root || err) {
        fprintf(stderr, "bench_x11_raw: the X server cannot render into a shared ARGB pixmap (error %u)\n", err ? err->error_code : 0);
        free(err);
        return false;
    }
    return true;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 3;
    long w = argc > 3 ? atol(argv[2]) : 1920, h = argc > 3 ? atol(argv[3]) : 1080;
    int segments = argc > 4 ? atoi(argv[4]) : 1;
    const char *method = argc > 5 ? argv[5] : "getimage";
    bool render = !strcmp(method, "render");
    if (!(seconds > 0) || w <= 0 || h <= 0 || w > 32767 || h > 32767 || segments < 1 || segments > MAX_SEGMENTS ||
        (!render && strcmp(method, "getimage"))) {
        fprintf(stderr, "usage: %s [seconds [width height [segments (1-%d) [getimage|render]]]]\n", argv[0], MAX_SEGMENTS);
        return 2;
    }

    int screen_num = 0;
    xcb_connection_t *c = xcb_connect(NULL, &screen_num);
    if (xcb_connection_has_error(c)) {
        fprintf(stderr, "bench_x11_raw: cannot connect to the X server (DISPLAY=%s)\n", getenv("DISPLAY") ? getenv("DISPLAY") : "");
        xcb_disconnect(c);
        return 77;
    }
    xcb_screen_iterator_t it = xcb_setup_roots_iterator(xcb_get_setup(c));
    for (int i = 0; i < screen_num && it.rem; i++) xcb_screen_next(&it);
    xcb_screen_t *screen = it.data;
    if (w > screen->width_in_pixels || h > screen->height_in_pixels) {
        fprintf(stderr, "bench_x11_raw: %ldx%ld does not fit the %ux%u X screen\n", w, h, screen->width_in_pixels, screen->height_in_pixels);
        xcb_disconnect(c);
        return 2;
    }
    const xcb_query_extension_reply_t *ext = xcb_get_extension_data(c, &xcb_shm_id);
    if (!ext || !ext->present) {
        fprintf(stderr, "bench_x11_raw: the X server has no MIT-SHM extension\n");
        xcb_disconnect(c);
        return 77;
    }

    /* 32 bits per pixel: what the root of a depth-24 TrueColor screen has in Z_PIXMAP. */
    size_t bytes = (size_t)w * (size_t)h * 4;
    xcb_shm_seg_t seg[MAX_SEGMENTS];
    void *addr[MAX_SEGMENTS];
    for (int i = 0; i < segments; i++) {
        int id = shmget(IPC_PRIVATE, bytes, IPC_CREAT | 0600);
        addr[i] = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
        if (addr[i] == (void *)-1) {
            if (id >= 0) shmctl(id, IPC_RMID, NULL);
            fprintf(stderr, "bench_x11_raw: cannot create a %zu-byte shared memory segment\n", bytes);
            detach_all(c, seg, addr, i);
            xcb_disconnect(c);
            return 1;
        }
        seg[i] = xcb_generate_id(c);
        xcb_generic_error_t *err = xcb_request_check(c, xcb_shm_attach_checked(c, seg[i], (uint32_t)id, 0));
        shmctl(id, IPC_RMID, NULL); /* goes away once both sides have let go */
        if (err) {
            fprintf(stderr, "bench_x11_raw: the X server cannot attach the segment (error %u)\n", err->error_code);
            free(err);
            shmdt(addr[i]);
            detach_all(c, seg, addr, i);
            xcb_disconnect(c);
            return 77;
        }
    }

    /* render: the root as a picture (children included), an ARGB picture per segment. */
    xcb_render_picture_t source = 0, target[MAX_SEGMENTS] = {0};
    if (render && !make_pictures(c, screen, (uint16_t)w, (uint16_t)h, seg, segments, &source, target)) {
        detach_all(c, seg, addr, segments);
        xcb_disconnect(c);
        return 77;
    }

    unsigned long frames = 0;
    double cpu0 = cpu_seconds(), t0 = mono_seconds(), t = t0;
    while (t - t0 < seconds) {
        if (render) {
            xcb_render_composite(c, XCB_RENDER_PICT_OP_SRC, source, XCB_NONE, target[frames % (unsigned long)segments], 0, 0, 0, 0, 0, 0,
                                 (uint16_t)w, (uint16_t)h);
            xcb_get_input_focus_reply_t *done = xcb_get_input_focus_reply(c, xcb_get_input_focus(c), NULL);
            if (!done) {
                fprintf(stderr, "bench_x11_raw: the X connection failed\n");
                return 1;
            }
            free(done);
            frames++;
            t = mono_seconds();
            continue;
        }
        xcb_generic_error_t *err = NULL;
        xcb_shm_get_image_reply_t *img = xcb_shm_get_image_reply(
            c,
            xcb_shm_get_image(c, screen->root, 0, 0, (uint16_t)w, (uint16_t)h, ~0u, XCB_IMAGE_FORMAT_Z_PIXMAP,
                              seg[frames % (unsigned long)segments], 0),
            &err);
        if (!img) {
            fprintf(stderr, "bench_x11_raw: shm_get_image failed (error %u)\n", err ? err->error_code : 0);
            free(err);
            detach_all(c, seg, addr, segments);
            xcb_disconnect(c);
            return 1;
        }
        free(img);
        frames++;
        t = mono_seconds();
    }
    double wall = t - t0, cpu = cpu_seconds() - cpu0;

    detach_all(c, seg, addr, segments);
    xcb_disconnect(c);
    printf("{\"fps\":%.1f,\"cpuMsPerFrame\":%.4f,\"frames\":%lu}\n", (double)frames / wall, frames ? cpu * 1000 / (double)frames : 0.0, frames);
    return 0;
}
