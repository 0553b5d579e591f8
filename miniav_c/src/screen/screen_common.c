/* Checks that the screen backends (x11, gdi, dxgi, the test pattern) make the same way; see
 * miniav_screen_resolve_format and miniav_screen_check_region in miniav_internal.h. */
#include "../common/miniav_internal.h"

MiniAVResultCode miniav_screen_resolve_format(MiniAVVideoFormatInfo *f, uint32_t source_w, uint32_t source_h, const char *who,
                                              const char *offered, const char *no_gpu, double *period_us) {
    if ((f->width && f->width != source_w) || (f->height && f->height != source_h))
        return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "screen capture does not scale: leave width/height unset (the source is %ux%u)",
                           source_w, source_h);
    if (f->pixel_format == MINIAV_PIXEL_FORMAT_UNKNOWN) f->pixel_format = MINIAV_PIXEL_FORMAT_BGRA32;
    if (f->pixel_format != MINIAV_PIXEL_FORMAT_BGRA32 && f->pixel_format != MINIAV_PIXEL_FORMAT_BGRX32 &&
        f->pixel_format != MINIAV_PIXEL_FORMAT_RGBA32 && f->pixel_format != MINIAV_PIXEL_FORMAT_RGBX32)
        return miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "%s capture gives %s, not '%s'", who, offered,
                           MiniAV_PixelFormatName(f->pixel_format));
    MiniAVResultCode r = miniav_resolve_frame_rate(f, 30, period_us);
    if (r) return r;
    if (no_gpu && f->output_preference == MINIAV_OUTPUT_PREFERENCE_GPU) {
        miniav_log(MINIAV_LOG_LEVEL_INFO, "%s: %s", who, no_gpu);
        f->output_preference = MINIAV_OUTPUT_PREFERENCE_CPU;
    }
    f->width = source_w;
    f->height = source_h;
    f->fourcc = 0; /* MiniAV pixel formats only */
    return MINIAV_SUCCESS;
}

MiniAVResultCode miniav_screen_check_region(const miniav_stream *s, uint32_t display_w, uint32_t display_h, const char *what,
                                            const char *id) {
    if ((uint64_t)s->region_x + s->region_width > display_w || (uint64_t)s->region_y + s->region_height > display_h)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "region %ux%u at (%d,%d) does not fit the %ux%u %s%s%s", s->region_width,
                           s->region_height, s->region_x, s->region_y, display_w, display_h, what, id ? " " : "", id ? id : "");
    return MINIAV_SUCCESS;
}
