/* PulseAudio backends against the project's rig (scripts/rigs/pulse.sh): the rig's
 * microphone (a 660 Hz sine of amplitude 0.5, the default source) measured in frequency
 * and amplitude; exact buffer sizes and sample-accurate timestamps; loopback of the system
 * mix and of one application alone (tones played by pacat clients, so PipeWire's pulse server works too);
 * a captured application that goes away; bad ids and formats.
 * usage: test_pulse   (exit 77 = skipped: no PULSE_SERVER) */
#define _GNU_SOURCE
#include "miniav.h"
#include "check.h"
#include "audio_check.h"

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *mic_name, *sink_name;
static double mic_hz;

/* ------------------------------------------------------------------ a stream that records channel 0 */

typedef audio_recorder recorder;

/* Sample-accurate timestamps: +-1 us of rounding. */
static void on_buffer(const MiniAVBuffer *b, void *user) { audio_recorder_add(user, b, 1.0); }

static void on_event(MiniAVStreamEventType e, MiniAVResultCode code, const char *message, void *user) {
    recorder *rec = user;
    fprintf(stderr, "event %d (%s): %s\n", (int)e, MiniAV_GetErrorName(code), message);
    if (e == MINIAV_EVENT_ENDED) rec->ended_code = code, atomic_store(&rec->ended, 1);
}

/* Amplitude of the component at hz (one DFT bin at exactly hz). */
static double amplitude_at(const float *x, unsigned from, unsigned to, uint32_t rate, double hz) {
    double re = 0, im = 0;
    for (unsigned i = from; i < to; i++) {
        double phase = 2 * M_PI * hz * (i - from) / rate;
        re += x[i] * cos(phase);
        im += x[i] * sin(phase);
    }
    return 2 * sqrt(re * re + im * im) / (to - from);
}

/* Configures and starts; fills the recorder until `seconds` of audio are in. The context
 * is left running (or NULL on failure). */
static void *record(audio_kind k, const char *id, MiniAVAudioFormat format, uint32_t rate, uint32_t channels, uint32_t frames,
                    recorder *rec, double seconds) {
    memset(rec, 0, sizeof *rec);
    void *ctx = NULL;
    MiniAVAudioInfo f = {rate, channels, format, frames}, got;
    MiniAVResultCode r;
    if (k == LOOPBACK && !strncmp(id, "pid:", 4)) { /* by process id, through ConfigureWithTargetInfo */
        MiniAV_Loopback_CreateContext((MiniAVLoopbackContextHandle *)&ctx);
        MiniAVLoopbackTargetInfo target = {.type = MINIAV_LOOPBACK_TARGET_PROCESS, .TARGETHANDLE.process_id = (uint32_t)atoi(id + 4)};
        r = MiniAV_Loopback_ConfigureWithTargetInfo(ctx, &target, &f);
        if (!r) r = MiniAV_Loopback_GetConfiguredFormat(ctx, &got);
    } else {
        r = audio_configure(k, id, &f, &ctx, &got);
    }
    CHECK_EQ_INT(r, MINIAV_SUCCESS);
    if (r) goto failed;
    CHECK(!strcmp(MiniAV_Stream_GetBackendName(ctx), "pulse"));
    audio_expect(rec, &got, rate, channels, format, frames);
    MiniAV_Stream_SetEventCallback(ctx, on_event, rec);
    int64_t t0 = MiniAV_GetTimeUs();
    r = audio_start(k, ctx, on_buffer, rec);
    CHECK_EQ_INT(r, MINIAV_SUCCESS);
    if (r) goto failed;
    unsigned want = (unsigned)(seconds * got.sample_rate);
    WAIT_FOR(atomic_load(&rec->count) >= want, (long)(seconds * 1000) + 3000);
    CHECK(atomic_load(&rec->count) >= want);
    /* The first buffer is dated about when its samples were captured, on MiniAV's clock. */
    CHECK(llabs(rec->first_timestamp - t0) < 1000000);
    return ctx;
failed:
    if (ctx) audio_destroy(k, ctx);
    return NULL;
}

static void finish(audio_kind k, void *ctx, recorder *rec) {
    if (!ctx) return;
    CHECK_EQ_INT(audio_stop(k, ctx), MINIAV_SUCCESS);
    CHECK_EQ_INT(audio_destroy(k, ctx), MINIAV_SUCCESS);
    /* A buffer held past destroy is still released cleanly. */
    if (rec->held) CHECK_EQ_INT(MiniAV_ReleaseBuffer(rec->held), MINIAV_SUCCESS);
    CHECK_EQ_INT(rec->wrong_frames, 0);
    CHECK_EQ_INT(rec->bad_timestamps, 0);
}

/* ------------------------------------------------------------------ pactl: tones in the rig's sink */

/* A tone in the rig's sink, played by an ordinary client (pacat) rather than a server
 * module, so the test runs the same on PulseAudio and on PipeWire's pulse server (which
 * has no module-sine). The client's name says the frequency ("miniav tone 500 Hz").
 * Returns the player's pid, or -1. */
static int play_tone(unsigned hz) {
    char path[128];
    snprintf(path, sizeof path, "/tmp/miniav-test-tone-%u-%d.raw", hz, (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    for (uint32_t i = 0; i < 48000 * 20; i++) { /* 20 s: longer than any test using it */
        float v = (float)(0.5 * sin(6.283185307179586 * (double)((i * (uint64_t)hz) % 48000) / 48000.0));
        fwrite(&v, sizeof v, 1, f);
    }
    fclose(f);
    char name[64];
    snprintf(name, sizeof name, "--client-name=miniav tone %u Hz", hz);
    char device[300];
    snprintf(device, sizeof device, "--device=%s", sink_name);
    pid_t pid = fork();
    if (pid == 0) {
        execlp("pacat", "pacat", "--playback", "--raw", "--format=float32le", "--rate=48000", "--channels=1", device, name, path, (char *)NULL);
        _exit(127);
    }
    if (pid < 0) return -1;
    /* Wait until the server lists it as a playing application. */
    for (int i = 0; i < 150; i++) {
        MiniAVDeviceInfo *devs;
        uint32_t n;
        bool found = false;
        if (!MiniAV_Loopback_EnumerateTargets(MINIAV_LOOPBACK_TARGET_PROCESS, &devs, &n)) {
            for (uint32_t k = 0; k < n; k++) found |= strstr(devs[k].name, name + strlen("--client-name=")) != NULL;
            MiniAV_FreeDeviceList(devs, n);
        }
        if (found) return (int)pid;
        sleep_ms(20);
    }
    fprintf(stderr, "pacat playing %u Hz never appeared (is pulseaudio-utils installed?)\n", hz);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void stop_tone(int pid) {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* Loads any module (arguments in `args`), returns its index or -1. */
static int load_module(const char *args) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "pactl load-module %s", args);
    FILE *p = popen(cmd, "r");
    int module = -1;
    if (p) {
        if (fscanf(p, "%d", &module) != 1) module = -1;
        pclose(p);
    }
    if (module < 0) fprintf(stderr, "'%s' failed\n", cmd);
    return module;
}

static void unload(int module) {
    char cmd[64];
    snprintf(cmd, sizeof cmd, "pactl unload-module %d", module);
    if (module >= 0 && system(cmd) != 0) fprintf(stderr, "'%s' failed\n", cmd);
}

/* Id of the playing application whose name contains `needle`, or "" */
static void find_app(const char *needle, char *id, size_t size) {
    MiniAVDeviceInfo *devs;
    uint32_t n;
    id[0] = 0;
    CHECK_EQ_INT(MiniAV_Loopback_EnumerateTargets(MINIAV_LOOPBACK_TARGET_PROCESS, &devs, &n), MINIAV_SUCCESS);
    for (uint32_t i = 0; i < n; i++)
        if (strstr(devs[i].name, needle) && !strncmp(devs[i].device_id, "pulse:app:", 10)) snprintf(id, size, "%s", devs[i].device_id);
    MiniAV_FreeDeviceList(devs, n);
    if (!id[0]) fprintf(stderr, "no playing application named like '%s'\n", needle);
}

/* ------------------------------------------------------------------ tests */

static void test_enumerate(void) {
    MiniAVDeviceInfo *devs;
    uint32_t n;
    char mic_id[300];
    snprintf(mic_id, sizeof mic_id, "pulse:%s", mic_name);
    CHECK(strstr(MiniAV_GetBackendNames(MINIAV_DEVICE_TYPE_AUDIO), "pulse") != NULL);
    CHECK_EQ_INT(MiniAV_Audio_EnumerateDevices(&devs, &n), MINIAV_SUCCESS);
    int found = 0, monitors = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!strcmp(devs[i].device_id, mic_id)) {
            found++;
            CHECK(devs[i].is_default);
            CHECK(!strcmp(devs[i].backend, "pulse"));
            CHECK(!strcmp(devs[i].name, "MiniAV-Rig-Microphone"));
            CHECK_EQ_INT(devs[i].type, MINIAV_DEVICE_TYPE_AUDIO);
        }
        if (strstr(devs[i].device_id, ".monitor")) monitors++;
    }
    CHECK_EQ_INT(found, 1);
    CHECK_EQ_INT(monitors, 0);
    MiniAV_FreeDeviceList(devs, n);

    MiniAVAudioInfo *formats;
    CHECK_EQ_INT(MiniAV_Audio_GetSupportedFormats(mic_id, &formats, &n), MINIAV_SUCCESS);
    int has_f32_stereo_48k = 0, has_s16_mono = 0;
    for (uint32_t i = 0; i < n; i++) {
        has_f32_stereo_48k |= formats[i].format == MINIAV_AUDIO_FORMAT_F32 && formats[i].channel_count == 2 && formats[i].sample_rate == 48000;
        has_s16_mono |= formats[i].format == MINIAV_AUDIO_FORMAT_S16 && formats[i].channel_count == 1;
    }
    CHECK(has_f32_stereo_48k && has_s16_mono);
    MiniAV_FreeFormatList(formats, n);

    /* Loopback: the system mix is the default, each sink is a device, nothing else. */
    CHECK_EQ_INT(MiniAV_Loopback_EnumerateTargets(MINIAV_LOOPBACK_TARGET_SYSTEM_AUDIO, &devs, &n), MINIAV_SUCCESS);
    found = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(devs[i].device_id, "pulse:system")) {
            found++;
            CHECK(devs[i].is_default);
        }
    CHECK_EQ_INT(found, 1);
    MiniAV_FreeDeviceList(devs, n);
    CHECK_EQ_INT(MiniAV_Loopback_EnumerateTargets(MINIAV_LOOPBACK_TARGET_DEVICE, &devs, &n), MINIAV_SUCCESS);
    char sink_id[300];
    snprintf(sink_id, sizeof sink_id, "pulse:sink:%s", sink_name);
    found = 0;
    for (uint32_t i = 0; i < n; i++) {
        found += !strcmp(devs[i].device_id, sink_id);
        CHECK(strncmp(devs[i].device_id, "pulse:app:", 10) && strcmp(devs[i].device_id, "pulse:system"));
    }
    CHECK_EQ_INT(found, 1);
    MiniAV_FreeDeviceList(devs, n);
    CHECK_EQ_INT(MiniAV_Loopback_EnumerateTargets(MINIAV_LOOPBACK_TARGET_WINDOW, &devs, &n), MINIAV_SUCCESS);
    for (uint32_t i = 0; i < n; i++) CHECK(strcmp(devs[i].backend, "pulse"));
    MiniAV_FreeDeviceList(devs, n);
}

/* The rig's microphone: its frequency and amplitude, in a given format and buffer size. */
static void test_microphone(MiniAVAudioFormat format, uint32_t rate, uint32_t channels, uint32_t frames) {
    static recorder rec;
    char id[300];
    snprintf(id, sizeof id, "pulse:%s", mic_name);
    void *ctx = record(AUDIO_INPUT, id, format, rate, channels, frames, &rec, 1.2);
    if (!ctx) return;
    unsigned from = rec.rate / 5, to = atomic_load(&rec.count); /* skip 200 ms of start-up */
    double hz = audio_frequency_median(rec.samples, from, to, rec.rate), amp = audio_peak(rec.samples, from, to);
    printf("mic %s %u Hz %u ch, %u frames: %.2f Hz, amplitude %.3f, %d buffers\n", MiniAV_AudioFormatName(format), rec.rate,
           channels, rec.want_frames, hz, amp, atomic_load(&rec.buffers));
    CHECK(fabs(hz - mic_hz) <= 2);
    CHECK(fabs(amp - 0.5) <= 0.05);
    CHECK_EQ_INT(rec.sequence_gaps, 0);
    CHECK_EQ_INT(atomic_load(&rec.ended), 0);
    finish(AUDIO_INPUT, ctx, &rec);
}

/* The date of sample 0 comes from the first reads; the server's first fragments may come
 * as a short one and then, at once, older data (1 start in ~15 here dated its samples
 * 6-10 ms late before the first buffer's date could still move). Several starts: no
 * buffer may arrive before its samples were captured. */
static void test_start_dates(void) {
    static recorder rec;
    char id[300];
    snprintf(id, sizeof id, "pulse:%s", mic_name);
    int early = 0;
    for (int i = 0; i < 12; i++) {
        void *ctx = record(AUDIO_INPUT, id, MINIAV_AUDIO_FORMAT_S16, 48000, 2, 480, &rec, 0.25);
        if (!ctx) return;
        early += rec.early;
        finish(AUDIO_INPUT, ctx, &rec);
    }
    printf("start dates: %d buffers early over 12 starts\n", early);
    CHECK_EQ_INT(early, 0);
}

static void test_system_loopback(void) {
    static recorder rec;
    int tone = play_tone(880);
    CHECK(tone > 0);
    if (tone <= 0) return;
    void *ctx = record(LOOPBACK, "pulse:system", MINIAV_AUDIO_FORMAT_F32, 48000, 2, 0, &rec, 1.2);
    if (ctx) {
        unsigned from = rec.rate / 5, to = atomic_load(&rec.count);
        double hz = audio_frequency(rec.samples, from, to, rec.rate), amp = amplitude_at(rec.samples, from, to, rec.rate, 880);
        printf("system loopback: %.2f Hz, amplitude at 880 Hz %.3f\n", hz, amp);
        CHECK(fabs(hz - 880) <= 2);
        CHECK(amp > 0.3);
        finish(LOOPBACK, ctx, &rec);
    }
    stop_tone(tone);
}

/* Two applications play 500 Hz and 1300 Hz; capturing one (by id, or by process id) hears
 * it alone. Then it stops, and the stream ends with DEVICE_LOST. */
static void test_app_loopback(void) {
    static recorder rec;
    int tone_a = play_tone(500), tone_b = play_tone(1300);
    CHECK(tone_a > 0 && tone_b > 0);
    char id_a[256], id_b[256];
    find_app("500 Hz", id_a, sizeof id_a);
    find_app("1300 Hz", id_b, sizeof id_b);
    CHECK(id_a[0] && id_b[0]);
    if (id_a[0] && id_b[0]) {
        void *ctx = record(LOOPBACK, id_b, MINIAV_AUDIO_FORMAT_S16, 48000, 1, 960, &rec, 1.0);
        if (ctx) {
            unsigned from = rec.rate / 5, to = atomic_load(&rec.count);
            double hz = audio_frequency(rec.samples, from, to, rec.rate);
            double own = amplitude_at(rec.samples, from, to, rec.rate, 1300), other = amplitude_at(rec.samples, from, to, rec.rate, 500);
            printf("app B (%s): %.2f Hz, amplitude at 1300 Hz %.3f, at 500 Hz %.4f\n", id_b, hz, own, other);
            CHECK(fabs(hz - 1300) <= 2);
            CHECK(own > 0.3 && other < 0.01);
            finish(LOOPBACK, ctx, &rec);
        }
        /* By process id: the same application's sound. */
        MiniAVLoopbackContextHandle by_pid;
        MiniAV_Loopback_CreateContext(&by_pid);
        MiniAVLoopbackTargetInfo target = {.type = MINIAV_LOOPBACK_TARGET_PROCESS, .TARGETHANDLE.process_id = (uint32_t)tone_b};
        CHECK_EQ_INT(MiniAV_Loopback_ConfigureWithTargetInfo(by_pid, &target, NULL), MINIAV_SUCCESS);
        CHECK(!strcmp(MiniAV_Stream_GetBackendName(by_pid), "pulse"));
        target.TARGETHANDLE.process_id = 0x7ffffff0u; /* nobody */
        CHECK_EQ_INT(MiniAV_Loopback_ConfigureWithTargetInfo(by_pid, &target, NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
        target.type = MINIAV_LOOPBACK_TARGET_WINDOW;
        CHECK_EQ_INT(MiniAV_Loopback_ConfigureWithTargetInfo(by_pid, &target, NULL), MINIAV_ERROR_NOT_SUPPORTED);
        MiniAV_Loopback_DestroyContext(by_pid);
        char pid_a[32];
        snprintf(pid_a, sizeof pid_a, "pid:%d", tone_a);
        ctx = record(LOOPBACK, pid_a, MINIAV_AUDIO_FORMAT_F32, 48000, 2, 0, &rec, 1.0);
        if (ctx) {
            unsigned from = rec.rate / 5, to = atomic_load(&rec.count);
            double hz = audio_frequency(rec.samples, from, to, rec.rate);
            double own = amplitude_at(rec.samples, from, to, rec.rate, 500), other = amplitude_at(rec.samples, from, to, rec.rate, 1300);
            printf("app A (%s, by its process id): %.2f Hz, amplitude at 500 Hz %.3f, at 1300 Hz %.4f\n", id_a, hz, own, other);
            CHECK(fabs(hz - 500) <= 2);
            CHECK(own > 0.3 && other < 0.01);
            /* The application goes away while captured. */
            stop_tone(tone_a);
            tone_a = -1;
            WAIT_FOR(atomic_load(&rec.ended), 3000);
            CHECK_EQ_INT(atomic_load(&rec.ended), 1);
            CHECK_EQ_INT(rec.ended_code, MINIAV_ERROR_DEVICE_LOST);
            finish(LOOPBACK, ctx, &rec);
            /* Gone from the list, and configuring it again says so. */
            MiniAVLoopbackContextHandle lb;
            MiniAV_Loopback_CreateContext(&lb);
            CHECK_EQ_INT(MiniAV_Loopback_Configure(lb, id_a, NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
            MiniAV_Loopback_DestroyContext(lb);
        }
    }
    stop_tone(tone_a);
    stop_tone(tone_b);
}

/* A microphone unplugged while captured: a second source over the rig's feed, removed. */
static void test_source_removed(void) {
    static recorder rec;
    char args[300];
    snprintf(args, sizeof args, "module-remap-source master=%s source_name=miniav_unplugged source_properties=device.description=Unplugged",
             getenv("MINIAV_RIG_PULSE_MIC_FEED") ? getenv("MINIAV_RIG_PULSE_MIC_FEED") : "miniav_mic_feed.monitor");
    int module = load_module(args);
    CHECK(module >= 0);
    if (module < 0) return;
    void *ctx = record(AUDIO_INPUT, "pulse:miniav_unplugged", MINIAV_AUDIO_FORMAT_F32, 48000, 1, 0, &rec, 0.3);
    unload(module);
    if (!ctx) return;
    WAIT_FOR(atomic_load(&rec.ended), 3000);
    CHECK_EQ_INT(atomic_load(&rec.ended), 1);
    CHECK_EQ_INT(rec.ended_code, MINIAV_ERROR_DEVICE_LOST);
    int buffers = atomic_load(&rec.buffers);
    sleep_ms(100);
    CHECK_EQ_INT(atomic_load(&rec.buffers), buffers); /* nothing after the end */
    finish(AUDIO_INPUT, ctx, &rec);
}

/* The application holds every buffer: new ones are dropped and counted, time goes on, and
 * the sequence numbers jump by what was lost. */
typedef struct {
    void *handles[4];         /* the first four buffers, held */
    atomic_int count;
    uint64_t sequence[64];
    int64_t timestamp[64];
    atomic_int seen;
} holder;

static void hold_buffer(const MiniAVBuffer *b, void *user) {
    holder *h = user;
    int n = atomic_load(&h->seen);
    if (n < 64) h->sequence[n] = b->sequence, h->timestamp[n] = b->timestamp_us;
    int c = atomic_load(&h->count);
    if (c < 4) h->handles[c] = b->internal_handle, atomic_store(&h->count, c + 1);
    else MiniAV_ReleaseBuffer(b->internal_handle);
    atomic_store(&h->seen, n + 1);
}

static void test_pool_exhausted(void) {
    static holder h;
    memset(&h, 0, sizeof h);
    char mic_id[300];
    snprintf(mic_id, sizeof mic_id, "pulse:%s", mic_name);
    MiniAVAudioContextHandle a;
    MiniAV_Audio_CreateContext(&a);
    MiniAVStreamOptions o = {4, MINIAV_DROP_NEWEST, ""};
    CHECK_EQ_INT(MiniAV_Stream_SetOptions(a, &o), MINIAV_SUCCESS);
    MiniAVAudioInfo f = {48000, 1, MINIAV_AUDIO_FORMAT_F32, 480};
    CHECK_EQ_INT(MiniAV_Audio_Configure(a, mic_id, &f), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Audio_StartCapture(a, hold_buffer, &h), MINIAV_SUCCESS);
    WAIT_FOR(atomic_load(&h.count) >= 4, 3000);
    sleep_ms(300); /* about 30 buffers come and find no free slot */
    MiniAVStats st;
    CHECK_EQ_INT(MiniAV_Stream_GetStats(a, &st), MINIAV_SUCCESS);
    CHECK_EQ_INT(st.delivered, 4);
    CHECK(st.dropped >= 15);
    CHECK_EQ_INT(st.held, 4);
    for (int i = 0; i < 4; i++) MiniAV_ReleaseBuffer(h.handles[i]);
    WAIT_FOR(atomic_load(&h.seen) >= 5, 2000);
    CHECK_EQ_INT(MiniAV_Audio_StopCapture(a), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Stream_GetStats(a, &st), MINIAV_SUCCESS);
    if (atomic_load(&h.seen) >= 5) {
        /* Buffer 4 comes after the dropped ones: its sequence and timestamp skip them alike. */
        uint64_t skipped = h.sequence[4] - h.sequence[3];
        CHECK(skipped > 10);
        CHECK(llabs(h.timestamp[4] - h.timestamp[3] - (int64_t)skipped * 10000) <= 1);
    }
    /* The same context starts again. */
    int before = atomic_load(&h.seen);
    CHECK_EQ_INT(MiniAV_Audio_StartCapture(a, hold_buffer, &h), MINIAV_SUCCESS);
    WAIT_FOR(atomic_load(&h.seen) >= before + 5, 3000);
    CHECK(atomic_load(&h.seen) >= before + 5);
    CHECK_EQ_INT(MiniAV_Audio_StopCapture(a), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Audio_DestroyContext(a), MINIAV_SUCCESS);
}

static void test_errors(void) {
    char mic_id[300];
    snprintf(mic_id, sizeof mic_id, "pulse:%s", mic_name);
    MiniAVAudioContextHandle a;
    MiniAV_Audio_CreateContext(&a);
    CHECK_EQ_INT(MiniAV_Audio_Configure(a, "pulse:no-such-source", NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK(strstr(MiniAV_GetLastErrorMessage(), "EnumerateDevices") != NULL);
    char monitor_id[300];
    snprintf(monitor_id, sizeof monitor_id, "pulse:%s.monitor", sink_name);
    CHECK_EQ_INT(MiniAV_Audio_Configure(a, monitor_id, NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
    MiniAVAudioInfo f = {48000, 2, MINIAV_AUDIO_FORMAT_U8, 0};
    CHECK_EQ_INT(MiniAV_Audio_Configure(a, mic_id, &f), MINIAV_ERROR_FORMAT_NOT_SUPPORTED);
    f.format = MINIAV_AUDIO_FORMAT_S32;
    CHECK_EQ_INT(MiniAV_Audio_Configure(a, mic_id, &f), MINIAV_ERROR_FORMAT_NOT_SUPPORTED);
    f = (MiniAVAudioInfo){4000, 2, MINIAV_AUDIO_FORMAT_F32, 0};
    CHECK_EQ_INT(MiniAV_Audio_Configure(a, mic_id, &f), MINIAV_ERROR_INVALID_ARG);
    f = (MiniAVAudioInfo){48000, 9, MINIAV_AUDIO_FORMAT_F32, 0};
    CHECK_EQ_INT(MiniAV_Audio_Configure(a, mic_id, &f), MINIAV_ERROR_INVALID_ARG);
    f = (MiniAVAudioInfo){48000, 2, MINIAV_AUDIO_FORMAT_F32, 96000};
    CHECK_EQ_INT(MiniAV_Audio_Configure(a, mic_id, &f), MINIAV_ERROR_INVALID_ARG);
    CHECK_EQ_INT(MiniAV_Audio_StartCapture(a, on_buffer, NULL), MINIAV_ERROR_NOT_INITIALIZED);
    MiniAVAudioInfo *formats;
    uint32_t n;
    CHECK_EQ_INT(MiniAV_Audio_GetSupportedFormats("pulse:no-such-source", &formats, &n), MINIAV_ERROR_DEVICE_NOT_FOUND);
    MiniAV_Audio_DestroyContext(a);

    MiniAVLoopbackContextHandle lb;
    MiniAV_Loopback_CreateContext(&lb);
    CHECK_EQ_INT(MiniAV_Loopback_Configure(lb, "pulse:sink:no-such-sink", NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK_EQ_INT(MiniAV_Loopback_Configure(lb, "pulse:app:4000000", NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK_EQ_INT(MiniAV_Loopback_Configure(lb, "pulse:app:x1", NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
    CHECK_EQ_INT(MiniAV_Loopback_Configure(lb, "pulse:bogus", NULL), MINIAV_ERROR_DEVICE_NOT_FOUND);
    f = (MiniAVAudioInfo){48000, 2, MINIAV_AUDIO_FORMAT_S24, 0};
    CHECK_EQ_INT(MiniAV_Loopback_Configure(lb, "pulse:system", &f), MINIAV_ERROR_FORMAT_NOT_SUPPORTED);
    MiniAV_Loopback_DestroyContext(lb);
}

int main(void) {
    if (!getenv("PULSE_SERVER") || !*getenv("PULSE_SERVER")) {
        fprintf(stderr, "test_pulse: PULSE_SERVER is not set; start the rig: eval \"$(bash scripts/rigs/pulse.sh start)\"\n");
        return getenv("MINIAV_REQUIRE_RIGS") ? 1 : 77;
    }
    mic_name = getenv("MINIAV_RIG_PULSE_MIC") ? getenv("MINIAV_RIG_PULSE_MIC") : "miniav_mic";
    sink_name = getenv("MINIAV_RIG_PULSE_SINK") ? getenv("MINIAV_RIG_PULSE_SINK") : "miniav_sink";
    mic_hz = getenv("MINIAV_RIG_PULSE_MIC_HZ") ? atof(getenv("MINIAV_RIG_PULSE_MIC_HZ")) : 660;
    unsetenv("MINIAV_FAKE_DEVICES");

    test_enumerate();
    test_microphone(MINIAV_AUDIO_FORMAT_F32, 48000, 1, 0);     /* default: 10 ms */
    test_microphone(MINIAV_AUDIO_FORMAT_S16, 44100, 2, 882);   /* 20 ms, resampled by the server */
    test_microphone(MINIAV_AUDIO_FORMAT_F32, 16000, 1, 320);   /* 20 ms */
    test_start_dates();
    test_pool_exhausted();
    test_source_removed();
    test_system_loopback();
    test_app_loopback();
    test_errors();
    TEST_DONE();
}
