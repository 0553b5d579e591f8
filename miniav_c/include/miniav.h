/*
 * MiniAV — capture cameras, screens, microphones and system/application audio,
 * and hand every buffer to the caller without copying it, on one monotonic clock.
 *
 * One public header. Conventions:
 *  - Every function returns a MiniAVResultCode unless it says otherwise.
 *  - A buffer passed to a MiniAVBufferCallback stays valid after the callback
 *    returns, until MiniAV_ReleaseBuffer(buffer->internal_handle) is called.
 *    Release is thread-safe, idempotent, and allowed after Stop/Destroy.
 *  - Config structs: zero means "the backend's default" for every field.
 *  - Context functions (Create/Configure/Start/Stop/Destroy) are not thread-safe
 *    for the same context; different contexts may be used from different threads.
 */
#ifndef MINIAV_H
#define MINIAV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(MINIAV_BUILD_SHARED)
#define MINIAV_API __declspec(dllexport)
#elif defined(__GNUC__)
#define MINIAV_API __attribute__((visibility("default")))
#else
#define MINIAV_API
#endif

#define MINIAV_VERSION_MAJOR 0
#define MINIAV_VERSION_MINOR 1
#define MINIAV_VERSION_PATCH 0

/* ------------------------------------------------------------------ results */

typedef enum {
    MINIAV_SUCCESS = 0,
    MINIAV_ERROR_UNKNOWN = -1,
    MINIAV_ERROR_INVALID_ARG = -2,
    MINIAV_ERROR_NOT_INITIALIZED = -3,      /* e.g. Start before Configure */
    MINIAV_ERROR_SYSTEM_CALL_FAILED = -4,
    MINIAV_ERROR_NOT_SUPPORTED = -5,
    MINIAV_ERROR_BUFFER_TOO_SMALL = -6,
    MINIAV_ERROR_INVALID_HANDLE = -7,
    MINIAV_ERROR_DEVICE_NOT_FOUND = -8,
    MINIAV_ERROR_DEVICE_BUSY = -9,
    MINIAV_ERROR_DEVICE_LOST = -10,
    MINIAV_ERROR_OUT_OF_MEMORY = -11,
    MINIAV_ERROR_ALREADY_RUNNING = -12,
    MINIAV_ERROR_NOT_RUNNING = -13,
    MINIAV_ERROR_FORMAT_NOT_SUPPORTED = -14,
    MINIAV_ERROR_TIMEOUT = -15,
    MINIAV_ERROR_BACKEND_UNAVAILABLE = -16,
    MINIAV_ERROR_PERMISSION_DENIED = -17,
    MINIAV_ERROR_STREAM_CLOSED = -18
} MiniAVResultCode;

/* ------------------------------------------------------------------ enums */

typedef enum {
    MINIAV_DEVICE_TYPE_CAMERA = 0,
    MINIAV_DEVICE_TYPE_SCREEN = 1,
    MINIAV_DEVICE_TYPE_AUDIO = 2,     /* audio input: microphones, line-in */
    MINIAV_DEVICE_TYPE_LOOPBACK = 3,  /* audio output: system mix, one device, one app */
    MINIAV_DEVICE_TYPE_COUNT
} MiniAVDeviceType;

typedef enum {
    MINIAV_BUFFER_TYPE_UNKNOWN = 0,
    MINIAV_BUFFER_TYPE_VIDEO,
    MINIAV_BUFFER_TYPE_AUDIO
} MiniAVBufferType;

typedef enum {
    MINIAV_BUFFER_CONTENT_TYPE_CPU = 0,
    MINIAV_BUFFER_CONTENT_TYPE_GPU_D3D11_HANDLE,
    MINIAV_BUFFER_CONTENT_TYPE_GPU_METAL_TEXTURE,
    MINIAV_BUFFER_CONTENT_TYPE_GPU_DMABUF_FD
} MiniAVBufferContentType;

typedef enum {
    MINIAV_OUTPUT_PREFERENCE_CPU = 0,
    MINIAV_OUTPUT_PREFERENCE_GPU   /* GPU handles where the backend can, CPU otherwise */
} MiniAVOutputPreference;

typedef enum {
    MINIAV_PIXEL_FORMAT_UNKNOWN = 0,
    MINIAV_PIXEL_FORMAT_I420,    /* planar Y, U, V; 4:2:0 */
    MINIAV_PIXEL_FORMAT_NV12,    /* Y plane + interleaved UV plane; 4:2:0 */
    MINIAV_PIXEL_FORMAT_NV21,    /* Y plane + interleaved VU plane; 4:2:0 */
    MINIAV_PIXEL_FORMAT_YUY2,    /* packed Y0 U Y1 V; 4:2:2 (V4L2 YUYV) */
    MINIAV_PIXEL_FORMAT_UYVY,    /* packed U Y0 V Y1; 4:2:2 */
    MINIAV_PIXEL_FORMAT_RGB24,
    MINIAV_PIXEL_FORMAT_BGR24,
    MINIAV_PIXEL_FORMAT_RGBA32,  /* bytes R, G, B, A */
    MINIAV_PIXEL_FORMAT_BGRA32,  /* bytes B, G, R, A */
    MINIAV_PIXEL_FORMAT_ARGB32,
    MINIAV_PIXEL_FORMAT_ABGR32,
    MINIAV_PIXEL_FORMAT_MJPEG,   /* compressed: one plane, data_size_bytes long */
    MINIAV_PIXEL_FORMAT_GRAY8,
    MINIAV_PIXEL_FORMAT_BGRX32,  /* bytes B, G, R, x: the fourth byte is undefined (X11's native layout) */
    MINIAV_PIXEL_FORMAT_RGBX32,  /* bytes R, G, B, x */
    MINIAV_PIXEL_FORMAT_COUNT
} MiniAVPixelFormat;

typedef enum {
    MINIAV_AUDIO_FORMAT_UNKNOWN = 0,
    MINIAV_AUDIO_FORMAT_U8,
    MINIAV_AUDIO_FORMAT_S16,
    MINIAV_AUDIO_FORMAT_S24,     /* packed in 32 bits */
    MINIAV_AUDIO_FORMAT_S32,
    MINIAV_AUDIO_FORMAT_F32,
    MINIAV_AUDIO_FORMAT_COUNT
} MiniAVAudioFormat;

typedef enum {
    MINIAV_LOOPBACK_TARGET_NONE = 0,       /* as an enumerate filter: every kind */
    MINIAV_LOOPBACK_TARGET_SYSTEM_AUDIO,
    MINIAV_LOOPBACK_TARGET_PROCESS,
    MINIAV_LOOPBACK_TARGET_WINDOW,
    MINIAV_LOOPBACK_TARGET_DEVICE          /* one output device */
} MiniAVLoopbackTargetType;

typedef enum {
    MINIAV_LOG_LEVEL_DEBUG = 0,
    MINIAV_LOG_LEVEL_INFO,
    MINIAV_LOG_LEVEL_WARN,
    MINIAV_LOG_LEVEL_ERROR,
    MINIAV_LOG_LEVEL_NONE
} MiniAVLogLevel;

/* What the stream does when it has a new frame and no free buffer, because the
 * application still holds every one. A held buffer is never taken back, so the
 * core always drops the new frame then; the policy decides, in a binding that
 * queues frames before the application sees them (the Node addon), which queued
 * frame gives way. */
typedef enum {
    MINIAV_DROP_NEWEST = 0,
    MINIAV_DROP_OLDEST = 1
} MiniAVDropPolicy;

/* ------------------------------------------------------------------ structs */

#define MINIAV_MAX_PLANES 4

typedef struct {
    char device_id[256];   /* stable, backend-specific */
    char name[256];        /* human-readable, UTF-8 */
    char backend[32];      /* e.g. "test-pattern", "v4l2" */
    int is_default;
    MiniAVDeviceType type;
    /* Screens/windows: geometry in pixels when known (zero otherwise). */
    int32_t x, y;
    uint32_t width, height;
    /* Windows and per-application loopback targets, when known (zero/empty otherwise). */
    uint32_t process_id;
    char class_name[128];
} MiniAVDeviceInfo;

/* frame_rate_numerator/denominator: 0/0 = backend default;
 * n/0 with n > 0 = as fast as possible (MINIAV_FRAME_RATE_UNLIMITED). */
#define MINIAV_FRAME_RATE_UNLIMITED_NUMERATOR 1u
#define MINIAV_FRAME_RATE_UNLIMITED_DENOMINATOR 0u

typedef struct {
    uint32_t width;
    uint32_t height;
    MiniAVPixelFormat pixel_format;
    uint32_t frame_rate_numerator;
    uint32_t frame_rate_denominator;
    MiniAVOutputPreference output_preference;
    /* The driver's own code for the format where the platform has one (a V4L2 fourcc
     * such as 'YUYV'), 0 otherwise. It names formats MiniAV has no pixel format for
     * (pixel_format UNKNOWN): pass it back in Configure to choose such a format. */
    uint32_t fourcc;
} MiniAVVideoFormatInfo;

typedef struct {
    uint32_t sample_rate;
    uint32_t channel_count;
    MiniAVAudioFormat format;
    uint32_t buffer_frames;   /* frames per buffer; 0 = backend default (10 ms) */
} MiniAVAudioInfo;

typedef struct {
    MiniAVLoopbackTargetType type;
    union {
        uint32_t process_id;
        void *window_handle;
    } TARGETHANDLE;
} MiniAVLoopbackTargetInfo;

/* A frame as DMA-BUF file descriptors (MINIAV_BUFFER_CONTENT_TYPE_GPU_DMABUF_FD), for
 * import into EGL/Vulkan/VA-API. The descriptors belong to the stream and stay open
 * until the buffer is released: dup() one to keep it longer. Planes of one buffer may
 * share a descriptor at different offsets. */
typedef struct {
    uint32_t drm_fourcc;     /* DRM_FORMAT_* code of the layout (0 when DRM has none) */
    uint64_t modifier;       /* DRM format modifier; 0 = linear */
    uint32_t num_planes;
    int fd[MINIAV_MAX_PLANES];
    uint32_t offset[MINIAV_MAX_PLANES];
    uint32_t stride[MINIAV_MAX_PLANES];
} MiniAVDmaBufInfo;

/* Pinhole camera model: pixels; distortion as OpenCV's k1 k2 p1 p2 k3. */
typedef struct {
    int valid;
    double fx, fy, cx, cy;
    double distortion[5];
} MiniAVCameraIntrinsics;

typedef enum {
    MINIAV_CURSOR_NONE = 0,       /* no cursor in the frame (default) */
    MINIAV_CURSOR_COMPOSITE = 1,  /* drawn into the pixels */
    MINIAV_CURSOR_METADATA = 2    /* position and image in buffer->data.video.cursor */
} MiniAVCursorMode;

/* The pointer, relative to the captured area. `image` is premultiplied BGRA,
 * width x height, valid as long as the buffer; it lies in the same allocation as
 * planes[0], after the frame. NULL when unknown. */
typedef struct {
    int visible;
    int32_t x, y;               /* hotspot position in frame pixels */
    uint32_t hot_x, hot_y;
    uint32_t width, height;
    uint32_t serial;            /* changes when the cursor image changes */
    const uint8_t *image;
} MiniAVCursorInfo;

typedef struct {
    MiniAVBufferType type;
    MiniAVBufferContentType content_type;
    int64_t timestamp_us;      /* MiniAV_GetTimeUs() clock */
    uint64_t sequence;         /* 0 for the first buffer after start */

    union {
        struct {
            uint32_t width;
            uint32_t height;
            MiniAVPixelFormat pixel_format;
            uint32_t num_planes;
            uint32_t stride_bytes[MINIAV_MAX_PLANES];
            void *planes[MINIAV_MAX_PLANES];
            size_t plane_size_bytes[MINIAV_MAX_PLANES];
            /* Content type GPU_D3D11_HANDLE (Windows): an NT handle to the frame's texture
             * (D3D11_RESOURCE_MISC_SHARED_NTHANDLE), owned by MiniAV and valid until release:
             * open it on your own device (ID3D11Device1::OpenSharedResource1), do not close it;
             * DuplicateHandle it to keep it longer. The texture pointer is that texture on
             * MiniAV's own device: identification only, its context is MiniAV's to use. */
            void *native_gpu_shared_handle;
            void *native_gpu_texture_ptr;
            int native_gpu_dmabuf_fd;  /* dmabuf.fd[0] */
            MiniAVDmaBufInfo dmabuf;   /* content type GPU_DMABUF_FD */
            uint32_t fourcc;           /* as in MiniAVVideoFormatInfo */
            MiniAVCameraIntrinsics intrinsics;
            MiniAVCursorInfo cursor;   /* screens with MINIAV_CURSOR_METADATA */
        } video;
        struct {
            uint32_t frame_count;
            uint32_t channel_count;
            uint32_t sample_rate;
            MiniAVAudioFormat format;
            void *data;  /* interleaved */
        } audio;
    } data;

    size_t data_size_bytes;
    void *user_data;
    void *internal_handle;     /* pass to MiniAV_ReleaseBuffer */
} MiniAVBuffer;

/* Counters of one stream; every frame a backend produced is in exactly one of
 * delivered or dropped. */
typedef struct {
    uint64_t delivered;   /* handed to the callback */
    uint64_t dropped;     /* produced but not delivered: no free buffer */
    uint64_t held;        /* delivered and not yet released, now */
    uint64_t copies;      /* frame copies made inside the core/backend */
    uint64_t skipped;     /* frames not produced because nothing changed (screen damage tracking) */
    uint32_t pool_size;   /* buffers in the stream's pool */
} MiniAVStats;

typedef struct MiniAVCameraContext *MiniAVCameraContextHandle;
typedef struct MiniAVScreenContext *MiniAVScreenContextHandle;
typedef struct MiniAVAudioContext *MiniAVAudioContextHandle;
typedef struct MiniAVLoopbackContext *MiniAVLoopbackContextHandle;

/* Called on a library thread. Keep it short; release the buffer from any thread. */
typedef void (*MiniAVBufferCallback)(const MiniAVBuffer *buffer, void *user_data);
typedef void (*MiniAVLogCallback)(MiniAVLogLevel level, const char *message, void *user_data);

/* ------------------------------------------------------------------ common */

MINIAV_API MiniAVResultCode MiniAV_GetVersion(uint32_t *major, uint32_t *minor, uint32_t *patch);
MINIAV_API const char *MiniAV_GetVersionString(void);
MINIAV_API MiniAVResultCode MiniAV_SetLogCallback(MiniAVLogCallback callback, void *user_data);
MINIAV_API MiniAVResultCode MiniAV_SetLogLevel(MiniAVLogLevel level);
/* Short description of a code ("Device not found"). */
MINIAV_API const char *MiniAV_GetErrorString(MiniAVResultCode code);
/* Name of a code ("MINIAV_ERROR_DEVICE_NOT_FOUND"). */
MINIAV_API const char *MiniAV_GetErrorName(MiniAVResultCode code);
/* What went wrong in the last failed call on this thread, and what to do about
 * it ("width 9000 is larger than 7680, the test pattern's maximum"). Never NULL. */
MINIAV_API const char *MiniAV_GetLastErrorMessage(void);
/* Monotonic microseconds (CLOCK_MONOTONIC on Linux): every buffer's timestamp. */
MINIAV_API int64_t MiniAV_GetTimeUs(void);
/* Thread-safe, idempotent, valid after Stop/Destroy. */
MINIAV_API MiniAVResultCode MiniAV_ReleaseBuffer(void *internal_handle);
MINIAV_API MiniAVResultCode MiniAV_FreeDeviceList(MiniAVDeviceInfo *devices, uint32_t count);
MINIAV_API MiniAVResultCode MiniAV_FreeFormatList(void *formats, uint32_t count);
MINIAV_API const char *MiniAV_PixelFormatName(MiniAVPixelFormat format);  /* "bgra", "nv12" … */
MINIAV_API MiniAVPixelFormat MiniAV_PixelFormatFromName(const char *name);
MINIAV_API const char *MiniAV_AudioFormatName(MiniAVAudioFormat format);  /* "f32", "s16" … */
MINIAV_API MiniAVAudioFormat MiniAV_AudioFormatFromName(const char *name);
/* Backends: NULL name = automatic (the default, or MINIAV_<TYPE>_BACKEND from the environment). */
MINIAV_API MiniAVResultCode MiniAV_SetBackend(MiniAVDeviceType type, const char *backend_name);
/* Comma-separated names of the backends compiled in for a type, available or not. */
MINIAV_API const char *MiniAV_GetBackendNames(MiniAVDeviceType type);

/* Device lists that update: the callback hears of every device (screen: display or
 * window; loopback: target) that appears or goes away, on a library thread. The first
 * list counts as the starting point, not as additions. Polls the backends' enumeration
 * every interval_ms (0 = 1000). */
typedef enum { MINIAV_DEVICE_ADDED = 1, MINIAV_DEVICE_REMOVED = 2 } MiniAVDeviceEvent;
typedef void (*MiniAVDeviceCallback)(MiniAVDeviceEvent event, const MiniAVDeviceInfo *device, void *user_data);
typedef struct MiniAVDeviceWatch *MiniAVDeviceWatchHandle;
MINIAV_API MiniAVResultCode MiniAV_WatchDevices(MiniAVDeviceType type, uint32_t interval_ms, MiniAVDeviceCallback callback,
                                                void *user_data, MiniAVDeviceWatchHandle *watch_out);
/* No callback runs after it returns. */
MINIAV_API MiniAVResultCode MiniAV_UnwatchDevices(MiniAVDeviceWatchHandle watch);

/* ------------------------------------------------------------------ camera */

MINIAV_API MiniAVResultCode MiniAV_Camera_EnumerateDevices(MiniAVDeviceInfo **devices, uint32_t *count);
MINIAV_API MiniAVResultCode MiniAV_Camera_GetSupportedFormats(const char *device_id, MiniAVVideoFormatInfo **formats, uint32_t *count);
MINIAV_API MiniAVResultCode MiniAV_Camera_CreateContext(MiniAVCameraContextHandle *context);
MINIAV_API MiniAVResultCode MiniAV_Camera_DestroyContext(MiniAVCameraContextHandle context);
MINIAV_API MiniAVResultCode MiniAV_Camera_Configure(MiniAVCameraContextHandle context, const char *device_id, const MiniAVVideoFormatInfo *format);
MINIAV_API MiniAVResultCode MiniAV_Camera_GetConfiguredFormat(MiniAVCameraContextHandle context, MiniAVVideoFormatInfo *format_out);
MINIAV_API MiniAVResultCode MiniAV_Camera_StartCapture(MiniAVCameraContextHandle context, MiniAVBufferCallback callback, void *user_data);
MINIAV_API MiniAVResultCode MiniAV_Camera_StopCapture(MiniAVCameraContextHandle context);
MINIAV_API MiniAVResultCode MiniAV_Camera_SetIntrinsics(MiniAVCameraContextHandle context, const MiniAVCameraIntrinsics *intrinsics);

/* Camera properties (brightness, exposure, focus, ...), one API for every platform.
 * A property has a portable name where MiniAV knows the control: "brightness",
 * "contrast", "saturation", "hue", "gamma", "sharpness", "gain", "exposure",
 * "white-balance" (temperature, K), "focus", "zoom", "pan", "tilt",
 * "backlight-compensation", "power-line-frequency". Other controls of the driver are
 * listed under the driver's own name, lower case with '_' (as `v4l2-ctl -l` prints them).
 * "Automatic" is part of the property (has_auto/is_auto), not a property of its own.
 * The functions need a configured camera context. */
typedef enum {
    MINIAV_PROPERTY_TYPE_INTEGER = 0,
    MINIAV_PROPERTY_TYPE_BOOLEAN = 1,
    MINIAV_PROPERTY_TYPE_MENU = 2,    /* value is one of menu[].value */
    MINIAV_PROPERTY_TYPE_BUTTON = 3   /* any set triggers an action; no value */
} MiniAVPropertyType;

#define MINIAV_PROPERTY_MAX_MENU 32

typedef struct {
    int64_t value;
    char name[64];
} MiniAVPropertyMenuItem;

typedef struct {
    char name[64];       /* what Get/Set take */
    char label[64];      /* the driver's description ("Brightness") */
    MiniAVPropertyType type;
    int64_t min, max, step, default_value;
    int64_t value;       /* when listed */
    int has_auto;        /* SetPropertyAuto works */
    int is_auto;         /* the device sets the value itself now */
    int read_only;
    int inactive;        /* no effect now (usually: automatic is on) */
    uint32_t menu_count;
    MiniAVPropertyMenuItem menu[MINIAV_PROPERTY_MAX_MENU];
} MiniAVCameraProperty;

/* Free the list with MiniAV_FreeFormatList. */
MINIAV_API MiniAVResultCode MiniAV_Camera_ListProperties(MiniAVCameraContextHandle context, MiniAVCameraProperty **properties, uint32_t *count);
/* is_auto may be NULL. */
MINIAV_API MiniAVResultCode MiniAV_Camera_GetProperty(MiniAVCameraContextHandle context, const char *name, int64_t *value, int *is_auto);
/* Setting a value turns automatic off for that property. */
MINIAV_API MiniAVResultCode MiniAV_Camera_SetProperty(MiniAVCameraContextHandle context, const char *name, int64_t value);
MINIAV_API MiniAVResultCode MiniAV_Camera_SetPropertyAuto(MiniAVCameraContextHandle context, const char *name, int enable);

/* ------------------------------------------------------------------ screen */

MINIAV_API MiniAVResultCode MiniAV_Screen_EnumerateDisplays(MiniAVDeviceInfo **displays, uint32_t *count);
MINIAV_API MiniAVResultCode MiniAV_Screen_EnumerateWindows(MiniAVDeviceInfo **windows, uint32_t *count);
MINIAV_API MiniAVResultCode MiniAV_Screen_GetSupportedFormats(const char *display_id, MiniAVVideoFormatInfo **formats, uint32_t *count);
MINIAV_API MiniAVResultCode MiniAV_Screen_CreateContext(MiniAVScreenContextHandle *context);
MINIAV_API MiniAVResultCode MiniAV_Screen_DestroyContext(MiniAVScreenContextHandle context);
MINIAV_API MiniAVResultCode MiniAV_Screen_ConfigureDisplay(MiniAVScreenContextHandle context, const char *display_id, const MiniAVVideoFormatInfo *format);
MINIAV_API MiniAVResultCode MiniAV_Screen_ConfigureWindow(MiniAVScreenContextHandle context, const char *window_id, const MiniAVVideoFormatInfo *format);
MINIAV_API MiniAVResultCode MiniAV_Screen_ConfigureRegion(MiniAVScreenContextHandle context, const char *display_id, int x, int y, int width, int height, const MiniAVVideoFormatInfo *format);
typedef struct {
    MiniAVCursorMode cursor;
    int skip_unchanged;   /* non-zero: deliver a frame only when the screen changed (XDamage) */
    /* Wayland portal: a token from MiniAV_Screen_GetRestoreToken of an earlier session
     * brings back the same source without asking the user again ("" = ask). */
    char restore_token[256];
} MiniAVScreenOptions;
/* Before StartCapture; applies to the next start. */
MINIAV_API MiniAVResultCode MiniAV_Screen_SetOptions(MiniAVScreenContextHandle context, const MiniAVScreenOptions *options);
MINIAV_API MiniAVResultCode MiniAV_Screen_GetConfiguredFormat(MiniAVScreenContextHandle context, MiniAVVideoFormatInfo *format_out);
/* After configuring a portal source: a token to pass in MiniAVScreenOptions.restore_token
 * next time, so the user is not asked again ("" when the portal gave none). */
MINIAV_API MiniAVResultCode MiniAV_Screen_GetRestoreToken(MiniAVScreenContextHandle context, char *token_out, size_t size);
/* optional_audio_format_for_loopback: non-NULL adds the system mix (the first system
 * loopback target: PulseAudio's default output on Linux) to the stream; its buffers
 * (type AUDIO) come through the same callback, on the same clock. NOT_SUPPORTED when no
 * loopback backend offers system audio. */
MINIAV_API MiniAVResultCode MiniAV_Screen_StartCapture(MiniAVScreenContextHandle context, MiniAVBufferCallback callback, void *user_data, const MiniAVAudioInfo *optional_audio_format_for_loopback);
MINIAV_API MiniAVResultCode MiniAV_Screen_StopCapture(MiniAVScreenContextHandle context);

/* ------------------------------------------------------------------ audio input */

MINIAV_API MiniAVResultCode MiniAV_Audio_EnumerateDevices(MiniAVDeviceInfo **devices, uint32_t *count);
MINIAV_API MiniAVResultCode MiniAV_Audio_GetSupportedFormats(const char *device_id, MiniAVAudioInfo **formats, uint32_t *count);
MINIAV_API MiniAVResultCode MiniAV_Audio_CreateContext(MiniAVAudioContextHandle *context);
MINIAV_API MiniAVResultCode MiniAV_Audio_DestroyContext(MiniAVAudioContextHandle context);
MINIAV_API MiniAVResultCode MiniAV_Audio_Configure(MiniAVAudioContextHandle context, const char *device_id, const MiniAVAudioInfo *format);
MINIAV_API MiniAVResultCode MiniAV_Audio_GetConfiguredFormat(MiniAVAudioContextHandle context, MiniAVAudioInfo *format_out);
MINIAV_API MiniAVResultCode MiniAV_Audio_StartCapture(MiniAVAudioContextHandle context, MiniAVBufferCallback callback, void *user_data);
MINIAV_API MiniAVResultCode MiniAV_Audio_StopCapture(MiniAVAudioContextHandle context);

/* ------------------------------------------------------------------ loopback */

MINIAV_API MiniAVResultCode MiniAV_Loopback_EnumerateTargets(MiniAVLoopbackTargetType target_type_filter, MiniAVDeviceInfo **targets, uint32_t *count);
MINIAV_API MiniAVResultCode MiniAV_Loopback_GetSupportedFormats(const char *target_id, MiniAVAudioInfo **formats, uint32_t *count);
MINIAV_API MiniAVResultCode MiniAV_Loopback_CreateContext(MiniAVLoopbackContextHandle *context);
MINIAV_API MiniAVResultCode MiniAV_Loopback_DestroyContext(MiniAVLoopbackContextHandle context);
MINIAV_API MiniAVResultCode MiniAV_Loopback_Configure(MiniAVLoopbackContextHandle context, const char *target_device_id, const MiniAVAudioInfo *format);
/* PROCESS: the first playing stream of that process id (DEVICE_NOT_FOUND when it plays
 * nothing now); SYSTEM_AUDIO: the system mix. WINDOW is NOT_SUPPORTED on Linux. */
MINIAV_API MiniAVResultCode MiniAV_Loopback_ConfigureWithTargetInfo(MiniAVLoopbackContextHandle context, const MiniAVLoopbackTargetInfo *target_info, const MiniAVAudioInfo *format);
/* The target id that MiniAV_Loopback_ConfigureWithTargetInfo would configure for this
 * target (PROCESS or SYSTEM_AUDIO), e.g. to show it or to pass to Configure later. */
MINIAV_API MiniAVResultCode MiniAV_Loopback_GetTargetId(const MiniAVLoopbackTargetInfo *target_info, char *id_out, size_t id_size);
MINIAV_API MiniAVResultCode MiniAV_Loopback_GetConfiguredFormat(MiniAVLoopbackContextHandle context, MiniAVAudioInfo *format_out);
MINIAV_API MiniAVResultCode MiniAV_Loopback_StartCapture(MiniAVLoopbackContextHandle context, MiniAVBufferCallback callback, void *user_data);
MINIAV_API MiniAVResultCode MiniAV_Loopback_StopCapture(MiniAVLoopbackContextHandle context);

/* ------------------------------------------------------------------ streams (any context type) */

/* Any of the four context handles may be passed where these take `void *context`. */
typedef struct {
    uint32_t pool_size;            /* buffers in the pool; 0 = default (video 4, audio 16) */
    MiniAVDropPolicy drop_policy;  /* default MINIAV_DROP_NEWEST */
    char backend[32];              /* "" = automatic; else this backend only (overrides MiniAV_SetBackend) */
} MiniAVStreamOptions;

MINIAV_API MiniAVResultCode MiniAV_Stream_SetOptions(void *context, const MiniAVStreamOptions *options);
MINIAV_API MiniAVResultCode MiniAV_Stream_GetStats(void *context, MiniAVStats *stats_out);
/* Adds n to the stream's copy counter: for a binding that had to copy a frame. */
MINIAV_API MiniAVResultCode MiniAV_Stream_AddCopies(void *context, uint64_t n);
/* Things that happen to a stream besides buffers. Called on a library thread. */
typedef enum {
    MINIAV_EVENT_ERROR = 1,           /* result says what; the stream has stopped */
    MINIAV_EVENT_ENDED = 2,           /* the source ended (window closed, device gone) */
    MINIAV_EVENT_FORMAT_CHANGED = 3,  /* next buffers have a new size/format */
    MINIAV_EVENT_SOURCE_PAUSED = 4,   /* source hidden (window unmapped/minimized): no frames for now */
    MINIAV_EVENT_SOURCE_RESUMED = 5   /* frames flow again */
} MiniAVStreamEventType;
typedef void (*MiniAVStreamEventCallback)(MiniAVStreamEventType event, MiniAVResultCode result,
                                          const char *message, void *user_data);
MINIAV_API MiniAVResultCode MiniAV_Stream_SetEventCallback(void *context, MiniAVStreamEventCallback callback, void *user_data);
/* Releases every buffer of this stream that the application still holds, for a
 * binding whose consumer is gone (a terminated worker). Never call it while the
 * application may still read those buffers. */
MINIAV_API MiniAVResultCode MiniAV_Stream_ReleaseAll(void *context);
/* Name of the backend the stream was configured with, or "" before Configure. */
MINIAV_API const char *MiniAV_Stream_GetBackendName(void *context);

#ifdef __cplusplus
}
#endif
#endif /* MINIAV_H */
