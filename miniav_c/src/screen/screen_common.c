/* Format checks that every CPU screen backend (x11, gdi, dxgi) makes the same way; see
 * miniav_screen_resolve_format in miniav_internal.h. */
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
