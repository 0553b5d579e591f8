/* Internal interfaces shared by the core and the backends. Not installed. */
#ifndef MINIAV_INTERNAL_H
#define MINIAV_INTERNAL_H

#include "miniav.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* printf-style checking: mingw-w64 builds use its C99 printf (__USE_MINGW_ANSI_STDIO=1,
 * set by CMake), which takes %zu and %lld like glibc's; the attribute must say so. */
#if defined(_WIN32) && defined(__MINGW_PRINTF_FORMAT)
#define MINIAV_PRINTF(f, a) __attribute__((format(__MINGW_PRINTF_FORMAT, f, a)))
#else
#define MINIAV_PRINTF(f, a) __attribute__((format(printf, f, a)))
#endif

/* ------------------------------------------------------------------ errors + log */

/* Sets this thread's last error message and returns code: `return miniav_fail(...)`. */
MiniAVResultCode miniav_fail(MiniAVResultCode code, const char *fmt, ...) MINIAV_PRINTF(2, 3);
void miniav_clear_error(void);
void miniav_log(MiniAVLogLevel level, const char *fmt, ...) MINIAV_PRINTF(2, 3);

/* ------------------------------------------------------------------ device lists */

typedef struct {
    MiniAVDeviceInfo *items;
    uint32_t count, capacity;
} miniav_device_list;

/* Appends a zeroed entry (NULL when out of memory). */
MiniAVDeviceInfo *miniav_device_list_add(miniav_device_list *list);
void miniav_copy_string(char *dst, size_t dst_size, const char *src);

/* ------------------------------------------------------------------ formats */

typedef struct {
    uint32_t num_planes;
    uint32_t stride[MINIAV_MAX_PLANES];
    size_t offset[MINIAV_MAX_PLANES];
    size_t size[MINIAV_MAX_PLANES];
    size_t total;
} miniav_video_layout;

/* Layout of a frame in one block, each row padded to `row_align` bytes.
 * Returns INVALID_ARG for compressed/unknown formats or odd sizes where the
 * format subsamples chroma. */
MiniAVResultCode miniav_video_layout_compute(MiniAVPixelFormat format, uint32_t width, uint32_t height,
                                             uint32_t row_align, miniav_video_layout *out);
uint32_t miniav_audio_format_bytes(MiniAVAudioFormat format);
bool miniav_env_flag(const char *name);
/* getenv that sees changes made after start on Windows too (the value is valid until the
 * next call on this thread). */
const char *miniav_getenv(const char *name);

/* ------------------------------------------------------------------ streams + buffer pool */

typedef struct miniav_stream miniav_stream;
typedef struct miniav_pool miniav_pool;

typedef enum { MINIAV_SLOT_FREE = 0, MINIAV_SLOT_FILLING, MINIAV_SLOT_HELD } miniav_slot_state;

typedef struct {
    MiniAVBuffer buffer;     /* what the callback sees; stable until release */
    uint8_t *mem;            /* core-owned memory (NULL for driver-owned buffers) */
    size_t mem_size;
    uint32_t index;
    uint32_t generation;     /* bumped on every release: stale handles are recognised */
    miniav_slot_state state;
    void *backend_cookie;    /* e.g. a driver buffer index */
} miniav_slot;

/* Hooks for backends whose buffers belong to a driver (V4L2, PipeWire): on_release
 * gives a buffer back to the driver; on_free runs when the pool is freed, which may
 * be after the stream was destroyed (the last buffer released late). Both run with
 * the core's buffer lock held: they must not call back into the core. */
typedef struct {
    void (*on_release)(void *ctx, miniav_slot *slot);
    void (*on_free)(void *ctx);
    void *ctx;
} miniav_pool_hooks;

typedef enum { MINIAV_SCREEN_TARGET_DISPLAY = 0, MINIAV_SCREEN_TARGET_WINDOW, MINIAV_SCREEN_TARGET_REGION } miniav_screen_target;

typedef struct miniav_backend {
    const char *name;
    MiniAVDeviceType type;
    bool (*available)(void);
    /* Appends this backend's devices; filter is used by loopback only. */
    MiniAVResultCode (*enumerate)(miniav_device_list *out, MiniAVLoopbackTargetType filter);
    /* Screens only; NULL = no windows. */
    MiniAVResultCode (*enumerate_windows)(miniav_device_list *out);
    bool (*owns_id)(const char *device_id);
    MiniAVResultCode (*video_formats)(const char *device_id, MiniAVVideoFormatInfo **formats, uint32_t *count);
    MiniAVResultCode (*audio_formats)(const char *device_id, MiniAVAudioInfo **formats, uint32_t *count);
    /* Reads s->device_id and s->requested_*; writes the format actually chosen to
     * s->video / s->audio. May allocate s->backend_data. */
    MiniAVResultCode (*configure)(miniav_stream *s);
    MiniAVResultCode (*start)(miniav_stream *s);
    void (*stop)(miniav_stream *s);          /* joins the capture thread; no callbacks after */
    void (*destroy)(miniav_stream *s);       /* frees backend_data */
    /* Camera properties on a configured stream; NULL = the device has none. */
    MiniAVResultCode (*list_properties)(miniav_stream *s, MiniAVCameraProperty **out, uint32_t *count);
    MiniAVResultCode (*get_property)(miniav_stream *s, const char *name, int64_t *value, int *is_auto);
    MiniAVResultCode (*set_property)(miniav_stream *s, const char *name, int64_t value);
    MiniAVResultCode (*set_property_auto)(miniav_stream *s, const char *name, bool enable);
    /* Optional: why available() is false, in words that tell the user what to do; the
     * core puts it into its BACKEND_UNAVAILABLE messages. */
    const char *(*unavailable_reason)(void);
    /* Loopback only, optional: the id that captures process `pid` (and its children) even
     * when it is not in the target list now (WASAPI process loopback takes any process). */
    bool (*process_target_id)(uint32_t pid, char *id, size_t id_size);
} miniav_backend;

#define MINIAV_STREAM_MAGIC 0x4d415653u /* "MAVS" */

struct miniav_stream {
    uint32_t magic;
    MiniAVDeviceType type;
    const miniav_backend *backend;
    void *backend_data;
    bool configured, running;

    char device_id[256];
    MiniAVVideoFormatInfo requested_video, video;
    MiniAVAudioInfo requested_audio, audio;
    miniav_screen_target screen_target;
    int32_t region_x, region_y;
    uint32_t region_width, region_height;
    MiniAVLoopbackTargetInfo loopback_target;

    MiniAVBufferCallback callback;
    void *callback_user;
    MiniAVStreamEventCallback event_callback;
    void *event_user;
    MiniAVStreamOptions options;

    MiniAVScreenOptions screen_options;
    char restore_token[256];   /* portal: given back by the backend at configure */
    struct MiniAVLoopbackContext *audio_companion;  /* screen + system audio (screen_api.c) */

    miniav_pool *pool;         /* shared with late releases; see buffer_pool.c */
    uint64_t sequence;         /* capture thread only */
    atomic_uint_fast64_t delivered, dropped, copies, skipped;
    MiniAVCameraIntrinsics intrinsics;  /* guarded by the buffer lock */
};

/* The four public handle types are this one struct. */
struct MiniAVCameraContext { miniav_stream base; };
struct MiniAVScreenContext { miniav_stream base; };
struct MiniAVAudioContext { miniav_stream base; };
struct MiniAVLoopbackContext { miniav_stream base; };

/* Pool with `count` core-owned slots of `slot_size` bytes each (64-byte aligned);
 * reuses the stream's pool when it already matches. */
MiniAVResultCode miniav_stream_ensure_pool(miniav_stream *s, uint32_t count, size_t slot_size);
/* Pool of `count` slots without memory, for driver-owned buffers. */
MiniAVResultCode miniav_stream_ensure_external_pool(miniav_stream *s, uint32_t count, const miniav_pool_hooks *hooks);
uint32_t miniav_stream_pool_size(const miniav_stream *s, uint32_t default_size);
/* A free slot, or NULL (the frame is dropped and counted). Never blocks for long. */
miniav_slot *miniav_stream_acquire(miniav_stream *s);
/* The slot with this index if it is free (driver-owned buffers come back from the driver
 * in their own order), else NULL; a NULL does not count a drop. */
miniav_slot *miniav_stream_acquire_index(miniav_stream *s, uint32_t index);
/* Counts n frames lost before they reached the core (a driver's own drops): they take
 * sequence numbers, so buffer sequences show the gap. */
void miniav_stream_count_lost(miniav_stream *s, uint64_t n);
/* Gives a filled slot to the application: sets sequence, handle, intrinsics, calls back. */
void miniav_stream_deliver(miniav_stream *s, miniav_slot *slot);
/* Returns a slot that could not be filled. */
void miniav_stream_abandon(miniav_stream *s, miniav_slot *slot);
void miniav_stream_emit(miniav_stream *s, MiniAVStreamEventType event, MiniAVResultCode result, const char *fmt, ...)
    MINIAV_PRINTF(4, 5);
/* Detaches the pool from a stream being destroyed; frees it now or at the last release. */
void miniav_stream_orphan_pool(miniav_stream *s);

/* ------------------------------------------------------------------ backend registry */

/* NULL-terminated, in priority order; defined in <type>/<type>_api.c. */
extern const miniav_backend *const miniav_camera_backends[];
extern const miniav_backend *const miniav_screen_backends[];
extern const miniav_backend *const miniav_audio_backends[];
extern const miniav_backend *const miniav_loopback_backends[];

MiniAVResultCode miniav_enumerate(MiniAVDeviceType type, MiniAVLoopbackTargetType filter, bool windows,
                                  MiniAVDeviceInfo **devices, uint32_t *count);
/* True when b is available and not excluded by a forced backend (MiniAV_SetBackend or
 * the MINIAV_<TYPE>_BACKEND variable). */
bool miniav_backend_usable(MiniAVDeviceType type, const miniav_backend *b);
/* The backend that serves device_id, honouring a forced backend; a clear error otherwise. */
MiniAVResultCode miniav_find_backend(MiniAVDeviceType type, const char *device_id, const char *preferred, const miniav_backend **out);

/* Generic context plumbing used by the four *_api.c files. */
MiniAVResultCode miniav_stream_create(MiniAVDeviceType type, miniav_stream **out);
MiniAVResultCode miniav_stream_destroy(miniav_stream *s, MiniAVDeviceType type);
MiniAVResultCode miniav_stream_configure(miniav_stream *s, MiniAVDeviceType type, const char *device_id);
MiniAVResultCode miniav_stream_start(miniav_stream *s, MiniAVDeviceType type, MiniAVBufferCallback cb, void *user);
MiniAVResultCode miniav_stream_stop(miniav_stream *s, MiniAVDeviceType type);
MiniAVResultCode miniav_stream_check(const void *context, MiniAVDeviceType type);

/* ------------------------------------------------------------------ threads + time */

/* A backend's capture thread with a stop flag the thread polls. */
typedef struct {
    pthread_t thread;
    atomic_bool stop;
} miniav_capture_thread;

MiniAVResultCode miniav_capture_thread_start(miniav_capture_thread *t, void *(*run)(void *), void *arg);
/* Sets the stop flag and joins: no callbacks run after it returns. */
void miniav_capture_thread_stop(miniav_capture_thread *t);

/* Paces a capture loop at a fixed period on absolute deadlines (no drift); a loop that
 * falls more than two periods behind re-anchors instead of bursting. period 0 = unpaced. */
typedef struct {
    double period_us;
    int64_t start;
    uint64_t n;
} miniav_pacer;
void miniav_pacer_init(miniav_pacer *p, double period_us);
/* Waits for the next tick; false when *stop became true. */
bool miniav_pacer_wait(miniav_pacer *p, const atomic_bool *stop);

/* Fills in a default rate (0/0) and checks the range 0 < fps <= 1000; n/0 means
 * unlimited (*period_us = 0). */
MiniAVResultCode miniav_resolve_frame_rate(MiniAVVideoFormatInfo *f, uint32_t default_fps, double *period_us);

/* Fills the defaults of an audio request (default_rate, default_channels, f32, 10 ms
 * buffers) and checks what every audio backend here gives: 8000..192000 Hz, 1..8
 * channels, f32 or s16, at most one second per buffer. `who` names the backend in the
 * messages ("the test pattern"). */
MiniAVResultCode miniav_resolve_audio_format(MiniAVAudioInfo *f, uint32_t default_rate, uint32_t default_channels, const char *who);

/* Sleeps until the absolute MiniAV time `deadline_us` or until *stop becomes true
 * (checked at least every 20 ms). Returns false when stopped. */
bool miniav_sleep_until(int64_t deadline_us, const atomic_bool *stop);

/* Memory aligned to `alignment` (a power of two); free with miniav_aligned_free. */
void *miniav_aligned_alloc(size_t alignment, size_t size);
void miniav_aligned_free(void *p);

#ifdef _WIN32
/* Windows APIs stamp with QueryPerformanceCounter; MiniAV_GetTimeUs is that counter in µs. */
int64_t miniav_time_from_qpc(int64_t qpc_ticks);
/* QPC time in 100-ns units (WASAPI's pu64QPCPosition, Media Foundation sample times of
 * capture sources) to MiniAV µs. */
int64_t miniav_time_from_100ns_qpc(int64_t hns);
/* UTF-16 → UTF-8 into a fixed buffer (truncated on a character boundary, always NUL-ended). */
void miniav_utf16_to_utf8(char *dst, size_t dst_size, const wchar_t *src);
/* UTF-8 → UTF-16; a malloc'd string (NULL when out of memory or invalid UTF-8). */
wchar_t *miniav_utf8_to_utf16(const char *src);
#endif

/* ------------------------------------------------------------------ dlopen helper */

typedef struct miniav_library miniav_library;
/* Tries each name in a NULL-terminated list ("libpulse.so.0", ...). */
miniav_library *miniav_library_open(const char *const *names);
/* Resolves every symbol in `table` (pairs of name, void** slot); fails naming the first missing. */
typedef struct { const char *name; void **slot; } miniav_symbol;
MiniAVResultCode miniav_library_load_symbols(miniav_library *lib, const miniav_symbol *table, size_t count);
void *miniav_library_symbol(miniav_library *lib, const char *name);
void miniav_library_close(miniav_library *lib);

/* ------------------------------------------------------------------ screen formats */

/* A screen request against a source of source_w x source_h, as the x11, gdi and dxgi
 * backends take it (`who`: their name): no scaling (NOT_SUPPORTED naming the source's
 * size); bgra by default, else bgrx, rgba or rgbx (FORMAT_NOT_SUPPORTED: "<who> capture
 * gives <offered>, not '<asked>'"); the frame rate, 30 fps by default, into *period_us;
 * then the source's size and fourcc 0. A GPU request becomes CPU, logged as
 * "<who>: <no_gpu>"; with no_gpu NULL the backend decides about GPU output itself. */
MiniAVResultCode miniav_screen_resolve_format(MiniAVVideoFormatInfo *f, uint32_t source_w, uint32_t source_h, const char *who,
                                              const char *offered, const char *no_gpu, double *period_us);
/* INVALID_ARG unless the stream's region lies inside a display of display_w x display_h:
 * "region WxH at (x,y) does not fit the DWxDH <what>[ <id>]" (id NULL: left out). */
MiniAVResultCode miniav_screen_check_region(const miniav_stream *s, uint32_t display_w, uint32_t display_h, const char *what,
                                            const char *id);

#endif
