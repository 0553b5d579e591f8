/* Public MiniAV_Camera_* functions: argument checks, then the chosen backend. */
#include "../common/miniav_internal.h"

#include <string.h>

extern const miniav_backend miniav_test_pattern_camera;
#ifdef MINIAV_HAVE_PIPEWIRE
extern const miniav_backend miniav_pipewire_camera;
#endif
#ifdef MINIAV_HAVE_V4L2
extern const miniav_backend miniav_v4l2_camera;
#endif
#ifdef MINIAV_HAVE_MEDIAFOUNDATION
extern const miniav_backend miniav_mediafoundation_camera;
#endif

/* Priority order. Platform backends (v4l2, pipewire, mediafoundation, avfoundation)
 * go before the test pattern, which only answers to the id "test-pattern". */
const miniav_backend *const miniav_camera_backends[] = {
#ifdef MINIAV_HAVE_PIPEWIRE
    &miniav_pipewire_camera, /* the desktop's shared way to cameras, when a PipeWire daemon runs */
#endif
#ifdef MINIAV_HAVE_V4L2
    &miniav_v4l2_camera,
#endif
#ifdef MINIAV_HAVE_MEDIAFOUNDATION
    &miniav_mediafoundation_camera,
#endif
    &miniav_test_pattern_camera,
    NULL,
};

#define CAMERA MINIAV_DEVICE_TYPE_CAMERA

MiniAVResultCode MiniAV_Camera_EnumerateDevices(MiniAVDeviceInfo **devices, uint32_t *count) {
    miniav_clear_error();
    return miniav_enumerate(CAMERA, MINIAV_LOOPBACK_TARGET_NONE, false, devices, count);
}

MiniAVResultCode MiniAV_Camera_GetSupportedFormats(const char *device_id, MiniAVVideoFormatInfo **formats, uint32_t *count) {
    miniav_clear_error();
    if (!formats || !count) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "formats and count must not be NULL");
    const miniav_backend *b;
    MiniAVResultCode r = miniav_find_backend(CAMERA, device_id, NULL, &b);
    return r ? r : b->video_formats(device_id, formats, count);
}

MiniAVResultCode MiniAV_Camera_CreateContext(MiniAVCameraContextHandle *context) {
    miniav_clear_error();
    return miniav_stream_create(CAMERA, (miniav_stream **)context);
}

MiniAVResultCode MiniAV_Camera_DestroyContext(MiniAVCameraContextHandle context) {
    miniav_clear_error();
    return miniav_stream_destroy((miniav_stream *)context, CAMERA);
}

MiniAVResultCode MiniAV_Camera_Configure(MiniAVCameraContextHandle context, const char *device_id, const MiniAVVideoFormatInfo *format) {
    miniav_clear_error();
    MiniAVResultCode r = miniav_stream_check(context, CAMERA);
    if (r) return r;
    miniav_stream *s = &context->base;
    if (format)
        s->requested_video = *format;
    else
        memset(&s->requested_video, 0, sizeof s->requested_video);
    return miniav_stream_configure(s, CAMERA, device_id);
}

MiniAVResultCode MiniAV_Camera_GetConfiguredFormat(MiniAVCameraContextHandle context, MiniAVVideoFormatInfo *format_out) {
    miniav_clear_error();
    MiniAVResultCode r = miniav_stream_check(context, CAMERA);
    if (r) return r;
    if (!format_out) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "format_out must not be NULL");
    if (!context->base.configured) return miniav_fail(MINIAV_ERROR_NOT_INITIALIZED, "configure the camera first");
    *format_out = context->base.video;
    return MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_Camera_StartCapture(MiniAVCameraContextHandle context, MiniAVBufferCallback callback, void *user_data) {
    miniav_clear_error();
    return miniav_stream_start((miniav_stream *)context, CAMERA, callback, user_data);
}

MiniAVResultCode MiniAV_Camera_StopCapture(MiniAVCameraContextHandle context) {
    miniav_clear_error();
    return miniav_stream_stop((miniav_stream *)context, CAMERA);
}

/* ------------------------------------------------------------------ properties */

/* The configured stream, or a clear error. */
static MiniAVResultCode property_stream(MiniAVCameraContextHandle context, const char *name, bool need_name, miniav_stream **out) {
    MiniAVResultCode r = miniav_stream_check(context, CAMERA);
    if (r) return r;
    if (need_name && (!name || !*name))
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "property name is empty: use a name from MiniAV_Camera_ListProperties");
    if (!context->base.configured)
        return miniav_fail(MINIAV_ERROR_NOT_INITIALIZED, "configure the camera before reading or changing its properties");
    *out = &context->base;
    return MINIAV_SUCCESS;
}

static MiniAVResultCode no_properties(const miniav_stream *s, const char *name) {
    return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "camera '%s' (%s backend) has no property '%s'", s->device_id, s->backend->name,
                       name);
}

MiniAVResultCode MiniAV_Camera_ListProperties(MiniAVCameraContextHandle context, MiniAVCameraProperty **properties, uint32_t *count) {
    miniav_clear_error();
    if (!properties || !count) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "properties and count must not be NULL");
    *properties = NULL;
    *count = 0;
    miniav_stream *s = NULL;
    MiniAVResultCode r = property_stream(context, NULL, false, &s);
    if (r) return r;
    return s->backend->list_properties ? s->backend->list_properties(s, properties, count) : MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_Camera_GetProperty(MiniAVCameraContextHandle context, const char *name, int64_t *value, int *is_auto) {
    miniav_clear_error();
    if (!value) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "value must not be NULL");
    miniav_stream *s = NULL;
    MiniAVResultCode r = property_stream(context, name, true, &s);
    if (r) return r;
    int automatic = 0;
    if (!s->backend->get_property) return no_properties(s, name);
    r = s->backend->get_property(s, name, value, &automatic);
    if (!r && is_auto) *is_auto = automatic;
    return r;
}

MiniAVResultCode MiniAV_Camera_SetProperty(MiniAVCameraContextHandle context, const char *name, int64_t value) {
    miniav_clear_error();
    miniav_stream *s = NULL;
    MiniAVResultCode r = property_stream(context, name, true, &s);
    if (r) return r;
    return s->backend->set_property ? s->backend->set_property(s, name, value) : no_properties(s, name);
}

MiniAVResultCode MiniAV_Camera_SetPropertyAuto(MiniAVCameraContextHandle context, const char *name, int enable) {
    miniav_clear_error();
    miniav_stream *s = NULL;
    MiniAVResultCode r = property_stream(context, name, true, &s);
    if (r) return r;
    return s->backend->set_property_auto ? s->backend->set_property_auto(s, name, enable != 0) : no_properties(s, name);
}
