/* The buffer pool: a fixed set of slots per stream, handed to the application and
 * taken back by MiniAV_ReleaseBuffer.
 *
 * Why handles are tokens, not pointers: release must be safe after the stream is
 * destroyed and must be idempotent. A handle encodes (pool serial, slot, generation);
 * a registry maps live serials to pools. A stale handle (released already, or its
 * pool freed after its last release) is recognised and ignored instead of touching
 * freed memory.
 *
 * One lock guards every slot state change. It is held for a few instructions per
 * frame (acquire, deliver, release), never while calling back into the application,
 * so the capture thread never waits on the application.
 */
#define _GNU_SOURCE
#include "miniav_internal.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(void *) >= 8, "buffer handles need 64-bit pointers");

#define SLOT_BITS 8u
#define GEN_BITS 24u
#define MAX_SLOTS (1u << SLOT_BITS)
#define GEN_MASK ((1u << GEN_BITS) - 1u)

struct miniav_pool {
    uint32_t serial;
    uint32_t slot_count;
    size_t slot_size;       /* 0 for driver-owned buffers */
    miniav_slot *slots;
    uint32_t held;
    miniav_stream *stream;  /* NULL once the stream is destroyed */
    miniav_pool_hooks hooks;
};

static pthread_mutex_t buffer_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t next_serial = 1;
static miniav_pool **live_pools;
static size_t live_count, live_capacity;

static void *make_handle(const miniav_pool *pool, const miniav_slot *slot) {
    uint64_t token = ((uint64_t)pool->serial << 32) | ((uint64_t)slot->index << GEN_BITS) | (slot->generation & GEN_MASK);
    return (void *)(uintptr_t)token;
}

/* Caller holds buffer_lock. */
static miniav_pool *find_pool(uint32_t serial) {
    for (size_t i = 0; i < live_count; i++)
        if (live_pools[i]->serial == serial) return live_pools[i];
    return NULL;
}

/* Caller holds buffer_lock. */
static void free_pool(miniav_pool *pool) {
    for (size_t i = 0; i < live_count; i++)
        if (live_pools[i] == pool) {
            live_pools[i] = live_pools[--live_count];
            break;
        }
    if (pool->hooks.on_free) pool->hooks.on_free(pool->hooks.ctx);
    for (uint32_t i = 0; i < pool->slot_count; i++) miniav_aligned_free(pool->slots[i].mem);
    free(pool->slots);
    free(pool);
}

/* Caller holds buffer_lock. */
static void orphan_locked(miniav_stream *s) {
    miniav_pool *pool = s->pool;
    if (!pool) return;
    s->pool = NULL;
    pool->stream = NULL;
    if (pool->held == 0) free_pool(pool); /* otherwise the last release frees it */
}

static MiniAVResultCode create_pool(miniav_stream *s, uint32_t count, size_t slot_size, const miniav_pool_hooks *hooks) {
    if (count == 0 || count > MAX_SLOTS)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "pool size %u must be between 1 and %u", count, MAX_SLOTS);
    miniav_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory for a buffer pool");
    pool->slots = calloc(count, sizeof *pool->slots);
    if (!pool->slots) {
        free(pool);
        return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory for a buffer pool");
    }
    pool->slot_count = count;
    pool->slot_size = slot_size;
    if (hooks) pool->hooks = *hooks;
    for (uint32_t i = 0; i < count; i++) {
        pool->slots[i].index = i;
        if (slot_size) {
            /* Every buffer is allocated here, before start: nothing is allocated per frame. */
            if (!(pool->slots[i].mem = miniav_aligned_alloc(64, slot_size))) {
                for (uint32_t j = 0; j < i; j++) miniav_aligned_free(pool->slots[j].mem);
                free(pool->slots);
                free(pool);
                return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "cannot allocate %u buffers of %zu bytes; ask for a smaller size or pool",
                                   count, slot_size);
            }
            pool->slots[i].mem_size = slot_size;
        }
    }

    pthread_mutex_lock(&buffer_lock);
    if (live_count == live_capacity) {
        size_t cap = live_capacity ? live_capacity * 2 : 16;
        miniav_pool **grown = realloc(live_pools, cap * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&buffer_lock);
            pool->hooks.on_free = NULL;
            for (uint32_t i = 0; i < count; i++) miniav_aligned_free(pool->slots[i].mem);
            free(pool->slots);
            free(pool);
            return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory for the pool registry");
        }
        live_pools = grown;
        live_capacity = cap;
    }
    pool->serial = next_serial++;
    pool->stream = s;
    live_pools[live_count++] = pool;
    /* Swap under the lock: a backend may replace its pool from the capture thread (a
     * resized window) while another thread reads the stream's stats. */
    orphan_locked(s);
    s->pool = pool;
    pthread_mutex_unlock(&buffer_lock);
    return MINIAV_SUCCESS;
}

uint32_t miniav_stream_pool_size(const miniav_stream *s, uint32_t default_size) {
    return s->options.pool_size ? s->options.pool_size : default_size;
}

MiniAVResultCode miniav_stream_ensure_pool(miniav_stream *s, uint32_t count, size_t slot_size) {
    slot_size = (slot_size + 63) & ~(size_t)63;
    if (s->pool && s->pool->slot_count == count && s->pool->slot_size == slot_size && !s->pool->hooks.on_release)
        return MINIAV_SUCCESS;
    return create_pool(s, count, slot_size, NULL);
}

MiniAVResultCode miniav_stream_ensure_external_pool(miniav_stream *s, uint32_t count, const miniav_pool_hooks *hooks) {
    return create_pool(s, count, 0, hooks);
}

void miniav_stream_orphan_pool(miniav_stream *s) {
    pthread_mutex_lock(&buffer_lock);
    orphan_locked(s);
    pthread_mutex_unlock(&buffer_lock);
}

miniav_slot *miniav_stream_acquire(miniav_stream *s) {
    miniav_pool *pool = s->pool;
    miniav_slot *found = NULL;
    if (pool) {
        pthread_mutex_lock(&buffer_lock);
        for (uint32_t i = 0; i < pool->slot_count; i++)
            if (pool->slots[i].state == MINIAV_SLOT_FREE) {
                found = &pool->slots[i];
                found->state = MINIAV_SLOT_FILLING;
                break;
            }
        pthread_mutex_unlock(&buffer_lock);
    }
    if (!found) {
        /* Every buffer is held by the application: this frame is lost, and counted. */
        atomic_fetch_add(&s->dropped, 1);
        s->sequence++;
    }
    return found;
}

miniav_slot *miniav_stream_acquire_index(miniav_stream *s, uint32_t index) {
    miniav_pool *pool = s->pool;
    miniav_slot *found = NULL;
    if (!pool || index >= pool->slot_count) return NULL;
    pthread_mutex_lock(&buffer_lock);
    if (pool->slots[index].state == MINIAV_SLOT_FREE) {
        found = &pool->slots[index];
        found->state = MINIAV_SLOT_FILLING;
    }
    pthread_mutex_unlock(&buffer_lock);
    return found;
}

void miniav_stream_count_lost(miniav_stream *s, uint64_t n) {
    atomic_fetch_add(&s->dropped, n);
    s->sequence += n;
}

void miniav_stream_abandon(miniav_stream *s, miniav_slot *slot) {
    (void)s;
    pthread_mutex_lock(&buffer_lock);
    slot->state = MINIAV_SLOT_FREE;
    pthread_mutex_unlock(&buffer_lock);
}

void miniav_stream_deliver(miniav_stream *s, miniav_slot *slot) {
    MiniAVBuffer *b = &slot->buffer;
    b->sequence = s->sequence++;
    b->user_data = s->callback_user;
    pthread_mutex_lock(&buffer_lock);
    if (b->type == MINIAV_BUFFER_TYPE_VIDEO) b->data.video.intrinsics = s->intrinsics;
    b->internal_handle = make_handle(s->pool, slot);
    slot->state = MINIAV_SLOT_HELD;
    s->pool->held++;
    pthread_mutex_unlock(&buffer_lock);
    atomic_fetch_add(&s->delivered, 1);
    if (s->callback)
        s->callback(b, s->callback_user);
    else
        MiniAV_ReleaseBuffer(b->internal_handle); /* nobody to hand it to: never leak it */
}

MiniAVResultCode MiniAV_ReleaseBuffer(void *internal_handle) {
    uint64_t token = (uint64_t)(uintptr_t)internal_handle;
    uint32_t serial = (uint32_t)(token >> 32);
    uint32_t index = (uint32_t)(token >> GEN_BITS) & (MAX_SLOTS - 1);
    uint32_t generation = (uint32_t)token & GEN_MASK;
    if (!serial) return miniav_fail(MINIAV_ERROR_INVALID_HANDLE, "NULL buffer handle: pass buffer->internal_handle");

    pthread_mutex_lock(&buffer_lock);
    if (serial >= next_serial) {
        pthread_mutex_unlock(&buffer_lock);
        return miniav_fail(MINIAV_ERROR_INVALID_HANDLE, "not a buffer handle: pass buffer->internal_handle");
    }
    miniav_pool *pool = find_pool(serial);
    /* No pool: it was freed after its last release, so this buffer was released already. */
    if (!pool || index >= pool->slot_count) {
        pthread_mutex_unlock(&buffer_lock);
        return MINIAV_SUCCESS;
    }
    miniav_slot *slot = &pool->slots[index];
    if (slot->state != MINIAV_SLOT_HELD || (slot->generation & GEN_MASK) != generation) {
        pthread_mutex_unlock(&buffer_lock);
        return MINIAV_SUCCESS; /* released before: idempotent */
    }
    slot->generation++;
    slot->buffer.internal_handle = NULL;
    if (pool->hooks.on_release) pool->hooks.on_release(pool->hooks.ctx, slot);
    slot->state = MINIAV_SLOT_FREE;
    pool->held--;
    if (!pool->stream && pool->held == 0) free_pool(pool);
    pthread_mutex_unlock(&buffer_lock);
    return MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_Stream_ReleaseAll(void *context) {
    MiniAVResultCode r = miniav_stream_check(context, MINIAV_DEVICE_TYPE_COUNT);
    if (r) return r;
    miniav_stream *s = context;
    pthread_mutex_lock(&buffer_lock);
    miniav_pool *pool = s->pool;
    for (uint32_t i = 0; pool && i < pool->slot_count; i++) {
        miniav_slot *slot = &pool->slots[i];
        if (slot->state != MINIAV_SLOT_HELD) continue;
        slot->generation++;
        slot->buffer.internal_handle = NULL;
        if (pool->hooks.on_release) pool->hooks.on_release(pool->hooks.ctx, slot);
        slot->state = MINIAV_SLOT_FREE;
        pool->held--;
    }
    pthread_mutex_unlock(&buffer_lock);
    return MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_Stream_GetStats(void *context, MiniAVStats *stats_out) {
    if (!stats_out) return miniav_fail(MINIAV_ERROR_INVALID_ARG, "stats_out must not be NULL");
    MiniAVResultCode r = miniav_stream_check(context, MINIAV_DEVICE_TYPE_COUNT);
    if (r) return r;
    miniav_stream *s = context;
    memset(stats_out, 0, sizeof *stats_out);
    stats_out->delivered = atomic_load(&s->delivered);
    stats_out->dropped = atomic_load(&s->dropped);
    stats_out->copies = atomic_load(&s->copies);
    stats_out->skipped = atomic_load(&s->skipped);
    pthread_mutex_lock(&buffer_lock);
    if (s->pool) {
        stats_out->held = s->pool->held;
        stats_out->pool_size = s->pool->slot_count;
    }
    pthread_mutex_unlock(&buffer_lock);
    return MINIAV_SUCCESS;
}

MiniAVResultCode MiniAV_Camera_SetIntrinsics(MiniAVCameraContextHandle context, const MiniAVCameraIntrinsics *intrinsics) {
    MiniAVResultCode r = miniav_stream_check(context, MINIAV_DEVICE_TYPE_CAMERA);
    if (r) return r;
    pthread_mutex_lock(&buffer_lock);
    if (intrinsics) {
        context->base.intrinsics = *intrinsics;
        context->base.intrinsics.valid = 1;
    } else {
        memset(&context->base.intrinsics, 0, sizeof context->base.intrinsics);
    }
    pthread_mutex_unlock(&buffer_lock);
    return MINIAV_SUCCESS;
}
