/* Public MiniAV_Loopback_* functions (audio output capture): checks, then the backend. */
#include "../common/miniav_internal.h"

#include <stdio.h>
#include <string.h>

extern const miniav_backend miniav_test_pattern_loopback;
#ifdef MINIAV_HAVE_PULSE
extern const miniav_backend miniav_pulse_loopback;
#endif
#ifdef MINIAV_HAVE_WASAPI
extern const miniav_backend miniav_wasapi_loopback;
#endif

/* Priority order: pulse (Linux), wasapi, coreaudio go before the test pattern. */
const miniav_backend *const miniav_loopback_backends[] = {
#ifdef MINIAV_HAVE_PULSE
    &miniav_pulse_loopback,
#endif
#ifdef MINIAV_HAVE_WASAPI
    &miniav_wasapi_loopback,
#endif
    &miniav_test_pattern_loopback,
    NULL,
};

#define LOOPBACK MINIAV_DEVICE_TYPE_LOOPBACK

MiniAVResultCode MiniAV_Loopback_EnumerateTargets(MiniAVLoopbackTargetType target_type_filter, MiniAVDeviceInfo **targets, uint32_t *count) {
    miniav_clear_error();
    if ((int)target_type_filter < MINIAV_LOOPBACK_TARGET_NONE || target_type_filter > MINIAV_LOOPBACK_TARGET_DEVICE)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "loopback target filter %d is not a MiniAVLoopbackTargetType", (int)target_type_filter);
    return miniav_enumerate(LOOPBACK, target_type_filter, false, targets, count);
}

MiniAVResultCode MiniAV_Loopback_GetSupportedFormats(const char *target_id, MiniAVAudioInfo **formats, uint32_t *count) {
    miniav_clear_error();
    if (!formats || !count) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "formats and count must not be NULL");
    const miniav_backend *b;
    MiniAVResultCode r = miniav_find_backend(LOOPBACK, target_id, NULL, &b);
    return r ? r : b->audio_formats(target_id, formats, count);
}

MiniAVResultCode MiniAV_Loopback_CreateContext(MiniAVLoopbackContextHandle *context) {
    miniav_clear_error();
    return miniav_stream_create(LOOPBACK, (miniav_stream **)context);
}

MiniAVResultCode MiniAV_Loopback_DestroyContext(MiniAVLoopbackContextHandle context) {
    miniav_clear_error();
    return miniav_stream_destroy((miniav_stream *)context, LOOPBACK);
}

MiniAVResultCode MiniAV_Loopback_Configure(MiniAVLoopbackContextHandle context, const char *target_device_id, const MiniAVAudioInfo *format) {
    miniav_clear_error();
    MiniAVResultCode r = miniav_stream_check(context, LOOPBACK);
    if (r) return r;
    miniav_stream *s = &context->base;
    if (format)
        s->requested_audio = *format;
    else
        memset(&s->requested_audio, 0, sizeof s->requested_audio);
    memset(&s->loopback_target, 0, sizeof s->loopback_target);
    return miniav_stream_configure(s, LOOPBACK, target_device_id);
}

/* A process or the system mix, resolved to a target id: the first playing stream of that
 * process in the backends' lists, else an id a backend makes for any process (WASAPI). */
MiniAVResultCode MiniAV_Loopback_GetTargetId(const MiniAVLoopbackTargetInfo *target_info, char *id_out, size_t id_size) {
    miniav_clear_error();
    if (!target_info) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "target_info must not be NULL");
    if (!id_out || id_size < 2) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "id_out must have room for an id (256 bytes will do)");
    id_out[0] = '\0';
    MiniAVLoopbackTargetType type = target_info->type;
    if (type == MINIAV_LOOPBACK_TARGET_WINDOW)
        return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "no loopback backend in this build captures a window's sound; "
                                                       "capture its process (MINIAV_LOOPBACK_TARGET_PROCESS) instead");
    if (type != MINIAV_LOOPBACK_TARGET_PROCESS && type != MINIAV_LOOPBACK_TARGET_SYSTEM_AUDIO)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "target type %d: use PROCESS or SYSTEM_AUDIO here, or Configure with a device id",
                           (int)type);
    uint32_t pid = target_info->TARGETHANDLE.process_id;
    if (type == MINIAV_LOOPBACK_TARGET_PROCESS && !pid)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "process id 0: pass the id of a process that plays sound");
    MiniAVDeviceInfo *targets;
    uint32_t n;
    MiniAVResultCode r = miniav_enumerate(LOOPBACK, type, false, &targets, &n);
    if (r) return r;
    char id[256] = "";
    for (uint32_t i = 0; i < n && !id[0]; i++)
        if (type == MINIAV_LOOPBACK_TARGET_SYSTEM_AUDIO || targets[i].process_id == pid)
            miniav_copy_string(id, sizeof id, targets[i].device_id);
    MiniAV_FreeDeviceList(targets, n);
    /* Not playing now, or not listable: a backend may capture a process tree whatever it does. */
    for (size_t i = 0; type == MINIAV_LOOPBACK_TARGET_PROCESS && !id[0] && miniav_loopback_backends[i]; i++) {
        const miniav_backend *b = miniav_loopback_backends[i];
        if (b->process_target_id && miniav_backend_usable(LOOPBACK, b) && !b->process_target_id(pid, id, sizeof id)) id[0] = '\0';
    }
    if (!id[0]) {
        if (type == MINIAV_LOOPBACK_TARGET_SYSTEM_AUDIO)
            return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "no loopback backend offers the system mix here");
        return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND,
                           "process %u plays no sound now (it must have an open playback stream); list the playing ones with EnumerateTargets",
                           pid);
    }
    if (strlen(id) >= id_size) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "id_out has %zu bytes; the id needs %zu", id_size, strlen(id) + 1);
    memcpy(id_out, id, strlen(id) + 1);
    return MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_Loopback_ConfigureWithTargetInfo(MiniAVLoopbackContextHandle context, const MiniAVLoopbackTargetInfo *target_info,
                                                         const MiniAVAudioInfo *format) {
    miniav_clear_error();
    MiniAVResultCode r = miniav_stream_check(context, LOOPBACK);
    if (r) return r;
    char id[256];
    r = MiniAV_Loopback_GetTargetId(target_info, id, sizeof id);
    return r ? r : MiniAV_Loopback_Configure(context, id, format);
}

MiniAVResultCode MiniAV_Loopback_GetConfiguredFormat(MiniAVLoopbackContextHandle context, MiniAVAudioInfo *format_out) {
    miniav_clear_error();
    MiniAVResultCode r = miniav_stream_check(context, LOOPBACK);
    if (r) return r;
    if (!format_out) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "format_out must not be NULL");
    if (!context->base.configured) return miniav_fail(MINIAV_ERROR_NOT_INITIALIZED, "configure the loopback context first");
    *format_out = context->base.audio;
    return MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_Loopback_StartCapture(MiniAVLoopbackContextHandle context, MiniAVBufferCallback callback, void *user_data) {
    miniav_clear_error();
    return miniav_stream_start((miniav_stream *)context, LOOPBACK, callback, user_data);
}

MiniAVResultCode MiniAV_Loopback_StopCapture(MiniAVLoopbackContextHandle context) {
    miniav_clear_error();
    return miniav_stream_stop((miniav_stream *)context, LOOPBACK);
}
