/* Public API behaviour: enumeration, argument errors with codes and messages,
 * lifecycle errors, backends, logging, clock, dlopen helper. */
#define _GNU_SOURCE
#include "miniav.h"
#include "common/miniav_internal.h"
#include "check.h"

#include <stdatomic.h>
#include <string.h>

static int log_lines;
static void on_log(MiniAVLogLevel level, const char *message, void *user) {
    (void)level;
    (void)user;
    if (strstr(message, "MINIAV_ERROR_DEVICE_NOT_FOUND")) log_lines++;
}

/* Devices of the test-pattern backend only: real backends (an X server in the test
 * rig, for one) may list more. */
static uint32_t test_patterns(const MiniAVDeviceInfo *devs, uint32_t n) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) k += !strcmp(devs[i].backend, "test-pattern");
    return k;
}

static void test_enumerate(void) {
    MiniAVDeviceInfo *devs;
    uint32_t n;
    unsetenv("MINIAV_FAKE_DEVICES");
    CHECK_EQ_INT(MiniAV_Camera_EnumerateDevices(&devs, &n), MINIAV_SUCCESS);
    CHECK_EQ_INT(n, 0);
    MiniAV_FreeDeviceList(devs, n);
    setenv("MINIAV_FAKE_DEVICES", "1", 1);
    CHECK_EQ_INT(MiniAV_Camera_EnumerateDevices(&devs, &n), MINIAV_SUCCESS);
    CHECK_EQ_INT(n, 1);
    if (n) {
        CHECK(!strcmp(devs[0].device_id, "test-pattern"));
        CHECK(!strcmp(devs[0].backend, "test-pattern"));
        CHECK(devs[0].is_default);
        CHECK_EQ_INT(devs[0].type, MINIAV_DEVICE_TYPE_CAMERA);
    }
    MiniAV_FreeDeviceList(devs, n);
    CHECK_EQ_INT(MiniAV_Screen_EnumerateDisplays(&devs, &n), MINIAV_SUCCESS);
    CHECK_EQ_INT(test_patterns(devs, n), 1);
    if (n) CHECK_EQ_INT(devs[n - 1].width, 1920);
    MiniAV_FreeDeviceList(devs, n);
    CHECK_EQ_INT(MiniAV_Screen_EnumerateWindows(&devs, &n), MINIAV_SUCCESS);
    CHECK_EQ_INT(test_patterns(devs, n), 0);
    MiniAV_FreeDeviceList(devs, n);
    CHECK_EQ_INT(MiniAV_Audio_EnumerateDevices(&devs, &n), MINIAV_SUCCESS);
    CHECK_EQ_INT(test_patterns(devs, n), 1);
    MiniAV_FreeDeviceList(devs, n);
    CHECK_EQ_INT(MiniAV_Loopback_EnumerateTargets(MINIAV_LOOPBACK_TARGET_SYSTEM_AUDIO, &devs, &n), MINIAV_SUCCESS);
    CHECK_EQ_INT(test_patterns(devs, n), 1);
    MiniAV_FreeDeviceList(devs, n);
    CHECK_EQ_INT(MiniAV_Loopback_EnumerateTargets(MINIAV_LOOPBACK_TARGET_PROCESS, &devs, &n), MINIAV_SUCCESS);
    CHECK_EQ_INT(test_patterns(devs, n), 0);
    MiniAV_FreeDeviceList(devs, n);
    CHECK_EQ_INT(MiniAV_Loopback_EnumerateTargets((MiniAVLoopbackTargetType)99, &devs, &n), MINIAV_ERROR_INVALID_ARG);

    MiniAVVideoFormatInfo *vf;
    CHECK_EQ_INT(MiniAV_Camera_GetSupportedFormats("test-pattern", &vf, &n), MINIAV_SUCCESS);
    CHECK(n > 10);
    MiniAV_FreeFormatList(vf, n);
    MiniAVAudioInfo *af;
    CHECK_EQ_INT(MiniAV_Audio_GetSupportedFormats("test-pattern", &af, &n), MINIAV_SUCCESS);
    CHECK(n > 10);
    MiniAV_FreeFormatList(af, n);
    CHECK_EQ_INT(MiniAV_Camera_GetSupportedFormats("nope", &vf, &n), MINIAV_ERROR_DEVICE_NOT_FOUND);
}

static MiniAVResultCode configure_camera(const char *id, MiniAVVideoFormatInfo f) {
    MiniAVCameraContextHandle cam;
    MiniAV_Camera_CreateContext(&cam);
    MiniAVResultCode r = MiniAV_Camera_Configure(cam, id, &f);
    char msg[512];
    strcpy(msg, MiniAV_GetLastErrorMessage());
    MiniAV_Camera_DestroyContext(cam);
    if (r) CHECK(strlen(msg) > 10); /* every failure says what to do */
    return r;
}

static void test_bad_video_arguments(void) {
    MiniAVVideoFormatInfo ok = {640, 480, MINIAV_PIXEL_FORMAT_BGRA32, 30, 1, 0, 0};
    CHECK_EQ_INT(configure_camera("test-pattern", ok), MINIAV_SUCCESS);
    CHECK_EQ_INT(configure_camera("no-such-camera", ok), MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK_EQ_INT(configure_camera("", ok), MINIAV_ERROR_INVALID_ARG);
    CHECK_EQ_INT(configure_camera(NULL, ok), MINIAV_ERROR_INVALID_ARG);
    MiniAVVideoFormatInfo f = ok;
    f.width = 7681;
    CHECK_EQ_INT(configure_camera("test-pattern", f), MINIAV_ERROR_INVALID_ARG);
    f = ok, f.height = 0;
    CHECK_EQ_INT(configure_camera("test-pattern", f), MINIAV_ERROR_INVALID_ARG);
    f = ok, f.pixel_format = MINIAV_PIXEL_FORMAT_MJPEG;
    CHECK_EQ_INT(configure_camera("test-pattern", f), MINIAV_ERROR_FORMAT_NOT_SUPPORTED);
    f = ok, f.pixel_format = (MiniAVPixelFormat)1000;
    CHECK_EQ_INT(configure_camera("test-pattern", f), MINIAV_ERROR_INVALID_ARG);
    f = ok, f.frame_rate_numerator = 5000;
    CHECK_EQ_INT(configure_camera("test-pattern", f), MINIAV_ERROR_INVALID_ARG);
    f = ok, f.frame_rate_numerator = 0, f.frame_rate_denominator = 1;
    CHECK_EQ_INT(configure_camera("test-pattern", f), MINIAV_ERROR_INVALID_ARG);
    f = ok, f.output_preference = MINIAV_OUTPUT_PREFERENCE_GPU; /* falls back to CPU */
    CHECK_EQ_INT(configure_camera("test-pattern", f), MINIAV_SUCCESS);
}

static void test_bad_audio_arguments(void) {
    MiniAVAudioContextHandle a;
    MiniAV_Audio_CreateContext(&a);
    MiniAVAudioInfo f = {48000, 2, MINIAV_AUDIO_FORMAT_F32, 0};
    CHECK_EQ_INT(MiniAV_Audio_Configure(a, "test-pattern", &f), MINIAV_SUCCESS);
    MiniAVAudioInfo got;
    CHECK_EQ_INT(MiniAV_Audio_GetConfiguredFormat(a, &got), MINIAV_SUCCESS);
    CHECK_EQ_INT(got.buffer_frames, 480);
    f.sample_rate = 4000;
    CHECK_EQ_INT(MiniAV_Audio_Configure(a, "test-pattern", &f), MINIAV_ERROR_INVALID_ARG);
    f.sample_rate = 48000, f.channel_count = 9;
    CHECK_EQ_INT(MiniAV_Audio_Configure(a, "test-pattern", &f), MINIAV_ERROR_INVALID_ARG);
    f.channel_count = 2, f.format = MINIAV_AUDIO_FORMAT_S24;
    CHECK_EQ_INT(MiniAV_Audio_Configure(a, "test-pattern", &f), MINIAV_ERROR_FORMAT_NOT_SUPPORTED);
    f.format = MINIAV_AUDIO_FORMAT_F32, f.buffer_frames = 96000;
    CHECK_EQ_INT(MiniAV_Audio_Configure(a, "test-pattern", &f), MINIAV_ERROR_INVALID_ARG);
    CHECK_EQ_INT(MiniAV_Audio_Configure(a, "mic-404", &f), MINIAV_ERROR_DEVICE_NOT_FOUND);
    /* A failed configure leaves the context unconfigured. */
    CHECK_EQ_INT(MiniAV_Audio_StartCapture(a, NULL, NULL), MINIAV_ERROR_NOT_INITIALIZED);
    CHECK_EQ_INT(MiniAV_Audio_DestroyContext(a), MINIAV_SUCCESS);
}

static void test_lifecycle_errors(void) {
    MiniAVCameraContextHandle cam;
    CHECK_EQ_INT(MiniAV_Camera_CreateContext(&cam), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(cam, NULL, NULL), MINIAV_ERROR_NOT_INITIALIZED);
    CHECK_EQ_INT(MiniAV_Camera_StopCapture(cam), MINIAV_ERROR_NOT_RUNNING);
    MiniAVVideoFormatInfo f = {64, 64, MINIAV_PIXEL_FORMAT_I420, 60, 1, 0, 0};
    CHECK_EQ_INT(MiniAV_Camera_Configure(cam, "test-pattern", &f), MINIAV_SUCCESS);
    CHECK(!strcmp(MiniAV_Stream_GetBackendName(cam), "test-pattern"));
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(cam, NULL, NULL), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(cam, NULL, NULL), MINIAV_ERROR_ALREADY_RUNNING);
    CHECK_EQ_INT(MiniAV_Camera_Configure(cam, "test-pattern", &f), MINIAV_ERROR_ALREADY_RUNNING);
    MiniAVStreamOptions o = {0};
    CHECK_EQ_INT(MiniAV_Stream_SetOptions(cam, &o), MINIAV_ERROR_ALREADY_RUNNING);
    CHECK_EQ_INT(MiniAV_Camera_StopCapture(cam), MINIAV_SUCCESS);
    o.drop_policy = (MiniAVDropPolicy)7;
    CHECK_EQ_INT(MiniAV_Stream_SetOptions(cam, &o), MINIAV_ERROR_INVALID_ARG);
    o.drop_policy = MINIAV_DROP_OLDEST, o.pool_size = 1000;
    CHECK_EQ_INT(MiniAV_Stream_SetOptions(cam, &o), MINIAV_ERROR_INVALID_ARG);
    /* A per-stream backend: a known one works, an unknown one is refused by name. */
    MiniAVStreamOptions named = {.pool_size = 2, .backend = "test-pattern"};
    CHECK_EQ_INT(MiniAV_Stream_SetOptions(cam, &named), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Camera_Configure(cam, "test-pattern", &f), MINIAV_SUCCESS);
    MiniAVStreamOptions unknown = {.backend = "v4l9"};
    CHECK_EQ_INT(MiniAV_Stream_SetOptions(cam, &unknown), MINIAV_ERROR_INVALID_ARG);
    CHECK(strstr(MiniAV_GetLastErrorMessage(), "v4l9") != NULL);
    /* A camera handle is not an audio handle. */
    CHECK_EQ_INT(MiniAV_Audio_StopCapture((MiniAVAudioContextHandle)(void *)cam), MINIAV_ERROR_INVALID_HANDLE);
    CHECK_EQ_INT(MiniAV_Camera_DestroyContext(cam), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Camera_DestroyContext(NULL), MINIAV_ERROR_INVALID_HANDLE);
    CHECK_EQ_INT(MiniAV_Camera_CreateContext(NULL), MINIAV_ERROR_INVALID_ARG);
}

static void test_screen(void) {
    MiniAVScreenContextHandle s;
    MiniAV_Screen_CreateContext(&s);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureDisplay(s, "test-pattern", NULL), MINIAV_SUCCESS);
    MiniAVVideoFormatInfo got;
    MiniAV_Screen_GetConfiguredFormat(s, &got);
    CHECK_EQ_INT(got.width, 1920);
    CHECK_EQ_INT(got.height, 1080);
    CHECK_EQ_INT(got.pixel_format, MINIAV_PIXEL_FORMAT_BGRA32);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureRegion(s, "test-pattern", 100, 50, 320, 200, NULL), MINIAV_SUCCESS);
    MiniAV_Screen_GetConfiguredFormat(s, &got);
    CHECK_EQ_INT(got.width, 320);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureRegion(s, "test-pattern", 1800, 0, 320, 200, NULL), MINIAV_ERROR_INVALID_ARG);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureRegion(s, "test-pattern", 0, 0, 0, 200, NULL), MINIAV_ERROR_INVALID_ARG);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureRegion(s, "test-pattern", -5, 0, 10, 10, NULL), MINIAV_ERROR_INVALID_ARG);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureWindow(s, "test-pattern", NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK_EQ_INT(MiniAV_Screen_ConfigureDisplay(s, "test-pattern", NULL), MINIAV_SUCCESS);
    MiniAV_Screen_DestroyContext(s);
}

/* Screen + system audio: the test-pattern screen with the test-pattern system mix (the
 * only system loopback target when no sound server answers), through one callback. */
typedef struct {
    atomic_int video, audio;
    int64_t first_video_ts, first_audio_ts;
} av_count;

static void count_av(const MiniAVBuffer *b, void *user) {
    av_count *c = user;
    if (b->type == MINIAV_BUFFER_TYPE_VIDEO) {
        if (atomic_fetch_add(&c->video, 1) == 0) c->first_video_ts = b->timestamp_us;
    } else if (b->type == MINIAV_BUFFER_TYPE_AUDIO && b->data.audio.frame_count == 480) {
        if (atomic_fetch_add(&c->audio, 1) == 0) c->first_audio_ts = b->timestamp_us;
    }
    MiniAV_ReleaseBuffer(b->internal_handle);
}

static void test_screen_with_audio(void) {
    setenv("PULSE_SERVER", "unix:/nonexistent/miniav-test-api", 1); /* no real sound server here */
    MiniAVScreenContextHandle s;
    MiniAV_Screen_CreateContext(&s);
    MiniAVVideoFormatInfo f = {320, 240, MINIAV_PIXEL_FORMAT_BGRA32, 30, 1, 0, 0};
    CHECK_EQ_INT(MiniAV_Screen_ConfigureDisplay(s, "test-pattern", &f), MINIAV_SUCCESS);
    MiniAVAudioInfo audio = {48000, 2, MINIAV_AUDIO_FORMAT_F32, 480};
    av_count c = {0};
    int64_t t0 = MiniAV_GetTimeUs();
    CHECK_EQ_INT(MiniAV_Screen_StartCapture(s, count_av, &c, &audio), MINIAV_SUCCESS);
    WAIT_FOR(atomic_load(&c.video) >= 3 && atomic_load(&c.audio) >= 5, 3000);
    CHECK_EQ_INT(MiniAV_Screen_StopCapture(s), MINIAV_SUCCESS);
    CHECK(atomic_load(&c.video) >= 3);
    CHECK(atomic_load(&c.audio) >= 5);
    /* One clock: both started within a few hundred ms of t0. */
    CHECK(c.first_video_ts >= t0 - 1000 && c.first_video_ts < t0 + 500000);
    CHECK(c.first_audio_ts >= t0 - 1000 && c.first_audio_ts < t0 + 500000);
    int after = atomic_load(&c.audio);
    sleep_ms(50);
    CHECK_EQ_INT(atomic_load(&c.audio), after); /* the audio stopped with the screen */
    /* Without any system loopback target: a clear NOT_SUPPORTED, and the screen is not left running. */
    unsetenv("MINIAV_FAKE_DEVICES");
    CHECK_EQ_INT(MiniAV_Screen_StartCapture(s, count_av, &c, &audio), MINIAV_ERROR_NOT_SUPPORTED);
    CHECK(strstr(MiniAV_GetLastErrorMessage(), "loopback") != NULL);
    CHECK_EQ_INT(MiniAV_Screen_StopCapture(s), MINIAV_ERROR_NOT_RUNNING);
    setenv("MINIAV_FAKE_DEVICES", "1", 1);
    MiniAV_Screen_DestroyContext(s);
    unsetenv("PULSE_SERVER");
}

static void test_backends_and_log(void) {
    /* Platform backends first (those built here), the test pattern last. */
    const char *cams = MiniAV_GetBackendNames(MINIAV_DEVICE_TYPE_CAMERA);
    size_t len = strlen(cams);
    CHECK(len >= 12 && !strcmp(cams + len - 12, "test-pattern"));
    CHECK_EQ_INT(MiniAV_SetBackend(MINIAV_DEVICE_TYPE_CAMERA, "quantum"), MINIAV_ERROR_INVALID_ARG);
    CHECK(strstr(MiniAV_GetLastErrorMessage(), "test-pattern") != NULL);
    CHECK_EQ_INT(MiniAV_SetBackend(MINIAV_DEVICE_TYPE_CAMERA, "test-pattern"), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_SetBackend(MINIAV_DEVICE_TYPE_CAMERA, NULL), MINIAV_SUCCESS);
    setenv("MINIAV_CAMERA_BACKEND", "quantum", 1);
    MiniAVDeviceInfo *devs;
    uint32_t n;
    CHECK_EQ_INT(MiniAV_Camera_EnumerateDevices(&devs, &n), MINIAV_ERROR_INVALID_ARG);
    unsetenv("MINIAV_CAMERA_BACKEND");

    CHECK_EQ_INT(MiniAV_SetLogCallback(on_log, NULL), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_SetLogLevel(MINIAV_LOG_LEVEL_DEBUG), MINIAV_SUCCESS);
    MiniAVVideoFormatInfo f = {0};
    configure_camera("ghost", f);
    CHECK(log_lines >= 1);
    MiniAV_SetLogLevel(MINIAV_LOG_LEVEL_WARN);
    MiniAV_SetLogCallback(NULL, NULL);
    CHECK_EQ_INT(MiniAV_SetLogLevel((MiniAVLogLevel)42), MINIAV_ERROR_INVALID_ARG);

    CHECK(!strcmp(MiniAV_GetErrorName(MINIAV_ERROR_DEVICE_LOST), "MINIAV_ERROR_DEVICE_LOST"));
    CHECK(!strcmp(MiniAV_GetErrorString(MINIAV_ERROR_DEVICE_NOT_FOUND), "Device not found"));
    CHECK(!strcmp(MiniAV_PixelFormatName(MINIAV_PIXEL_FORMAT_NV12), "nv12"));
    CHECK_EQ_INT(MiniAV_PixelFormatFromName("YUY2"), MINIAV_PIXEL_FORMAT_YUY2);
    CHECK_EQ_INT(MiniAV_AudioFormatFromName("float32"), MINIAV_AUDIO_FORMAT_F32);
    uint32_t a, b, c;
    CHECK_EQ_INT(MiniAV_GetVersion(&a, &b, &c), MINIAV_SUCCESS);
    CHECK(!strcmp(MiniAV_GetVersionString(), "0.1.0"));
    int64_t t0 = MiniAV_GetTimeUs();
    sleep_ms(5);
    CHECK(MiniAV_GetTimeUs() - t0 >= 5000);
}

static double (*cos_fn)(double);
static void test_dynamic_library(void) {
    const char *const missing[] = {"libminiav-does-not-exist.so.9", NULL};
    CHECK(miniav_library_open(missing) == NULL);
#ifdef _WIN32
    const char *const libm[] = {"libminiav-does-not-exist.so.9", "msvcrt.dll", NULL}; /* the C runtime has cos */
#else
    const char *const libm[] = {"libminiav-does-not-exist.so.9", "libm.so.6", NULL};
#endif
    miniav_library *lib = miniav_library_open(libm);
    CHECK(lib != NULL);
    miniav_symbol ok[] = {{"cos", (void **)&cos_fn}};
    CHECK_EQ_INT(miniav_library_load_symbols(lib, ok, 1), MINIAV_SUCCESS);
    CHECK(cos_fn && cos_fn(0.0) == 1.0);
    void *nothing;
    miniav_symbol bad[] = {{"miniav_no_such_symbol", &nothing}};
    CHECK_EQ_INT(miniav_library_load_symbols(lib, bad, 1), MINIAV_ERROR_BACKEND_UNAVAILABLE);
    CHECK(strstr(MiniAV_GetLastErrorMessage(), "miniav_no_such_symbol") != NULL);
    miniav_library_close(lib);
}

/* Argument checks of the screen restore token and of loopback by target info; no server needed. */
static void test_target_arguments(void) {
    MiniAVScreenContextHandle scr;
    MiniAV_Screen_CreateContext(&scr);
    MiniAVScreenOptions o = {.cursor = MINIAV_CURSOR_NONE};
    memset(o.restore_token, 'x', sizeof o.restore_token); /* no NUL */
    CHECK_EQ_INT(MiniAV_Screen_SetOptions(scr, &o), MINIAV_ERROR_INVALID_ARG);
    char token[8];
    CHECK_EQ_INT(MiniAV_Screen_GetRestoreToken(scr, token, sizeof token), MINIAV_ERROR_NOT_INITIALIZED);
    CHECK_EQ_INT(MiniAV_Screen_GetRestoreToken(scr, NULL, 0), MINIAV_ERROR_INVALID_ARG);
    MiniAV_Screen_DestroyContext(scr);

    MiniAVLoopbackContextHandle lb;
    MiniAV_Loopback_CreateContext(&lb);
    CHECK_EQ_INT(MiniAV_Loopback_ConfigureWithTargetInfo(lb, NULL, NULL), MINIAV_ERROR_INVALID_ARG);
    MiniAVLoopbackTargetInfo t = {.type = MINIAV_LOOPBACK_TARGET_PROCESS, .TARGETHANDLE.process_id = 0};
    CHECK_EQ_INT(MiniAV_Loopback_ConfigureWithTargetInfo(lb, &t, NULL), MINIAV_ERROR_INVALID_ARG);
    t.type = MINIAV_LOOPBACK_TARGET_DEVICE;
    CHECK_EQ_INT(MiniAV_Loopback_ConfigureWithTargetInfo(lb, &t, NULL), MINIAV_ERROR_INVALID_ARG);
    t.type = MINIAV_LOOPBACK_TARGET_WINDOW;
    CHECK_EQ_INT(MiniAV_Loopback_ConfigureWithTargetInfo(lb, &t, NULL), MINIAV_ERROR_NOT_SUPPORTED);
    MiniAV_Loopback_DestroyContext(lb);
    /* The resolution alone: the same checks, and the id of the system mix. */
    char id[256];
    CHECK_EQ_INT(MiniAV_Loopback_GetTargetId(NULL, id, sizeof id), MINIAV_ERROR_INVALID_ARG);
    t.type = MINIAV_LOOPBACK_TARGET_SYSTEM_AUDIO;
    CHECK_EQ_INT(MiniAV_Loopback_GetTargetId(&t, NULL, 0), MINIAV_ERROR_INVALID_ARG);
    setenv("MINIAV_LOOPBACK_BACKEND", "test-pattern", 1);
    setenv("MINIAV_FAKE_DEVICES", "1", 1);
    CHECK_EQ_INT(MiniAV_Loopback_GetTargetId(&t, id, sizeof id), MINIAV_SUCCESS);
    CHECK(!strcmp(id, "test-pattern"));
    CHECK_EQ_INT(MiniAV_Loopback_GetTargetId(&t, id, 4), MINIAV_ERROR_INVALID_ARG); /* too small for the id */
    t.type = MINIAV_LOOPBACK_TARGET_PROCESS, t.TARGETHANDLE.process_id = 4242;
    CHECK_EQ_INT(MiniAV_Loopback_GetTargetId(&t, id, sizeof id), MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK(strstr(MiniAV_GetLastErrorMessage(), "4242") != NULL);
    unsetenv("MINIAV_LOOPBACK_BACKEND");
#ifdef _WIN32
    /* WASAPI process loopback takes any process (whether Windows can do it is answered at configure). */
    CHECK_EQ_INT(MiniAV_Loopback_GetTargetId(&t, id, sizeof id), MINIAV_SUCCESS);
    CHECK(!strcmp(id, "wasapi:process:4242"));
#endif
}

int main(void) {
    test_enumerate();
    test_bad_video_arguments();
    test_bad_audio_arguments();
    test_lifecycle_errors();
    test_screen();
    test_screen_with_audio();
    test_backends_and_log();
    test_dynamic_library();
    test_target_arguments();
    TEST_DONE();
}
