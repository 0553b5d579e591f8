/* WASAPI backends under Wine against the project's PulseAudio rig (scripts/rigs/wine.sh):
 * the default capture endpoint is the rig's microphone (a 660 Hz sine, amplitude 0.5,
 * MINIAV_RIG_PULSE_MIC_HZ), measured in frequency; exact buffer sizes (10 and 20 ms) and
 * sample-accurate timestamps in f32/s16, mono/stereo; bad ids and formats; loopback
 * targets (the system mix, the rig's sink), loopback of a 440 Hz tone this test plays into
 * the default output through WASAPI (or a clear error, never a hang); per-process loopback
 * (NOT_SUPPORTED before Windows 10 build 20348, which is what Wine reports).
 * Prints the arrival gaps of the buffers (p50/p99) for the record.
 * usage: test_wasapi   (exit 77 = skipped: no WASAPI endpoints) */
#ifndef COBJMACROS
#define COBJMACROS
#endif
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <audioclient.h>
#include <mmdeviceapi.h>

#include "miniav.h"
#include "check.h"
#include "audio_check.h"

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static double mic_hz = 660;
static bool is_wine;

/* ------------------------------------------------------------------ a stream that records channel 0 */

#define MAX_ARRIVALS 1024
/* How far a buffer's end may be dated after its arrival: Wine stamps packets when it reads
 * them and hands PulseAudio's 20 ms chunks over in 10 ms packets, so the first packet's
 * capture time (the anchor of the sample clock) is known to about a chunk. */
#define EARLY_SLACK_US 12000

typedef struct {
    audio_recorder a;
    uint32_t want_channels;
    MiniAVAudioFormat want_format;
    int wrong_format, early;
    int64_t min_latency, max_latency;
    int64_t arrivals[MAX_ARRIVALS];
} recorder;

static void on_buffer(const MiniAVBuffer *b, void *user) {
    recorder *rec = user;
    int64_t now = MiniAV_GetTimeUs();
    int n = atomic_load(&rec->a.buffers);
    __typeof__(b->data.audio) const *a = &b->data.audio;
    if (a->channel_count != rec->want_channels || a->format != rec->want_format || a->sample_rate != rec->a.rate ||
        b->data_size_bytes != (size_t)a->frame_count * a->channel_count * (a->format == MINIAV_AUDIO_FORMAT_F32 ? 4 : 2))
        rec->wrong_format++;
    /* Dated when captured: the end of the buffer is not after its arrival (1 ms of slack). */
    int64_t latency = now - (b->timestamp_us + (int64_t)a->frame_count * 1000000 / rec->a.rate);
    if (latency < -EARLY_SLACK_US) rec->early++;
    if (n == 0 || latency < rec->min_latency) rec->min_latency = latency;
    if (n == 0 || latency > rec->max_latency) rec->max_latency = latency;
    if (n < MAX_ARRIVALS) rec->arrivals[n] = now;
    /* +-2 us: rounding and the 1 us per buffer of clock correction. */
    audio_recorder_add(&rec->a, b, 2.0);
}

static void on_event(MiniAVStreamEventType e, MiniAVResultCode code, const char *message, void *user) {
    recorder *rec = user;
    fprintf(stderr, "event %d (%s): %s\n", (int)e, MiniAV_GetErrorName(code), message);
    if (e == MINIAV_EVENT_ENDED || e == MINIAV_EVENT_ERROR) atomic_store(&rec->a.ended, 1);
}

static int by_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Arrival gaps between consecutive buffers, p50 and p99, in ms. */
static void print_gaps(const char *what, const recorder *rec) {
    int n = atomic_load(&rec->a.buffers);
    if (n > MAX_ARRIVALS) n = MAX_ARRIVALS;
    if (n < 3) return;
    int64_t gaps[MAX_ARRIVALS];
    for (int i = 1; i < n; i++) gaps[i - 1] = rec->arrivals[i] - rec->arrivals[i - 1];
    qsort(gaps, (size_t)n - 1, sizeof gaps[0], by_int64);
    printf("%s: %d buffers, arrival gap p50 %.2f ms p99 %.2f ms max %.2f ms; arrival - end of buffer %.2f..%.2f ms\n", what, n,
           gaps[(n - 1) / 2] / 1000.0, gaps[(n - 1) * 99 / 100] / 1000.0, gaps[n - 2] / 1000.0, rec->min_latency / 1000.0,
           rec->max_latency / 1000.0);
}

static char last_message[512]; /* of the last failed record(): destroy clears the thread's */

static void *record(audio_kind k, const char *id, MiniAVAudioFormat format, uint32_t rate, uint32_t channels, uint32_t frames, recorder *rec,
                    double seconds, MiniAVResultCode *result) {
    memset(rec, 0, sizeof *rec);
    void *ctx = NULL;
    MiniAVAudioInfo f = {rate, channels, format, frames}, got;
    MiniAVResultCode r = audio_configure(k, id, &f, &ctx, &got);
    if (result) *result = r;
    if (!result) CHECK_EQ_INT(r, MINIAV_SUCCESS);
    if (r) goto failed;
    CHECK(!strcmp(MiniAV_Stream_GetBackendName(ctx), "wasapi"));
    audio_expect(&rec->a, &got, rate, channels, format, frames);
    rec->want_channels = got.channel_count;
    rec->want_format = got.format;
    MiniAV_Stream_SetEventCallback(ctx, on_event, rec);
    int64_t t0 = MiniAV_GetTimeUs();
    r = audio_start(k, ctx, on_buffer, rec);
    if (result) *result = r;
    if (!result) CHECK_EQ_INT(r, MINIAV_SUCCESS);
    if (r) goto failed;
    unsigned want = (unsigned)(seconds * got.sample_rate);
    WAIT_FOR(atomic_load(&rec->a.count) >= want || atomic_load(&rec->a.ended), (long)(seconds * 1000) + 3000);
    CHECK(atomic_load(&rec->a.count) >= want);
    CHECK(llabs(rec->a.first_timestamp - t0) < 1000000); /* on MiniAV's clock */
    return ctx;
failed:
    snprintf(last_message, sizeof last_message, "%s", MiniAV_GetLastErrorMessage());
    if (r) fprintf(stderr, "  %s: %s: %s\n", id, MiniAV_GetErrorName(r), last_message);
    if (ctx) audio_destroy(k, ctx);
    return NULL;
}

static void finish(audio_kind k, void *ctx, recorder *rec) {
    if (!ctx) return;
    CHECK_EQ_INT(audio_stop(k, ctx), MINIAV_SUCCESS);
    MiniAVStats stats;
    if (!MiniAV_Stream_GetStats(ctx, &stats)) printf("  stats: delivered %llu dropped %llu\n", (unsigned long long)stats.delivered, (unsigned long long)stats.dropped);
    CHECK_EQ_INT(audio_destroy(k, ctx), MINIAV_SUCCESS);
    if (rec->a.held) CHECK_EQ_INT(MiniAV_ReleaseBuffer(rec->a.held), MINIAV_SUCCESS);
    CHECK_EQ_INT(rec->a.wrong_frames, 0);
    CHECK_EQ_INT(rec->wrong_format, 0);
    CHECK_EQ_INT(rec->a.bad_timestamps, 0);
    CHECK_EQ_INT(rec->a.sequence_gaps, 0);
    CHECK_EQ_INT(rec->early, 0);
}

/* ------------------------------------------------------------------ a tone into the default output (WASAPI render) */

static const GUID CLSID_Enumerator = {0xbcde0395, 0xe52f, 0x467c, {0x8e, 0x3d, 0xc4, 0x57, 0x92, 0x91, 0x69, 0x2e}};
static const GUID IID_Enumerator = {0xa95664d2, 0x9614, 0x4f35, {0xa7, 0x46, 0xde, 0x8d, 0xb6, 0x36, 0x17, 0xe6}};
static const GUID IID_Client = {0x1cb9ad4c, 0xdbfa, 0x4c32, {0xb1, 0x78, 0xc2, 0xf5, 0x68, 0xa7, 0x03, 0xb2}};
static const GUID IID_Render = {0xf294acfc, 0x3146, 0x4483, {0xa7, 0xbf, 0xad, 0xdc, 0xa7, 0xc2, 0x60, 0xe2}};

typedef struct {
    HANDLE thread;
    atomic_int stop, playing;
    double hz;
} tone;

/* Plays hz (amplitude 0.5, every channel) in the mix format, float or 16-bit. */
static DWORD WINAPI tone_thread(void *arg) {
    tone *t = arg;
    CoInitializeEx(NULL, COINIT_MULTITHREADED);
    IMMDeviceEnumerator *en = NULL;
    IMMDevice *dev = NULL;
    IAudioClient *client = NULL;
    IAudioRenderClient *render = NULL;
    WAVEFORMATEX *wf = NULL;
    UINT32 size = 0;
    double phase = 0;
    if (FAILED(CoCreateInstance(&CLSID_Enumerator, NULL, CLSCTX_ALL, &IID_Enumerator, (void **)&en)) ||
        FAILED(IMMDeviceEnumerator_GetDefaultAudioEndpoint(en, eRender, eConsole, &dev)) ||
        FAILED(IMMDevice_Activate(dev, &IID_Client, CLSCTX_ALL, NULL, (void **)&client)) || FAILED(IAudioClient_GetMixFormat(client, &wf)) ||
        FAILED(IAudioClient_Initialize(client, AUDCLNT_SHAREMODE_SHARED, 0, 1000000, 0, wf, NULL)) ||
        FAILED(IAudioClient_GetBufferSize(client, &size)) || FAILED(IAudioClient_GetService(client, &IID_Render, (void **)&render))) {
        fprintf(stderr, "tone: cannot play into the default output\n");
        goto done;
    }
    bool is_float = wf->wBitsPerSample == 32; /* the mix format is float (or 16-bit PCM) */
    for (bool started = false; !atomic_load(&t->stop);) {
        UINT32 padding = 0;
        BYTE *data;
        if (SUCCEEDED(IAudioClient_GetCurrentPadding(client, &padding)) && size > padding &&
            SUCCEEDED(IAudioRenderClient_GetBuffer(render, size - padding, &data))) {
            for (UINT32 i = 0; i < size - padding; i++, phase += 6.283185307179586 * t->hz / wf->nSamplesPerSec) {
                double v = 0.5 * sin(phase);
                for (int c = 0; c < wf->nChannels; c++) {
                    if (is_float) ((float *)data)[i * wf->nChannels + c] = (float)v;
                    else ((int16_t *)data)[i * wf->nChannels + c] = (int16_t)(v * 32767);
                }
            }
            IAudioRenderClient_ReleaseBuffer(render, size - padding, 0);
        }
        if (!started) {
            IAudioClient_Start(client);
            started = true;
            atomic_store(&t->playing, 1);
        }
        Sleep(10);
    }
    IAudioClient_Stop(client);
done:
    atomic_store(&t->playing, -1 + atomic_load(&t->playing) * 2); /* 1 stays 1, 0 becomes -1 */
    CoTaskMemFree(wf);
    if (render) IAudioRenderClient_Release(render);
    if (client) IAudioClient_Release(client);
    if (dev) IMMDevice_Release(dev);
    if (en) IMMDeviceEnumerator_Release(en);
    CoUninitialize();
    return 0;
}

static bool tone_start(tone *t, double hz) {
    memset(t, 0, sizeof *t);
    t->hz = hz;
    t->thread = CreateThread(NULL, 0, tone_thread, t, 0, NULL);
    WAIT_FOR(atomic_load(&t->playing) != 0, 3000);
    return atomic_load(&t->playing) == 1;
}

static void tone_stop(tone *t) {
    if (!t->thread) return;
    atomic_store(&t->stop, 1);
    WaitForSingleObject(t->thread, 5000);
    CloseHandle(t->thread);
    t->thread = NULL;
}

/* ------------------------------------------------------------------ tests */

static char default_id[256];

/* 0 = no WASAPI inputs (skip). */
static int test_enumerate(void) {
    MiniAVDeviceInfo *devs;
    uint32_t n;
    CHECK(strstr(MiniAV_GetBackendNames(MINIAV_DEVICE_TYPE_AUDIO), "wasapi") != NULL);
    CHECK(strstr(MiniAV_GetBackendNames(MINIAV_DEVICE_TYPE_LOOPBACK), "wasapi") != NULL);
    CHECK_EQ_INT(MiniAV_Audio_EnumerateDevices(&devs, &n), MINIAV_SUCCESS);
    int count = 0, defaults = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (strncmp(devs[i].device_id, "wasapi:", 7)) continue;
        count++;
        printf("  input %s '%s'%s\n", devs[i].device_id, devs[i].name, devs[i].is_default ? " (default)" : "");
        CHECK(!strcmp(devs[i].backend, "wasapi"));
        CHECK(devs[i].name[0]);
        if (devs[i].is_default) {
            defaults++;
            snprintf(default_id, sizeof default_id, "%s", devs[i].device_id);
        }
    }
    MiniAV_FreeDeviceList(devs, n);
    if (!count) return 0;
    CHECK_EQ_INT(defaults, 1);

    MiniAVAudioInfo *formats;
    CHECK_EQ_INT(MiniAV_Audio_GetSupportedFormats(default_id, &formats, &n), MINIAV_SUCCESS);
    int f32 = 0, s16_mono = 0;
    for (uint32_t i = 0; i < n; i++) {
        f32 |= formats[i].format == MINIAV_AUDIO_FORMAT_F32;
        s16_mono |= formats[i].format == MINIAV_AUDIO_FORMAT_S16 && formats[i].channel_count == 1;
        CHECK_EQ_INT(formats[i].buffer_frames, formats[i].sample_rate / 100);
    }
    CHECK(n > 0 && f32 && s16_mono);
    if (n) printf("  formats: %u, first %u Hz %u ch\n", n, formats[0].sample_rate, formats[0].channel_count);
    MiniAV_FreeFormatList(formats, n);
    return count;
}

static void test_microphone(MiniAVAudioFormat format, uint32_t channels, uint32_t frames) {
    static recorder rec;
    void *ctx = record(AUDIO_INPUT, default_id, format, 48000, channels, frames, &rec, 1.5, NULL);
    if (!ctx) return;
    unsigned from = rec.a.rate / 5, to = atomic_load(&rec.a.count);
    double hz = audio_frequency_median(rec.a.samples, from, to, rec.a.rate), amplitude = audio_peak(rec.a.samples, from, to);
    char what[96];
    snprintf(what, sizeof what, "mic %s %u ch %u frames", format == MINIAV_AUDIO_FORMAT_F32 ? "f32" : "s16", channels, frames);
    printf("%s: %.1f Hz (want %.0f +-2%%), peak %.3f\n", what, hz, mic_hz, amplitude);
    print_gaps(what, &rec);
    CHECK(fabs(hz - mic_hz) <= mic_hz * 0.02);
    CHECK(amplitude > 0.3 && amplitude < 0.7);
    finish(AUDIO_INPUT, ctx, &rec);
}

/* Another rate than the mix format's: the engine converts (AUTOCONVERTPCM), or configure
 * says FORMAT_NOT_SUPPORTED naming the device's rate. */
static void test_other_rate(void) {
    static recorder rec;
    MiniAVResultCode r;
    void *ctx = record(AUDIO_INPUT, default_id, MINIAV_AUDIO_FORMAT_F32, 44100, 1, 441, &rec, 1.0, &r);
    if (!ctx) {
        CHECK_EQ_INT(r, MINIAV_ERROR_FORMAT_NOT_SUPPORTED);
        CHECK(strstr(last_message, "Hz") != NULL);
        printf("mic at 44100 Hz: %s\n", last_message);
        return;
    }
    unsigned from = rec.a.rate / 5, to = atomic_load(&rec.a.count);
    double hz = audio_frequency_median(rec.a.samples, from, to, rec.a.rate);
    printf("mic f32 1 ch 441 frames at 44100 Hz (engine conversion): %.1f Hz\n", hz);
    CHECK(fabs(hz - mic_hz) <= mic_hz * 0.02);
    finish(AUDIO_INPUT, ctx, &rec);
}

/* No format: the mix format's rate and channels, f32, 10 ms; started twice. */
static void test_defaults_restart(void) {
    MiniAVAudioContextHandle ctx;
    MiniAVAudioInfo got;
    static recorder rec;
    CHECK_EQ_INT(MiniAV_Audio_CreateContext(&ctx), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Audio_Configure(ctx, default_id, NULL), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Audio_GetConfiguredFormat(ctx, &got), MINIAV_SUCCESS);
    CHECK_EQ_INT(got.format, MINIAV_AUDIO_FORMAT_F32);
    CHECK_EQ_INT(got.buffer_frames, got.sample_rate / 100);
    CHECK(got.channel_count >= 1 && got.channel_count <= 8);
    for (int round = 0; round < 2; round++) {
        memset(&rec, 0, sizeof rec);
        rec.a.want_frames = got.buffer_frames, rec.want_channels = got.channel_count, rec.want_format = got.format, rec.a.rate = got.sample_rate;
        CHECK_EQ_INT(MiniAV_Audio_StartCapture(ctx, on_buffer, &rec), MINIAV_SUCCESS);
        WAIT_FOR(atomic_load(&rec.a.buffers) >= 20, 3000);
        CHECK(atomic_load(&rec.a.buffers) >= 20);
        CHECK_EQ_INT(MiniAV_Audio_StopCapture(ctx), MINIAV_SUCCESS);
        if (rec.a.held) CHECK_EQ_INT(MiniAV_ReleaseBuffer(rec.a.held), MINIAV_SUCCESS);
        CHECK_EQ_INT(rec.a.wrong_frames + rec.wrong_format + rec.a.bad_timestamps, 0);
    }
    CHECK_EQ_INT(MiniAV_Audio_DestroyContext(ctx), MINIAV_SUCCESS);
}

static void test_bad_input(void) {
    MiniAVAudioContextHandle ctx;
    MiniAVAudioInfo f = {48000, 2, MINIAV_AUDIO_FORMAT_F32, 480};
    CHECK_EQ_INT(MiniAV_Audio_CreateContext(&ctx), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Audio_Configure(ctx, "wasapi:{0.0.1.00000000}.{no-such-endpoint}", &f), MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK(strstr(MiniAV_GetLastErrorMessage(), "EnumerateDevices") != NULL);
    CHECK_EQ_INT(MiniAV_Audio_Configure(ctx, "wasapi:", &f), MINIAV_ERROR_DEVICE_NOT_FOUND);
    MiniAVAudioInfo bad_rate = {7000, 2, MINIAV_AUDIO_FORMAT_F32, 0}, bad_channels = {48000, 9, MINIAV_AUDIO_FORMAT_F32, 0},
                    bad_format = {48000, 2, (MiniAVAudioFormat)99, 0}, bad_frames = {48000, 2, MINIAV_AUDIO_FORMAT_F32, 48001};
    MiniAVResultCode r = MiniAV_Audio_Configure(ctx, default_id, &bad_rate);
    CHECK(r == MINIAV_ERROR_INVALID_ARG || r == MINIAV_ERROR_FORMAT_NOT_SUPPORTED);
    r = MiniAV_Audio_Configure(ctx, default_id, &bad_channels);
    CHECK(r == MINIAV_ERROR_INVALID_ARG || r == MINIAV_ERROR_FORMAT_NOT_SUPPORTED);
    r = MiniAV_Audio_Configure(ctx, default_id, &bad_format);
    CHECK(r == MINIAV_ERROR_INVALID_ARG || r == MINIAV_ERROR_FORMAT_NOT_SUPPORTED);
    r = MiniAV_Audio_Configure(ctx, default_id, &bad_frames);
    CHECK(r == MINIAV_ERROR_INVALID_ARG || r == MINIAV_ERROR_FORMAT_NOT_SUPPORTED);
    /* A render endpoint's id is not an input. */
    MiniAVDeviceInfo *devs;
    uint32_t n;
    if (!MiniAV_Loopback_EnumerateTargets(MINIAV_LOOPBACK_TARGET_DEVICE, &devs, &n)) {
        for (uint32_t i = 0; i < n; i++)
            if (!strncmp(devs[i].device_id, "wasapi:loopback:", 16)) {
                char id[300];
                snprintf(id, sizeof id, "wasapi:%s", devs[i].device_id + 16);
                CHECK_EQ_INT(MiniAV_Audio_Configure(ctx, id, &f), MINIAV_ERROR_DEVICE_NOT_FOUND);
                CHECK(strstr(MiniAV_GetLastErrorMessage(), "Loopback") != NULL);
                break;
            }
        MiniAV_FreeDeviceList(devs, n);
    }
    CHECK_EQ_INT(MiniAV_Audio_DestroyContext(ctx), MINIAV_SUCCESS);
}

static void test_loopback(void) {
    MiniAVDeviceInfo *devs;
    uint32_t n;
    CHECK_EQ_INT(MiniAV_Loopback_EnumerateTargets(MINIAV_LOOPBACK_TARGET_NONE, &devs, &n), MINIAV_SUCCESS);
    int system = 0, devices = 0, rig_sink = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (strncmp(devs[i].device_id, "wasapi:", 7)) continue;
        printf("  loopback %s '%s'%s pid %u\n", devs[i].device_id, devs[i].name, devs[i].is_default ? " (default)" : "", devs[i].process_id);
        if (!strcmp(devs[i].device_id, "wasapi:loopback:default")) {
            system++;
            CHECK(devs[i].is_default);
        } else if (!strncmp(devs[i].device_id, "wasapi:loopback:", 16)) devices++, rig_sink += strstr(devs[i].name, "MiniAV-Rig-Speakers") != NULL;
    }
    MiniAV_FreeDeviceList(devs, n);
    /* Under Wine the system mix (the "PulseAudio" alias of the default sink, which has no
     * monitor endpoint) is not listed: only what can be captured is. */
    if (!is_wine) CHECK_EQ_INT(system, 1);
    CHECK(devices >= 1);
    CHECK_EQ_INT(rig_sink, 1);

    /* The system mix: data, or (Wine: its default output "PulseAudio" is an alias of
     * PulseAudio's default sink, with no monitor endpoint of that name) a clear error. */
    static recorder rec;
    MiniAVResultCode r;
    void *ctx = record(LOOPBACK, "wasapi:loopback:default", MINIAV_AUDIO_FORMAT_F32, 48000, 2, 480, &rec, 0.5, &r);
    if (ctx) finish(LOOPBACK, ctx, &rec);
    else CHECK(is_wine && r == MINIAV_ERROR_NOT_SUPPORTED && strlen(last_message) > 20);

    /* The rig's sink (the default output): silence first, buffers at their period; then a
     * 440 Hz tone this process plays into the default output. */
    char sink_id[256] = "";
    CHECK_EQ_INT(MiniAV_Loopback_EnumerateTargets(MINIAV_LOOPBACK_TARGET_DEVICE, &devs, &n), MINIAV_SUCCESS);
    for (uint32_t i = 0; i < n; i++)
        if (strstr(devs[i].name, "MiniAV-Rig-Speakers")) snprintf(sink_id, sizeof sink_id, "%s", devs[i].device_id);
    MiniAV_FreeDeviceList(devs, n);
    ctx = record(LOOPBACK, sink_id, MINIAV_AUDIO_FORMAT_F32, 48000, 2, 480, &rec, 0.5, NULL);
    if (ctx) {
        printf("loopback (silence): peak %.3f\n", audio_peak(rec.a.samples, 0, atomic_load(&rec.a.count)));
        print_gaps("loopback silence f32 2 ch 480 frames", &rec);
        CHECK(audio_peak(rec.a.samples, 0, atomic_load(&rec.a.count)) < 0.01);
        finish(LOOPBACK, ctx, &rec);
    }
    tone t;
    bool playing = tone_start(&t, 440);
    CHECK(playing);
    ctx = record(LOOPBACK, sink_id, MINIAV_AUDIO_FORMAT_S16, 48000, 1, 960, &rec, 1.5, NULL);
    if (ctx) {
        unsigned from = rec.a.rate / 2, to = atomic_load(&rec.a.count);
        double hz = audio_frequency_median(rec.a.samples, from, to, rec.a.rate), amplitude = audio_peak(rec.a.samples, from, to);
        printf("loopback s16 mono 960 frames: %.1f Hz (want 440 +-2%%), peak %.3f\n", hz, amplitude);
        print_gaps("loopback tone s16 1 ch 960 frames", &rec);
        CHECK(fabs(hz - 440) <= 440 * 0.02);
        CHECK(amplitude > 0.3 && amplitude < 0.7);
        finish(LOOPBACK, ctx, &rec);
    }

    /* Per process: this process plays; Wine says Windows 10 build 19043 or so -> NOT_SUPPORTED
     * naming the build needed; on Windows 10 20348+ it captures the tone. */
    MiniAVLoopbackContextHandle lctx;
    CHECK_EQ_INT(MiniAV_Loopback_CreateContext(&lctx), MINIAV_SUCCESS);
    char id[64];
    snprintf(id, sizeof id, "wasapi:process:%lu", (unsigned long)GetCurrentProcessId());
    r = MiniAV_Loopback_Configure(lctx, id, NULL);
    printf("process loopback %s: %s: %s\n", id, MiniAV_GetErrorName(r), r ? MiniAV_GetLastErrorMessage() : "");
    OSVERSIONINFOW v = {.dwOSVersionInfoSize = sizeof v};
    LONG(WINAPI * get_version)(OSVERSIONINFOW *) = (LONG(WINAPI *)(OSVERSIONINFOW *))(void (*)(void))GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "RtlGetVersion");
    bool new_enough = get_version && !get_version(&v) && v.dwMajorVersion >= 10 && v.dwBuildNumber >= 20348;
    if (!new_enough) {
        CHECK_EQ_INT(r, MINIAV_ERROR_NOT_SUPPORTED);
        CHECK(strstr(MiniAV_GetLastErrorMessage(), "20348") != NULL);
    } else {
        CHECK(r == MINIAV_SUCCESS || r == MINIAV_ERROR_SYSTEM_CALL_FAILED);
    }
    MiniAVLoopbackTargetInfo target = {.type = MINIAV_LOOPBACK_TARGET_PROCESS, .TARGETHANDLE.process_id = (uint32_t)GetCurrentProcessId()};
    r = MiniAV_Loopback_ConfigureWithTargetInfo(lctx, &target, NULL);
    printf("process loopback by target info: %s: %s\n", MiniAV_GetErrorName(r), r ? MiniAV_GetLastErrorMessage() : "");
    if (!new_enough) CHECK(r == MINIAV_ERROR_NOT_SUPPORTED || r == MINIAV_ERROR_DEVICE_NOT_FOUND); /* not listed when Wine has no sessions */
    CHECK_EQ_INT(MiniAV_Loopback_Configure(lctx, "wasapi:process:notanumber", NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK_EQ_INT(MiniAV_Loopback_Configure(lctx, "wasapi:loopback:{no-such-endpoint}", NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK_EQ_INT(MiniAV_Loopback_Configure(lctx, "wasapi:nonsense", NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK_EQ_INT(MiniAV_Loopback_DestroyContext(lctx), MINIAV_SUCCESS);
    tone_stop(&t);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *hz = getenv("MINIAV_RIG_PULSE_MIC_HZ");
    if (hz && atof(hz) > 0) mic_hz = atof(hz);
    is_wine = GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "wine_get_version") != NULL;
    if (getenv("MINIAV_TEST_VERBOSE")) MiniAV_SetLogLevel(MINIAV_LOG_LEVEL_DEBUG);
    if (!test_enumerate()) {
        printf("skipped: no WASAPI audio inputs\n");
        return getenv("MINIAV_REQUIRE_RIGS") ? 1 : 77;
    }
    test_microphone(MINIAV_AUDIO_FORMAT_F32, 1, 480);
    test_microphone(MINIAV_AUDIO_FORMAT_S16, 2, 960);
    test_microphone(MINIAV_AUDIO_FORMAT_F32, 2, 960);
    test_microphone(MINIAV_AUDIO_FORMAT_S16, 1, 480);
    test_other_rate();
    test_defaults_restart();
    test_bad_input();
    test_loopback();
    TEST_DONE();
}
