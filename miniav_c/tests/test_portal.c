/* Wayland portal screen capture against the project's portal rig (scripts/rigs/portal.sh:
 * headless sway with a solid background, xdg-desktop-portal-wlr, xdg-desktop-portal, on
 * a private PipeWire): the portal backend is chosen on a Wayland session; a screencast of
 * the output has its size and background colour; a second session with the restore token
 * opens without asking; a closed session ends the stream; bad input.
 * usage: test_portal   (exit 77 = skipped: no portal rig) */
#define _GNU_SOURCE
#include "miniav.h"
#include "check.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

static uint8_t want_r, want_g, want_b;
static uint32_t want_w, want_h;

typedef struct {
    atomic_int frames;
    int wrong_colour, wrong_size;
    atomic_int event;
    MiniAVResultCode event_code;
} catcher;

static void on_frame(const MiniAVBuffer *b, void *user) {
    catcher *c = user;
    if (b->data.video.width != want_w || b->data.video.height != want_h) c->wrong_size++;
    const uint8_t *p = b->data.video.planes[0];
    uint32_t stride = b->data.video.stride_bytes[0];
    /* BGRx: a few points across the screen, all background. */
    for (uint32_t k = 1; k < 8 && p; k++) {
        const uint8_t *px = p + (size_t)(b->data.video.height * k / 8) * stride + (size_t)(b->data.video.width * k / 8) * 4;
        if (px[0] != want_b || px[1] != want_g || px[2] != want_r) {
            if (!c->wrong_colour) fprintf(stderr, "pixel %u: %02x%02x%02x\n", k, px[2], px[1], px[0]);
            c->wrong_colour++;
        }
    }
    atomic_fetch_add(&c->frames, 1);
    MiniAV_ReleaseBuffer(b->internal_handle);
}

static void on_event(MiniAVStreamEventType ev, MiniAVResultCode code, const char *msg, void *user) {
    catcher *c = user;
    printf("event %d %s: %s\n", ev, MiniAV_GetErrorName(code), msg);
    c->event_code = code;
    atomic_store(&c->event, ev);
}

static MiniAVScreenContextHandle open_monitor(const char *restore_token, char *token_out, size_t token_size) {
    MiniAVScreenContextHandle ctx;
    MiniAV_Screen_CreateContext(&ctx);
    MiniAVScreenOptions o = {.cursor = MINIAV_CURSOR_NONE};
    if (restore_token) snprintf(o.restore_token, sizeof o.restore_token, "%s", restore_token);
    CHECK_EQ_INT(MiniAV_Screen_SetOptions(ctx, &o), MINIAV_SUCCESS);
    MiniAVVideoFormatInfo f = {0, 0, MINIAV_PIXEL_FORMAT_BGRX32, 30, 1, MINIAV_OUTPUT_PREFERENCE_CPU, 0};
    CHECK_EQ_INT(MiniAV_Screen_ConfigureDisplay(ctx, "portal:monitor", &f), MINIAV_SUCCESS);
    if (token_out) CHECK_EQ_INT(MiniAV_Screen_GetRestoreToken(ctx, token_out, token_size), MINIAV_SUCCESS);
    return ctx;
}

static void capture_background(MiniAVScreenContextHandle ctx) {
    MiniAVVideoFormatInfo got;
    CHECK_EQ_INT(MiniAV_Screen_GetConfiguredFormat(ctx, &got), MINIAV_SUCCESS);
    CHECK_EQ_INT(got.width, want_w);
    CHECK_EQ_INT(got.height, want_h);
    CHECK_EQ_INT(got.pixel_format, MINIAV_PIXEL_FORMAT_BGRX32);
    CHECK(!strcmp(MiniAV_Stream_GetBackendName(ctx), "portal"));
    catcher c = {0};
    MiniAV_Stream_SetEventCallback(ctx, on_event, &c);
    CHECK_EQ_INT(MiniAV_Screen_StartCapture(ctx, on_frame, &c, NULL), MINIAV_SUCCESS);
    WAIT_FOR(atomic_load(&c.frames) >= 10, 10000);
    printf("portal: %d frames\n", atomic_load(&c.frames));
    CHECK(atomic_load(&c.frames) >= 10);
    CHECK_EQ_INT(c.wrong_size, 0);
    CHECK_EQ_INT(c.wrong_colour, 0);
    CHECK_EQ_INT(MiniAV_Screen_StopCapture(ctx), MINIAV_SUCCESS);
}

/* The desktop ends the session (its portal backend dies): the stream ends with DEVICE_LOST. */
static void test_session_ends(void) {
    const char *pidfile = getenv("MINIAV_RIG_PORTAL_XDPW_PIDFILE");
    CHECK(pidfile != NULL);
    if (!pidfile) return;
    MiniAVScreenContextHandle ctx = open_monitor(NULL, NULL, 0);
    catcher c = {0};
    MiniAV_Stream_SetEventCallback(ctx, on_event, &c);
    CHECK_EQ_INT(MiniAV_Screen_StartCapture(ctx, on_frame, &c, NULL), MINIAV_SUCCESS);
    WAIT_FOR(atomic_load(&c.frames) >= 3, 10000);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "kill $(cat '%s')", pidfile);
    CHECK_EQ_INT(system(cmd), 0);
    WAIT_FOR(atomic_load(&c.event) != 0, 5000);
    CHECK_EQ_INT(atomic_load(&c.event), MINIAV_EVENT_ERROR);
    CHECK_EQ_INT(c.event_code, MINIAV_ERROR_DEVICE_LOST);
    CHECK_EQ_INT(MiniAV_Screen_StopCapture(ctx), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Screen_DestroyContext(ctx), MINIAV_SUCCESS);
}

static void test_enumerate(void) {
    MiniAVDeviceInfo *d;
    uint32_t n;
    CHECK_EQ_INT(MiniAV_Screen_EnumerateDisplays(&d, &n), MINIAV_SUCCESS);
    CHECK(n > 0 && !strcmp(d[0].device_id, "portal:monitor") && !strcmp(d[0].backend, "portal") && d[0].is_default);
    MiniAV_FreeDeviceList(d, n);
}

static void test_bad_input(void) {
    MiniAVScreenContextHandle ctx;
    MiniAV_Screen_CreateContext(&ctx);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureDisplay(ctx, "portal:nothing", NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureRegion(ctx, "portal:monitor", 0, 0, 100, 100, NULL), MINIAV_ERROR_NOT_SUPPORTED);
    MiniAVScreenOptions o = {.cursor = MINIAV_CURSOR_METADATA};
    MiniAV_Screen_SetOptions(ctx, &o);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureDisplay(ctx, "portal:monitor", NULL), MINIAV_ERROR_NOT_SUPPORTED);
    char token[8];
    CHECK_EQ_INT(MiniAV_Screen_GetRestoreToken(ctx, token, sizeof token), MINIAV_ERROR_NOT_INITIALIZED);
    MiniAV_Screen_DestroyContext(ctx);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *colour = getenv("MINIAV_RIG_PORTAL_COLOR"), *size = getenv("MINIAV_RIG_PORTAL_SIZE");
    if (!colour || !size) {
        fprintf(stderr, "no portal rig (MINIAV_RIG_PORTAL_COLOR unset): start scripts/rigs/portal.sh\n");
        return getenv("MINIAV_REQUIRE_PORTAL") ? 1 : 77;
    }
    unsigned rgb = (unsigned)strtoul(colour, NULL, 16);
    want_r = (uint8_t)(rgb >> 16), want_g = (uint8_t)(rgb >> 8), want_b = (uint8_t)rgb;
    sscanf(size, "%ux%u", &want_w, &want_h);
    test_enumerate();
    test_bad_input();
    char token[256] = "";
    MiniAVScreenContextHandle ctx = open_monitor(NULL, token, sizeof token);
    printf("restore token: '%s'\n", token);
    capture_background(ctx);
    MiniAV_Screen_DestroyContext(ctx);
    /* Again with the token: no dialog (the rig's portal never shows one; the token must be accepted). */
    ctx = open_monitor(token, NULL, 0);
    capture_background(ctx);
    MiniAV_Screen_DestroyContext(ctx);
    test_session_ends();
    /* The bus starts a new portal backend on demand: sharing works again. */
    ctx = open_monitor(NULL, NULL, 0);
    capture_background(ctx);
    MiniAV_Screen_DestroyContext(ctx);
    TEST_DONE();
}
