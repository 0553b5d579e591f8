/* Public MiniAV_Screen_* functions: argument checks, then the chosen backend. */
#include "../common/miniav_internal.h"

#include <string.h>

extern const miniav_backend miniav_test_pattern_screen;
#ifdef MINIAV_HAVE_X11
extern const miniav_backend miniav_x11_screen;
#endif
#ifdef MINIAV_HAVE_PORTAL
extern const miniav_backend miniav_portal_screen;
#endif
#ifdef MINIAV_HAVE_DXGI
extern const miniav_backend miniav_dxgi_screen;
#endif
#ifdef MINIAV_HAVE_WGC
extern const miniav_backend miniav_wgc_screen;
#endif
#ifdef MINIAV_HAVE_GDI
extern const miniav_backend miniav_gdi_screen;
#endif

/* Priority order: portal (Wayland) and x11 go before the test pattern. */
const miniav_backend *const miniav_screen_backends[] = {
#ifdef MINIAV_HAVE_PORTAL
    &miniav_portal_screen, /* available on Wayland sessions only; X11 (or XWayland) otherwise */
#endif
#ifdef MINIAV_HAVE_X11
    &miniav_x11_screen,
#endif
#ifdef MINIAV_HAVE_DXGI
    &miniav_dxgi_screen, /* Desktop Duplication: displays, where the GPU driver offers it */
#endif
#ifdef MINIAV_HAVE_WGC
    &miniav_wgc_screen, /* Windows.Graphics.Capture (10 1903+): windows of any drawing API; displays where dxgi cannot */
#endif
#ifdef MINIAV_HAVE_GDI
    &miniav_gdi_screen, /* windows, and displays in VMs and remote sessions (BitBlt) */
#endif
    &miniav_test_pattern_screen,
    NULL,
};

#define SCREEN MINIAV_DEVICE_TYPE_SCREEN

MiniAVResultCode MiniAV_Screen_EnumerateDisplays(MiniAVDeviceInfo **displays, uint32_t *count) {
    miniav_clear_error();
    return miniav_enumerate(SCREEN, MINIAV_LOOPBACK_TARGET_NONE, false, displays, count);
}

MiniAVResultCode MiniAV_Screen_EnumerateWindows(MiniAVDeviceInfo **windows, uint32_t *count) {
    miniav_clear_error();
    return miniav_enumerate(SCREEN, MINIAV_LOOPBACK_TARGET_NONE, true, windows, count);
}

MiniAVResultCode MiniAV_Screen_GetSupportedFormats(const char *display_id, MiniAVVideoFormatInfo **formats, uint32_t *count) {
    miniav_clear_error();
    if (!formats || !count) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "formats and count must not be NULL");
    const miniav_backend *b;
    MiniAVResultCode r = miniav_find_backend(SCREEN, display_id, NULL, &b);
    return r ? r : b->video_formats(display_id, formats, count);
}

MiniAVResultCode MiniAV_Screen_CreateContext(MiniAVScreenContextHandle *context) {
    miniav_clear_error();
    return miniav_stream_create(SCREEN, (miniav_stream **)context);
}

/* Screen + system audio: a loopback stream of the system mix, started and stopped with
 * the screen stream, delivering through the same callback. Both use the one clock, so
 * the application lines them up by timestamp. */
static void stop_audio_companion(miniav_stream *s) {
    if (!s->audio_companion) return;
    MiniAV_Loopback_DestroyContext(s->audio_companion); /* stops it first; held buffers stay valid */
    s->audio_companion = NULL;
}

static MiniAVResultCode start_audio_companion(miniav_stream *s, MiniAVBufferCallback callback, void *user,
                                              const MiniAVAudioInfo *format) {
    MiniAVDeviceInfo *targets;
    uint32_t n;
    MiniAVResultCode r = MiniAV_Loopback_EnumerateTargets(MINIAV_LOOPBACK_TARGET_SYSTEM_AUDIO, &targets, &n);
    if (r) return r;
    if (n == 0) {
        MiniAV_FreeDeviceList(targets, n);
        return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED,
                           "screen capture with audio needs system audio loopback, and no loopback backend here offers it "
                           "(on Linux: a PulseAudio or PipeWire server)");
    }
    char id[256];
    miniav_copy_string(id, sizeof id, targets[0].device_id); /* the backends' priority order: the real system mix first */
    MiniAV_FreeDeviceList(targets, n);
    MiniAVLoopbackContextHandle audio;
    r = MiniAV_Loopback_CreateContext(&audio);
    if (r) return r;
    r = MiniAV_Loopback_Configure(audio, id, format);
    if (!r) r = MiniAV_Loopback_StartCapture(audio, callback, user);
    if (r) {
        char why[512];
        miniav_copy_string(why, sizeof why, MiniAV_GetLastErrorMessage());
        MiniAV_Loopback_DestroyContext(audio);
        return miniav_fail(r, "system audio for the screen stream (%s): %s", id, why);
    }
    s->audio_companion = audio;
    return MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_Screen_DestroyContext(MiniAVScreenContextHandle context) {
    miniav_clear_error();
    MiniAVResultCode r = miniav_stream_check(context, SCREEN);
    if (r) return r;
    stop_audio_companion(&context->base);
    return miniav_stream_destroy((miniav_stream *)context, SCREEN);
}

static MiniAVResultCode configure(MiniAVScreenContextHandle context, const char *id, miniav_screen_target target,
                                  const MiniAVVideoFormatInfo *format) {
    MiniAVResultCode r = miniav_stream_check(context, SCREEN);
    if (r) return r;
    miniav_stream *s = &context->base;
    if (s->running) return miniav_fail(MINIAV_ERROR_ALREADY_RUNNING, "stop capture before configuring again");
    if (format)
        s->requested_video = *format;
    else
        memset(&s->requested_video, 0, sizeof s->requested_video);
    s->screen_target = target;
    return miniav_stream_configure(s, SCREEN, id);
}

MiniAVResultCode MiniAV_Screen_ConfigureDisplay(MiniAVScreenContextHandle context, const char *display_id, const MiniAVVideoFormatInfo *format) {
    miniav_clear_error();
    return configure(context, display_id, MINIAV_SCREEN_TARGET_DISPLAY, format);
}

MiniAVResultCode MiniAV_Screen_ConfigureWindow(MiniAVScreenContextHandle context, const char *window_id, const MiniAVVideoFormatInfo *format) {
    miniav_clear_error();
    return configure(context, window_id, MINIAV_SCREEN_TARGET_WINDOW, format);
}

MiniAVResultCode MiniAV_Screen_ConfigureRegion(MiniAVScreenContextHandle context, const char *display_id, int x, int y, int width,
                                               int height, const MiniAVVideoFormatInfo *format) {
    miniav_clear_error();
    MiniAVResultCode r = miniav_stream_check(context, SCREEN);
    if (r) return r;
    if (width <= 0 || height <= 0)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "region %dx%d is empty: width and height must be positive", width, height);
    if (x < 0 || y < 0) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "region origin (%d,%d) is outside the display", x, y);
    context->base.region_x = x;
    context->base.region_y = y;
    context->base.region_width = (uint32_t)width;
    context->base.region_height = (uint32_t)height;
    return configure(context, display_id, MINIAV_SCREEN_TARGET_REGION, format);
}

MiniAVResultCode MiniAV_Screen_SetOptions(MiniAVScreenContextHandle context, const MiniAVScreenOptions *options) {
    miniav_clear_error();
    MiniAVResultCode r = miniav_stream_check(context, SCREEN);
    if (r) return r;
    if (!options) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "options must not be NULL");
    if ((int)options->cursor < MINIAV_CURSOR_NONE || options->cursor > MINIAV_CURSOR_METADATA)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "cursor mode %d is not NONE(0), COMPOSITE(1) or METADATA(2)", (int)options->cursor);
    if (!memchr(options->restore_token, '\0', sizeof options->restore_token))
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "restore_token is not NUL-terminated");
    if (context->base.running) return miniav_fail(MINIAV_ERROR_ALREADY_RUNNING, "stop capture before changing screen options");
    context->base.screen_options = *options;
    return MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_Screen_GetRestoreToken(MiniAVScreenContextHandle context, char *token_out, size_t size) {
    miniav_clear_error();
    MiniAVResultCode r = miniav_stream_check(context, SCREEN);
    if (r) return r;
    if (!token_out || !size) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "token_out must not be NULL or empty");
    if (!context->base.configured) return miniav_fail(MINIAV_ERROR_NOT_INITIALIZED, "configure the screen first");
    if (strlen(context->base.restore_token) >= size)
        return miniav_fail(MINIAV_ERROR_BUFFER_TOO_SMALL, "the token needs %zu bytes", strlen(context->base.restore_token) + 1);
    strcpy(token_out, context->base.restore_token);
    return MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_Screen_GetConfiguredFormat(MiniAVScreenContextHandle context, MiniAVVideoFormatInfo *format_out) {
    miniav_clear_error();
    MiniAVResultCode r = miniav_stream_check(context, SCREEN);
    if (r) return r;
    if (!format_out) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "format_out must not be NULL");
    if (!context->base.configured) return miniav_fail(MINIAV_ERROR_NOT_INITIALIZED, "configure the screen first");
    *format_out = context->base.video;
    return MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_Screen_StartCapture(MiniAVScreenContextHandle context, MiniAVBufferCallback callback, void *user_data,
                                            const MiniAVAudioInfo *optional_audio_format_for_loopback) {
    miniav_clear_error();
    MiniAVResultCode r = miniav_stream_check(context, SCREEN);
    if (r) return r;
    r = miniav_stream_start(&context->base, SCREEN, callback, user_data);
    if (r || !optional_audio_format_for_loopback) return r;
    r = start_audio_companion(&context->base, callback, user_data, optional_audio_format_for_loopback);
    if (r) {
        char why[512];
        miniav_copy_string(why, sizeof why, MiniAV_GetLastErrorMessage());
        miniav_stream_stop(&context->base, SCREEN);
        return miniav_fail(r, "%s", why);
    }
    return MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_Screen_StopCapture(MiniAVScreenContextHandle context) {
    miniav_clear_error();
    MiniAVResultCode r = miniav_stream_check(context, SCREEN);
    if (r) return r;
    stop_audio_companion(&context->base);
    return miniav_stream_stop((miniav_stream *)context, SCREEN);
}
