/* Public MiniAV_Audio_* functions (audio input): argument checks, then the backend. */
#include "../common/miniav_internal.h"

#include <string.h>

extern const miniav_backend miniav_test_pattern_audio;
#ifdef MINIAV_HAVE_PULSE
extern const miniav_backend miniav_pulse_audio;
#endif
#ifdef MINIAV_HAVE_WASAPI
extern const miniav_backend miniav_wasapi_audio;
#endif

/* Priority order: pulse/pipewire (Linux), wasapi, coreaudio go before the test pattern. */
const miniav_backend *const miniav_audio_backends[] = {
#ifdef MINIAV_HAVE_PULSE
    &miniav_pulse_audio,
#endif
#ifdef MINIAV_HAVE_WASAPI
    &miniav_wasapi_audio,
#endif
    &miniav_test_pattern_audio,
    NULL,
};

#define AUDIO MINIAV_DEVICE_TYPE_AUDIO

MiniAVResultCode MiniAV_Audio_EnumerateDevices(MiniAVDeviceInfo **devices, uint32_t *count) {
    miniav_clear_error();
    return miniav_enumerate(AUDIO, MINIAV_LOOPBACK_TARGET_NONE, false, devices, count);
}

MiniAVResultCode MiniAV_Audio_GetSupportedFormats(const char *device_id, MiniAVAudioInfo **formats, uint32_t *count) {
    miniav_clear_error();
    if (!formats || !count) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "formats and count must not be NULL");
    const miniav_backend *b;
    MiniAVResultCode r = miniav_find_backend(AUDIO, device_id, NULL, &b);
    return r ? r : b->audio_formats(device_id, formats, count);
}

MiniAVResultCode MiniAV_Audio_CreateContext(MiniAVAudioContextHandle *context) {
    miniav_clear_error();
    return miniav_stream_create(AUDIO, (miniav_stream **)context);
}

MiniAVResultCode MiniAV_Audio_DestroyContext(MiniAVAudioContextHandle context) {
    miniav_clear_error();
    return miniav_stream_destroy((miniav_stream *)context, AUDIO);
}

MiniAVResultCode MiniAV_Audio_Configure(MiniAVAudioContextHandle context, const char *device_id, const MiniAVAudioInfo *format) {
    miniav_clear_error();
    MiniAVResultCode r = miniav_stream_check(context, AUDIO);
    if (r) return r;
    miniav_stream *s = &context->base;
    if (format)
        s->requested_audio = *format;
    else
        memset(&s->requested_audio, 0, sizeof s->requested_audio);
    return miniav_stream_configure(s, AUDIO, device_id);
}

MiniAVResultCode MiniAV_Audio_GetConfiguredFormat(MiniAVAudioContextHandle context, MiniAVAudioInfo *format_out) {
    miniav_clear_error();
    MiniAVResultCode r = miniav_stream_check(context, AUDIO);
    if (r) return r;
    if (!format_out) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "format_out must not be NULL");
    if (!context->base.configured) return miniav_fail(MINIAV_ERROR_NOT_INITIALIZED, "configure the audio context first");
    *format_out = context->base.audio;
    return MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_Audio_StartCapture(MiniAVAudioContextHandle context, MiniAVBufferCallback callback, void *user_data) {
    miniav_clear_error();
    return miniav_stream_start((miniav_stream *)context, AUDIO, callback, user_data);
}

MiniAVResultCode MiniAV_Audio_StopCapture(MiniAVAudioContextHandle context) {
    miniav_clear_error();
    return miniav_stream_stop((miniav_stream *)context, AUDIO);
}
