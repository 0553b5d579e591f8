/* Buffer pool: holding, dropping, releasing from other threads, release after
 * stop and destroy, double and bogus release. */
#define _GNU_SOURCE
#include "miniav.h"
#include "check.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <string.h>

#define MAX_HELD 64

typedef struct {
    pthread_mutex_t lock;
    void *handles[MAX_HELD];
    const MiniAVBuffer *buffers[MAX_HELD];
    int count;
    atomic_int callbacks;
    int release_in_callback;
    uint64_t last_sequence;
    int gaps;
    int content_mismatch;
} holder;

static void on_buffer(const MiniAVBuffer *b, void *user) {
    holder *h = user;
    const uint8_t *p = b->data.video.planes[0];
    uint32_t stamped = p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
    if (stamped != (uint32_t)b->sequence) h->content_mismatch++;
    if (atomic_load(&h->callbacks) > 0 && b->sequence != h->last_sequence + 1) h->gaps++;
    h->last_sequence = b->sequence;
    atomic_fetch_add(&h->callbacks, 1);
    if (h->release_in_callback) {
        CHECK_EQ_INT(MiniAV_ReleaseBuffer(b->internal_handle), MINIAV_SUCCESS);
        return;
    }
    pthread_mutex_lock(&h->lock);
    if (h->count < MAX_HELD) {
        h->handles[h->count] = b->internal_handle;
        h->buffers[h->count++] = b;
    } else {
        MiniAV_ReleaseBuffer(b->internal_handle);
    }
    pthread_mutex_unlock(&h->lock);
}

static MiniAVCameraContextHandle open_camera(uint32_t pool) {
    MiniAVCameraContextHandle cam;
    CHECK_EQ_INT(MiniAV_Camera_CreateContext(&cam), MINIAV_SUCCESS);
    MiniAVStreamOptions opt = {.pool_size = pool, .drop_policy = MINIAV_DROP_NEWEST};
    CHECK_EQ_INT(MiniAV_Stream_SetOptions(cam, &opt), MINIAV_SUCCESS);
    MiniAVVideoFormatInfo f = {.width = 64, .height = 48, .pixel_format = MINIAV_PIXEL_FORMAT_BGRA32,
                               .frame_rate_numerator = 1, .frame_rate_denominator = 0};
    CHECK_EQ_INT(MiniAV_Camera_Configure(cam, "test-pattern", &f), MINIAV_SUCCESS);
    return cam;
}

static void test_prompt_release_has_no_gaps(void) {
    holder h = {.lock = PTHREAD_MUTEX_INITIALIZER, .release_in_callback = 1};
    MiniAVCameraContextHandle cam = open_camera(2);
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(cam, on_buffer, &h), MINIAV_SUCCESS);
    WAIT_FOR(atomic_load(&h.callbacks) >= 500, 5000);
    CHECK_EQ_INT(MiniAV_Camera_StopCapture(cam), MINIAV_SUCCESS);
    MiniAVStats st;
    CHECK_EQ_INT(MiniAV_Stream_GetStats(cam, &st), MINIAV_SUCCESS);
    CHECK(atomic_load(&h.callbacks) >= 500);
    CHECK_EQ_INT(h.gaps, 0);
    CHECK_EQ_INT(h.content_mismatch, 0);
    CHECK_EQ_INT(st.dropped, 0);
    CHECK_EQ_INT(st.held, 0);
    CHECK_EQ_INT(st.delivered, atomic_load(&h.callbacks));
    CHECK_EQ_INT(st.copies, 0);
    CHECK_EQ_INT(MiniAV_Camera_DestroyContext(cam), MINIAV_SUCCESS);
}

static void test_holding_drops_and_counts(void) {
    holder h = {.lock = PTHREAD_MUTEX_INITIALIZER};
    MiniAVCameraContextHandle cam = open_camera(3);
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(cam, on_buffer, &h), MINIAV_SUCCESS);
    MiniAVStats st = {0};
    for (int i = 0; i < 2500 && st.dropped < 50; i++) {
        sleep_ms(2);
        MiniAV_Stream_GetStats(cam, &st);
    }
    CHECK(st.dropped >= 50);
    CHECK_EQ_INT(st.held, 3);
    CHECK_EQ_INT(st.delivered, 3);
    CHECK_EQ_INT(st.pool_size, 3);
    /* Every held buffer keeps its content while held: the pool never reuses it. */
    pthread_mutex_lock(&h.lock);
    for (int i = 0; i < h.count; i++) {
        const uint8_t *p = h.buffers[i]->data.video.planes[0];
        CHECK_EQ_INT(p[0] | p[1] << 8 | p[2] << 16, (int)(h.buffers[i]->sequence & 0xffffff));
    }
    /* Release one from this (non-capture) thread: capture resumes. */
    CHECK_EQ_INT(MiniAV_ReleaseBuffer(h.handles[0]), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_ReleaseBuffer(h.handles[0]), MINIAV_SUCCESS); /* idempotent */
    h.handles[0] = h.handles[--h.count];
    h.buffers[0] = h.buffers[h.count];
    pthread_mutex_unlock(&h.lock);
    WAIT_FOR(atomic_load(&h.callbacks) >= 4, 2000);
    CHECK(atomic_load(&h.callbacks) >= 4);
    CHECK_EQ_INT(MiniAV_Camera_StopCapture(cam), MINIAV_SUCCESS);
    /* Release after stop is fine; so is release after destroy (freeing waits for the last one). */
    pthread_mutex_lock(&h.lock);
    CHECK_EQ_INT(MiniAV_ReleaseBuffer(h.handles[0]), MINIAV_SUCCESS);
    CHECK_EQ_INT(MiniAV_Camera_DestroyContext(cam), MINIAV_SUCCESS);
    for (int i = 1; i < h.count; i++) {
        const uint8_t *p = h.buffers[i]->data.video.planes[0]; /* still readable: ASan would object otherwise */
        CHECK_EQ_INT(p[0] | p[1] << 8 | p[2] << 16, (int)(h.buffers[i]->sequence & 0xffffff));
        CHECK_EQ_INT(MiniAV_ReleaseBuffer(h.handles[i]), MINIAV_SUCCESS);
    }
    for (int i = 0; i < h.count; i++) CHECK_EQ_INT(MiniAV_ReleaseBuffer(h.handles[i]), MINIAV_SUCCESS);
    pthread_mutex_unlock(&h.lock);
}

static void test_bogus_handles(void) {
    CHECK_EQ_INT(MiniAV_ReleaseBuffer(NULL), MINIAV_ERROR_INVALID_HANDLE);
    CHECK_EQ_INT(MiniAV_ReleaseBuffer((void *)(uintptr_t)0xfffffff000000001ull), MINIAV_ERROR_INVALID_HANDLE);
    CHECK(strlen(MiniAV_GetLastErrorMessage()) > 0);
}

/* Releases happen on another thread while the capture thread keeps acquiring. */
typedef struct {
    holder *h;
    atomic_bool stop;
} releaser_args;

static void *releaser(void *arg) {
    releaser_args *a = arg;
    while (!atomic_load(&a->stop)) {
        pthread_mutex_lock(&a->h->lock);
        for (int i = 0; i < a->h->count; i++) MiniAV_ReleaseBuffer(a->h->handles[i]);
        a->h->count = 0;
        pthread_mutex_unlock(&a->h->lock);
        sleep_ms(1);
    }
    return NULL;
}

static void test_release_from_other_thread(void) {
    holder h = {.lock = PTHREAD_MUTEX_INITIALIZER};
    MiniAVCameraContextHandle cam = open_camera(4);
    releaser_args a = {.h = &h};
    pthread_t t;
    pthread_create(&t, NULL, releaser, &a);
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(cam, on_buffer, &h), MINIAV_SUCCESS);
    WAIT_FOR(atomic_load(&h.callbacks) >= 300, 5000);
    CHECK_EQ_INT(MiniAV_Camera_StopCapture(cam), MINIAV_SUCCESS);
    atomic_store(&a.stop, true);
    pthread_join(t, NULL);
    for (int i = 0; i < h.count; i++) MiniAV_ReleaseBuffer(h.handles[i]);
    MiniAVStats st;
    MiniAV_Stream_GetStats(cam, &st);
    CHECK_EQ_INT(st.held, 0);
    CHECK_EQ_INT(st.delivered, atomic_load(&h.callbacks));
    CHECK_EQ_INT(h.content_mismatch, 0);
    /* Restart after stop reuses the pool; sequence restarts at 0. */
    holder h2 = {.lock = PTHREAD_MUTEX_INITIALIZER, .release_in_callback = 1};
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(cam, on_buffer, &h2), MINIAV_SUCCESS);
    WAIT_FOR(atomic_load(&h2.callbacks) >= 10, 2000);
    CHECK_EQ_INT(MiniAV_Camera_DestroyContext(cam), MINIAV_SUCCESS); /* destroy while running stops first */
    CHECK(atomic_load(&h2.callbacks) >= 10);
    CHECK_EQ_INT(h2.gaps, 0);
}

static void test_no_callback_never_leaks(void) {
    MiniAVCameraContextHandle cam = open_camera(2);
    CHECK_EQ_INT(MiniAV_Camera_StartCapture(cam, NULL, NULL), MINIAV_SUCCESS);
    MiniAVStats st = {0};
    for (int i = 0; i < 1000 && st.delivered < 20; i++) {
        sleep_ms(2);
        MiniAV_Stream_GetStats(cam, &st);
    }
    CHECK(st.delivered >= 20);
    CHECK_EQ_INT(st.dropped, 0);
    CHECK_EQ_INT(MiniAV_Camera_DestroyContext(cam), MINIAV_SUCCESS);
}

int main(void) {
    test_prompt_release_has_no_gaps();
    test_holding_drops_and_counts();
    test_bogus_handles();
    test_release_from_other_thread();
    test_no_callback_never_leaks();
    TEST_DONE();
}
