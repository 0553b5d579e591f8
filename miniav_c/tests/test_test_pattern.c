/* Test-pattern devices: frame numbers and bar colours of every pixel format, and the
 * 440 Hz tone (frequency, amplitude, phase continuity, timestamps vs sample counts). */
#define _GNU_SOURCE
#include "miniav.h"
#include "check.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

/* The pattern's definition, written out independently of the generator. */
static const uint8_t bars[8][3] = {{235, 235, 235}, {235, 235, 16}, {16, 235, 235}, {16, 235, 16},
                                   {235, 16, 235},  {235, 16, 16},  {16, 16, 235},  {16, 16, 16}};
static unsigned bar_of(uint32_t x, uint32_t width, uint64_t seq) { return (unsigned)(((x + seq * 4) % width) * 8 / width); }

typedef struct {
    atomic_int frames;
    int bad_sequence, bad_pixels, gaps;
    uint64_t expected_sequence;
} video_check;

static void check_video(const MiniAVBuffer *b, void *user) {
    video_check *c = user;
    const uint8_t *p0 = b->data.video.planes[0];
    uint32_t seq = p0[0] | p0[1] << 8 | p0[2] << 16 | (uint32_t)p0[3] << 24;
    if (seq != b->sequence) c->bad_sequence++;
    if (b->sequence != c->expected_sequence) c->gaps++;
    c->expected_sequence = b->sequence + 1;
    uint32_t w = b->data.video.width, h = b->data.video.height;
    /* Sample pixels away from bytes 0-3, in the last row. */
    for (uint32_t x = 4; x < w; x += 7) {
        const uint8_t *c3 = bars[bar_of(x, w, b->sequence)];
        size_t row = (size_t)(h - 1) * b->data.video.stride_bytes[0];
        const uint8_t *px;
        switch (b->data.video.pixel_format) {
        case MINIAV_PIXEL_FORMAT_BGRA32:
            px = p0 + row + x * 4;
            if (px[0] != c3[2] || px[1] != c3[1] || px[2] != c3[0] || px[3] != 255) c->bad_pixels++;
            break;
        case MINIAV_PIXEL_FORMAT_RGBA32:
            px = p0 + row + x * 4;
            if (px[0] != c3[0] || px[1] != c3[1] || px[2] != c3[2] || px[3] != 255) c->bad_pixels++;
            break;
        default: {
            /* YUV: luma must match BT.601 limited range of the bar colour. */
            int y = ((66 * c3[0] + 129 * c3[1] + 25 * c3[2] + 128) >> 8) + 16;
            int got = b->data.video.pixel_format == MINIAV_PIXEL_FORMAT_YUY2 ? p0[row + x * 2] : p0[row + x];
            if (got != y) c->bad_pixels++;
        }
        }
    }
    atomic_fetch_add(&c->frames, 1);
    MiniAV_ReleaseBuffer(b->internal_handle);
}

static void test_video_format(MiniAVPixelFormat fmt, uint32_t w, uint32_t h, int frames) {
    MiniAVCameraContextHandle cam;
    CHECK_EQ_INT(MiniAV_Camera_CreateContext(&cam), MINIAV_SUCCESS);
    MiniAVVideoFormatInfo f = {w, h, fmt, 1, 0, MINIAV_OUTPUT_PREFERENCE_CPU, 0};
    CHECK_EQ_INT(MiniAV_Camera_Configure(cam, "test-pattern", &f), MINIAV_SUCCESS);
    MiniAVVideoFormatInfo got;
    CHECK_EQ_INT(MiniAV_Camera_GetConfiguredFormat(cam, &got), MINIAV_SUCCESS);
    CHECK_EQ_INT(got.width, w);
    CHECK_EQ_INT(got.pixel_format, fmt);
    video_check c = {0};
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(cam, check_video, &c), MINIAV_SUCCESS);
    WAIT_FOR(atomic_load(&c.frames) >= frames, 10000);
    CHECK_EQ_INT(MiniAV_Camera_StopCapture(cam), MINIAV_SUCCESS);
    CHECK(atomic_load(&c.frames) >= frames);
    CHECK_EQ_INT(c.bad_sequence, 0);
    CHECK_EQ_INT(c.bad_pixels, 0);
    CHECK_EQ_INT(c.gaps, 0);
    CHECK_EQ_INT(MiniAV_Camera_DestroyContext(cam), MINIAV_SUCCESS);
}

static const MiniAVBuffer *last_layout;
static MiniAVBuffer layout_copy;
static void keep_layout(const MiniAVBuffer *b, void *user) {
    (void)user;
    if (!last_layout) {
        layout_copy = *b;
        last_layout = &layout_copy;
    }
    MiniAV_ReleaseBuffer(b->internal_handle);
}

static void test_layouts(void) {
    struct {
        MiniAVPixelFormat f;
        uint32_t planes, stride0, stride1;
    } cases[] = {{MINIAV_PIXEL_FORMAT_I420, 3, 128, 64}, {MINIAV_PIXEL_FORMAT_NV12, 2, 128, 128},
                 {MINIAV_PIXEL_FORMAT_YUY2, 1, 256, 0},  {MINIAV_PIXEL_FORMAT_BGRA32, 1, 448, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        MiniAVCameraContextHandle cam;
        MiniAV_Camera_CreateContext(&cam);
        MiniAVVideoFormatInfo f = {100, 50, cases[i].f, 1, 0, MINIAV_OUTPUT_PREFERENCE_CPU, 0};
        CHECK_EQ_INT(MiniAV_Camera_Configure(cam, "test-pattern", &f), MINIAV_SUCCESS);
        last_layout = NULL;
        MiniAV_Camera_StartCapture(cam, keep_layout, NULL);
        WAIT_FOR(last_layout != NULL, 2000);
        MiniAV_Camera_StopCapture(cam);
        CHECK(last_layout != NULL);
        if (last_layout) {
            CHECK_EQ_INT(last_layout->data.video.num_planes, cases[i].planes);
            CHECK_EQ_INT(last_layout->data.video.stride_bytes[0], cases[i].stride0); /* rows padded to 64 bytes */
            CHECK_EQ_INT(last_layout->data.video.stride_bytes[1], cases[i].stride1);
            CHECK_EQ_INT(last_layout->data.video.plane_size_bytes[0], (size_t)cases[i].stride0 * 50);
        }
        MiniAV_Camera_DestroyContext(cam);
    }
}

/* ------------------------------------------------------------------ audio */

#define MAX_SAMPLES (48000 * 2)
typedef struct {
    float samples[MAX_SAMPLES];
    int count;
    int64_t first_ts;
    int64_t expected_ts_error_max;
    uint64_t frames;
    int buffers;
    int bad_size;
    MiniAVAudioFormat fmt;
} audio_check;

static void collect_audio(const MiniAVBuffer *b, void *user) {
    audio_check *c = user;
    uint32_t n = b->data.audio.frame_count, ch = b->data.audio.channel_count;
    if (c->buffers == 0) c->first_ts = b->timestamp_us;
    /* Timestamp must equal first timestamp + samples so far / rate (integer microseconds). */
    int64_t expected = c->first_ts + (int64_t)(c->frames * 1000000 / b->data.audio.sample_rate);
    int64_t err = llabs(b->timestamp_us - expected);
    if (err > c->expected_ts_error_max) c->expected_ts_error_max = err;
    if (b->data_size_bytes != (size_t)n * ch * (c->fmt == MINIAV_AUDIO_FORMAT_F32 ? 4 : 2)) c->bad_size++;
    for (uint32_t i = 0; i < n && c->count < MAX_SAMPLES; i++) {
        float v = c->fmt == MINIAV_AUDIO_FORMAT_F32 ? ((const float *)b->data.audio.data)[i * ch + (ch - 1)]
                                                    : ((const int16_t *)b->data.audio.data)[i * ch + (ch - 1)] / 32767.0f;
        c->samples[c->count++] = v;
    }
    c->frames += n;
    c->buffers++;
    MiniAV_ReleaseBuffer(b->internal_handle);
}

static void test_audio(MiniAVAudioFormat fmt, uint32_t rate, uint32_t channels, int loopback) {
    static audio_check c;
    memset(&c, 0, sizeof c);
    c.fmt = fmt;
    MiniAVAudioInfo f = {rate, channels, fmt, rate / 50};
    void *ctx;
    if (loopback) {
        MiniAV_Loopback_CreateContext((MiniAVLoopbackContextHandle *)&ctx);
        CHECK_EQ_INT(MiniAV_Loopback_Configure(ctx, "test-pattern", &f), MINIAV_SUCCESS);
        CHECK_EQ_INT(MiniAV_Loopback_StartCapture(ctx, collect_audio, &c), MINIAV_SUCCESS);
    } else {
        MiniAV_Audio_CreateContext((MiniAVAudioContextHandle *)&ctx);
        CHECK_EQ_INT(MiniAV_Audio_Configure(ctx, "test-pattern", &f), MINIAV_SUCCESS);
        CHECK_EQ_INT(MiniAV_Audio_StartCapture(ctx, collect_audio, &c), MINIAV_SUCCESS);
    }
    int want = (int)rate / 2; /* half a second */
    WAIT_FOR(c.count >= want, 5000);
    if (loopback) {
        MiniAV_Loopback_StopCapture(ctx);
        MiniAV_Loopback_DestroyContext(ctx);
    } else {
        MiniAV_Audio_StopCapture(ctx);
        MiniAV_Audio_DestroyContext(ctx);
    }
    CHECK(c.count >= want);
    CHECK_EQ_INT(c.bad_size, 0);
    CHECK(c.expected_ts_error_max <= 1);
    /* Frequency by counting rising zero crossings with linear interpolation. */
    double first = -1, last = -1;
    int crossings = 0;
    float peak = 0;
    for (int i = 1; i < c.count; i++) {
        if (fabsf(c.samples[i]) > peak) peak = fabsf(c.samples[i]);
        if (c.samples[i - 1] < 0 && c.samples[i] >= 0) {
            double t = (i - 1) + c.samples[i - 1] / (c.samples[i - 1] - c.samples[i]);
            if (first < 0) first = t;
            last = t;
            crossings++;
        }
    }
    double hz = (crossings - 1) / ((last - first) / rate);
    CHECK(fabs(hz - 440.0) < 0.5);
    CHECK(fabsf(peak - 0.5f) < 0.01f);
    /* Phase continuity across buffer boundaries: each sample equals the ideal sine. */
    int off = 0;
    for (int i = 0; i < c.count; i++) {
        double ideal = 0.5 * sin(6.283185307179586 * (double)(((uint64_t)i * 440) % rate) / rate);
        if (fabs(c.samples[i] - ideal) > (fmt == MINIAV_AUDIO_FORMAT_F32 ? 1e-6 : 1.0 / 32767 + 1e-6)) off++;
    }
    CHECK_EQ_INT(off, 0);
}

int main(void) {
    test_video_format(MINIAV_PIXEL_FORMAT_BGRA32, 320, 240, 40);
    test_video_format(MINIAV_PIXEL_FORMAT_RGBA32, 320, 240, 40);
    test_video_format(MINIAV_PIXEL_FORMAT_NV12, 320, 240, 40);
    test_video_format(MINIAV_PIXEL_FORMAT_I420, 320, 240, 40);
    test_video_format(MINIAV_PIXEL_FORMAT_YUY2, 320, 240, 40);
    test_video_format(MINIAV_PIXEL_FORMAT_GRAY8, 100, 10, 40);
    test_video_format(MINIAV_PIXEL_FORMAT_BGRA32, 7680, 4320, 5); /* the largest size */
    test_layouts();
    test_audio(MINIAV_AUDIO_FORMAT_F32, 48000, 2, 0);
    test_audio(MINIAV_AUDIO_FORMAT_S16, 44100, 1, 0);
    test_audio(MINIAV_AUDIO_FORMAT_F32, 8000, 8, 1);
    TEST_DONE();
}
