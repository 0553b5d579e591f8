/* PipeWire video: see pipewire_video.h.
 *
 * libpipewire-0.3 is dlopened; the SPA helpers (pods, format parsing) are header-only.
 *
 * Zero copy and buffer lifetime: a dequeued pw_buffer goes to the application and is
 * queued back only when it is released. Releases come from any thread while the core's
 * buffer lock is held, and pw_stream calls need the loop's lock, which the loop thread
 * holds while it takes the buffer lock to deliver: so a release only records the buffer
 * and wakes the loop (an event source), and the loop thread queues it. Every buffer's
 * memory is mapped by us (a dup of its descriptor, or a second mapping of PipeWire's shared
 * block), never read through PipeWire's own mapping, so a held frame stays readable after
 * PipeWire removes the buffer (renegotiation, Stop, the node going away); our mappings are
 * undone at the pool's last release. As with V4L2, one
 * buffer always stays with PipeWire: a frame that would take the last one is dropped
 * (counted) and queued straight back.
 */
#define _GNU_SOURCE
#include "pipewire_video.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <pipewire/pipewire.h>
#include <spa/buffer/meta.h>
#include <spa/param/video/format-utils.h>
#include <spa/pod/builder.h>
#include <spa/pod/iter.h>

/* ------------------------------------------------------------------ the library */

static struct {
    void (*init)(int *argc, char ***argv);
    struct pw_thread_loop *(*thread_loop_new)(const char *name, const struct spa_dict *props);
    void (*thread_loop_destroy)(struct pw_thread_loop *loop);
    int (*thread_loop_start)(struct pw_thread_loop *loop);
    void (*thread_loop_stop)(struct pw_thread_loop *loop);
    void (*thread_loop_lock)(struct pw_thread_loop *loop);
    void (*thread_loop_unlock)(struct pw_thread_loop *loop);
    void (*thread_loop_signal)(struct pw_thread_loop *loop, bool wait_for_accept);
    int (*thread_loop_timed_wait)(struct pw_thread_loop *loop, int wait_max_sec);
    struct pw_loop *(*thread_loop_get_loop)(struct pw_thread_loop *loop);
    struct pw_context *(*context_new)(struct pw_loop *main_loop, struct pw_properties *props, size_t user_data_size);
    void (*context_destroy)(struct pw_context *context);
    struct pw_core *(*context_connect)(struct pw_context *context, struct pw_properties *properties, size_t user_data_size);
    struct pw_core *(*context_connect_fd)(struct pw_context *context, int fd, struct pw_properties *properties, size_t user_data_size);
    int (*core_disconnect)(struct pw_core *core);
    void (*proxy_destroy)(struct pw_proxy *proxy);
    struct pw_properties *(*properties_new)(const char *key, ...);
    struct pw_stream *(*stream_new)(struct pw_core *core, const char *name, struct pw_properties *props);
    void (*stream_add_listener)(struct pw_stream *stream, struct spa_hook *listener, const struct pw_stream_events *events, void *data);
    int (*stream_connect)(struct pw_stream *stream, enum spa_direction direction, uint32_t target_id, enum pw_stream_flags flags,
                          const struct spa_pod **params, uint32_t n_params);
    int (*stream_disconnect)(struct pw_stream *stream);
    void (*stream_destroy)(struct pw_stream *stream);
    struct pw_buffer *(*stream_dequeue_buffer)(struct pw_stream *stream);
    int (*stream_queue_buffer)(struct pw_stream *stream, struct pw_buffer *buffer);
    int (*stream_update_params)(struct pw_stream *stream, const struct spa_pod **params, uint32_t n_params);
} pw;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;
static miniav_library *library; /* stays loaded: its threads may outlive any one stream */

static void load(void) {
    static const char *const names[] = {"libpipewire-0.3.so.0", "libpipewire-0.3.so", NULL};
    miniav_library *lib = miniav_library_open(names);
    if (!lib) return;
    const miniav_symbol table[] = {
        {"pw_init", (void **)&pw.init},
        {"pw_thread_loop_new", (void **)&pw.thread_loop_new},
        {"pw_thread_loop_destroy", (void **)&pw.thread_loop_destroy},
        {"pw_thread_loop_start", (void **)&pw.thread_loop_start},
        {"pw_thread_loop_stop", (void **)&pw.thread_loop_stop},
        {"pw_thread_loop_lock", (void **)&pw.thread_loop_lock},
        {"pw_thread_loop_unlock", (void **)&pw.thread_loop_unlock},
        {"pw_thread_loop_signal", (void **)&pw.thread_loop_signal},
        {"pw_thread_loop_timed_wait", (void **)&pw.thread_loop_timed_wait},
        {"pw_thread_loop_get_loop", (void **)&pw.thread_loop_get_loop},
        {"pw_context_new", (void **)&pw.context_new},
        {"pw_context_destroy", (void **)&pw.context_destroy},
        {"pw_context_connect", (void **)&pw.context_connect},
        {"pw_context_connect_fd", (void **)&pw.context_connect_fd},
        {"pw_core_disconnect", (void **)&pw.core_disconnect},
        {"pw_proxy_destroy", (void **)&pw.proxy_destroy},
        {"pw_properties_new", (void **)&pw.properties_new},
        {"pw_stream_new", (void **)&pw.stream_new},
        {"pw_stream_add_listener", (void **)&pw.stream_add_listener},
        {"pw_stream_connect", (void **)&pw.stream_connect},
        {"pw_stream_disconnect", (void **)&pw.stream_disconnect},
        {"pw_stream_destroy", (void **)&pw.stream_destroy},
        {"pw_stream_dequeue_buffer", (void **)&pw.stream_dequeue_buffer},
        {"pw_stream_queue_buffer", (void **)&pw.stream_queue_buffer},
        {"pw_stream_update_params", (void **)&pw.stream_update_params},
    };
    if (miniav_library_load_symbols(lib, table, sizeof table / sizeof table[0])) {
        miniav_log(MINIAV_LOG_LEVEL_INFO, "pipewire: %s", MiniAV_GetLastErrorMessage());
        miniav_library_close(lib);
        return;
    }
    pw.init(NULL, NULL);
    library = lib;
    loaded = true;
}

bool miniav_pw_load(void) {
    pthread_once(&load_once, load);
    return loaded;
}

/* ------------------------------------------------------------------ connection */

struct miniav_pw_conn {
    struct pw_thread_loop *loop;
    struct pw_context *context;
    struct pw_core *core;
    struct spa_hook core_listener;
    int pending_seq;
    bool done, failed;
};

static void on_core_done(void *data, uint32_t id, int seq) {
    miniav_pw_conn *c = data;
    if (id == PW_ID_CORE && seq == c->pending_seq) {
        c->done = true;
        pw.thread_loop_signal(c->loop, false);
    }
}

static void on_core_error(void *data, uint32_t id, int seq, int res, const char *message) {
    miniav_pw_conn *c = data;
    (void)seq;
    if (id == PW_ID_CORE && res == -EPIPE) { /* the daemon went away */
        c->failed = true;
        pw.thread_loop_signal(c->loop, false);
    }
    miniav_log(MINIAV_LOG_LEVEL_DEBUG, "pipewire: error on object %u: %s", id, message ? message : "");
}

static const struct pw_core_events core_events = {
    PW_VERSION_CORE_EVENTS,
    .done = on_core_done,
    .error = on_core_error,
};

/* Waits (loop locked) until the server has handled everything sent so far. */
static bool roundtrip(miniav_pw_conn *c) {
    c->done = false;
    c->pending_seq = pw_core_sync(c->core, PW_ID_CORE, 0);
    while (!c->done && !c->failed)
        if (pw.thread_loop_timed_wait(c->loop, 2) != 0) return false;
    return c->done;
}

MiniAVResultCode miniav_pw_connect(int fd, miniav_pw_conn **out) {
    if (!miniav_pw_load()) {
        if (fd >= 0) close(fd);
        return miniav_fail(MINIAV_ERROR_BACKEND_UNAVAILABLE, "libpipewire-0.3 is not installed (Debian/Ubuntu: libpipewire-0.3-0)");
    }
    miniav_pw_conn *c = calloc(1, sizeof *c);
    if (!c) {
        if (fd >= 0) close(fd);
        return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    c->loop = pw.thread_loop_new("miniav-pipewire", NULL);
    if (c->loop) c->context = pw.context_new(pw.thread_loop_get_loop(c->loop), NULL, 0);
    if (!c->context || pw.thread_loop_start(c->loop) < 0) {
        if (fd >= 0) close(fd);
        miniav_pw_disconnect(c);
        return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "cannot start a PipeWire loop");
    }
    pw.thread_loop_lock(c->loop);
    c->core = fd >= 0 ? pw.context_connect_fd(c->context, fd, NULL, 0) : pw.context_connect(c->context, NULL, 0);
    if (c->core) pw_core_add_listener(c->core, &c->core_listener, &core_events, c);
    bool ok = c->core && roundtrip(c);
    pw.thread_loop_unlock(c->loop);
    if (!ok) {
        miniav_pw_disconnect(c);
        return miniav_fail(MINIAV_ERROR_BACKEND_UNAVAILABLE, "no PipeWire daemon answers (is pipewire running in this session?)");
    }
    *out = c;
    return MINIAV_SUCCESS;
}

void miniav_pw_disconnect(miniav_pw_conn *c) {
    if (!c) return;
    if (c->loop) pw.thread_loop_stop(c->loop);
    if (c->core) {
        spa_hook_remove(&c->core_listener);
        pw.core_disconnect(c->core);
    }
    if (c->context) pw.context_destroy(c->context);
    if (c->loop) pw.thread_loop_destroy(c->loop);
    free(c);
}

/* ------------------------------------------------------------------ nodes */

typedef struct {
    miniav_pw_conn *conn;
    const char *role_filter;
    miniav_pw_node *items;
    uint32_t count, capacity;
    bool oom;
} node_listing;

static void on_global(void *data, uint32_t id, uint32_t permissions, const char *type, uint32_t version, const struct spa_dict *props) {
    node_listing *l = data;
    (void)permissions, (void)version;
    if (strcmp(type, PW_TYPE_INTERFACE_Node) || !props) return;
    const char *cls = spa_dict_lookup(props, PW_KEY_MEDIA_CLASS);
    const char *role = spa_dict_lookup(props, PW_KEY_MEDIA_ROLE);
    const char *name = spa_dict_lookup(props, PW_KEY_NODE_NAME);
    if (!cls || strcmp(cls, "Video/Source") || !name) return;
    if (l->role_filter && (!role || strcmp(role, l->role_filter))) return;
    if (l->count == l->capacity) {
        uint32_t cap = l->capacity ? l->capacity * 2 : 8;
        miniav_pw_node *grown = realloc(l->items, cap * sizeof *grown);
        if (!grown) {
            l->oom = true;
            return;
        }
        l->items = grown;
        l->capacity = cap;
    }
    miniav_pw_node *n = &l->items[l->count++];
    memset(n, 0, sizeof *n);
    n->id = id;
    miniav_copy_string(n->name, sizeof n->name, name);
    const char *desc = spa_dict_lookup(props, PW_KEY_NODE_DESCRIPTION);
    if (!desc) desc = spa_dict_lookup(props, PW_KEY_NODE_NICK);
    miniav_copy_string(n->description, sizeof n->description, desc ? desc : name);
    miniav_copy_string(n->media_class, sizeof n->media_class, cls);
    miniav_copy_string(n->role, sizeof n->role, role);
}

static const struct pw_registry_events registry_events = {PW_VERSION_REGISTRY_EVENTS, .global = on_global};

MiniAVResultCode miniav_pw_list_video_sources(miniav_pw_conn *c, const char *role_filter, miniav_pw_node **nodes, uint32_t *count) {
    node_listing l = {.conn = c, .role_filter = role_filter};
    struct spa_hook listener;
    pw.thread_loop_lock(c->loop);
    struct pw_registry *reg = pw_core_get_registry(c->core, PW_VERSION_REGISTRY, 0);
    bool ok = false;
    if (reg) {
        spa_zero(listener);
        pw_registry_add_listener(reg, &listener, &registry_events, &l);
        ok = roundtrip(c);
        spa_hook_remove(&listener);
        pw.proxy_destroy((struct pw_proxy *)reg);
    }
    pw.thread_loop_unlock(c->loop);
    if (l.oom || !ok) {
        free(l.items);
        return l.oom ? miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory")
                     : miniav_fail(MINIAV_ERROR_TIMEOUT, "the PipeWire daemon did not answer in time");
    }
    *nodes = l.items;
    *count = l.count;
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ formats */

static const struct {
    uint32_t spa;
    MiniAVPixelFormat format;
    uint32_t drm; /* DRM_FORMAT_* with the same bytes, for DMA-BUF */
} format_table[] = {
    {SPA_VIDEO_FORMAT_YUY2, MINIAV_PIXEL_FORMAT_YUY2, 0x56595559},  {SPA_VIDEO_FORMAT_UYVY, MINIAV_PIXEL_FORMAT_UYVY, 0x59565955},
    {SPA_VIDEO_FORMAT_NV12, MINIAV_PIXEL_FORMAT_NV12, 0x3231564e},  {SPA_VIDEO_FORMAT_NV21, MINIAV_PIXEL_FORMAT_NV21, 0x3132564e},
    {SPA_VIDEO_FORMAT_I420, MINIAV_PIXEL_FORMAT_I420, 0x32315559},  {SPA_VIDEO_FORMAT_RGB, MINIAV_PIXEL_FORMAT_RGB24, 0x34324742},
    {SPA_VIDEO_FORMAT_BGR, MINIAV_PIXEL_FORMAT_BGR24, 0x34324752},   {SPA_VIDEO_FORMAT_BGRA, MINIAV_PIXEL_FORMAT_BGRA32, 0x34325241},
    {SPA_VIDEO_FORMAT_RGBA, MINIAV_PIXEL_FORMAT_RGBA32, 0x34324241}, {SPA_VIDEO_FORMAT_BGRx, MINIAV_PIXEL_FORMAT_BGRX32, 0x34325258},
    {SPA_VIDEO_FORMAT_RGBx, MINIAV_PIXEL_FORMAT_RGBX32, 0x34324258}, {SPA_VIDEO_FORMAT_ARGB, MINIAV_PIXEL_FORMAT_ARGB32, 0x34324142},
    {SPA_VIDEO_FORMAT_ABGR, MINIAV_PIXEL_FORMAT_ABGR32, 0x34324152}, {SPA_VIDEO_FORMAT_GRAY8, MINIAV_PIXEL_FORMAT_GRAY8, 0x20203852},
};
#define FORMAT_COUNT (sizeof format_table / sizeof format_table[0])

static MiniAVPixelFormat from_spa(uint32_t spa) {
    for (size_t i = 0; i < FORMAT_COUNT; i++)
        if (format_table[i].spa == spa) return format_table[i].format;
    return MINIAV_PIXEL_FORMAT_UNKNOWN;
}

static uint32_t to_spa(MiniAVPixelFormat f) {
    for (size_t i = 0; i < FORMAT_COUNT; i++)
        if (format_table[i].format == f) return format_table[i].spa;
    return SPA_VIDEO_FORMAT_UNKNOWN;
}

static uint32_t drm_of(MiniAVPixelFormat f) {
    for (size_t i = 0; i < FORMAT_COUNT; i++)
        if (format_table[i].format == f) return format_table[i].drm;
    return 0;
}

typedef struct {
    MiniAVVideoFormatInfo *items;
    uint32_t count, capacity;
    bool oom;
} format_list;

static void add_format(format_list *l, MiniAVPixelFormat pf, uint32_t w, uint32_t h, uint32_t num, uint32_t den) {
    for (uint32_t i = 0; i < l->count; i++) {
        const MiniAVVideoFormatInfo *f = &l->items[i];
        if (f->pixel_format == pf && f->width == w && f->height == h && f->frame_rate_numerator == num && f->frame_rate_denominator == den)
            return;
    }
    if (l->count == l->capacity) {
        uint32_t cap = l->capacity ? l->capacity * 2 : 16;
        MiniAVVideoFormatInfo *grown = realloc(l->items, cap * sizeof *grown);
        if (!grown) {
            l->oom = true;
            return;
        }
        l->items = grown;
        l->capacity = cap;
    }
    MiniAVVideoFormatInfo *f = &l->items[l->count++];
    memset(f, 0, sizeof *f);
    f->pixel_format = pf;
    f->width = w;
    f->height = h;
    f->frame_rate_numerator = num;
    f->frame_rate_denominator = den;
}

static const struct spa_rectangle common_sizes[] = {{320, 240}, {640, 360}, {640, 480}, {1280, 720}, {1920, 1080}, {3840, 2160}};
static const uint32_t common_rates[] = {5, 10, 15, 24, 25, 30, 50, 60};

/* The values of a property: a fixed value, an enumeration (the first entry is the default,
 * skipped), or a range/step (default, min, max) expanded to its ends and common values. */
static uint32_t prop_values(const struct spa_pod *pod, uint32_t *choice, const void **values, uint32_t *size) {
    uint32_t n;
    struct spa_pod *v = spa_pod_get_values(pod, &n, choice);
    *values = SPA_POD_BODY_CONST(v);
    *size = SPA_POD_BODY_SIZE(v) / (n ? n : 1);
    (void)size;
    return n;
}

static void expand_sizes(const struct spa_pod *pod, struct spa_rectangle *out, uint32_t *n_out, uint32_t max) {
    uint32_t choice, size;
    const void *vals;
    uint32_t n = prop_values(pod, &choice, &vals, &size);
    const struct spa_rectangle *r = vals;
    *n_out = 0;
    if (choice == SPA_CHOICE_None && n >= 1) {
        out[(*n_out)++] = r[0];
    } else if (choice == SPA_CHOICE_Enum) {
        for (uint32_t i = 1; i < n && *n_out < max; i++) out[(*n_out)++] = r[i];
    } else if ((choice == SPA_CHOICE_Range || choice == SPA_CHOICE_Step) && n >= 3) {
        out[(*n_out)++] = r[1];
        for (size_t i = 0; i < sizeof common_sizes / sizeof common_sizes[0] && *n_out < max - 1; i++)
            if (common_sizes[i].width > r[1].width && common_sizes[i].width < r[2].width && common_sizes[i].height > r[1].height &&
                common_sizes[i].height < r[2].height)
                out[(*n_out)++] = common_sizes[i];
        out[(*n_out)++] = r[2];
    }
}

static void expand_rates(const struct spa_pod *pod, struct spa_fraction *out, uint32_t *n_out, uint32_t max) {
    uint32_t choice, size;
    const void *vals;
    *n_out = 0;
    if (!pod) {
        out[(*n_out)++] = SPA_FRACTION(0, 0);
        return;
    }
    uint32_t n = prop_values(pod, &choice, &vals, &size);
    const struct spa_fraction *f = vals;
    if (choice == SPA_CHOICE_None && n >= 1) {
        out[(*n_out)++] = f[0];
    } else if (choice == SPA_CHOICE_Enum) {
        for (uint32_t i = 1; i < n && *n_out < max; i++) out[(*n_out)++] = f[i];
    } else if ((choice == SPA_CHOICE_Range || choice == SPA_CHOICE_Step) && n >= 3) {
        double lo = f[1].denom ? (double)f[1].num / f[1].denom : 0, hi = f[2].denom ? (double)f[2].num / f[2].denom : 0;
        if (hi > 0) out[(*n_out)++] = f[2];
        for (size_t i = 0; i < sizeof common_rates / sizeof common_rates[0] && *n_out < max - 1; i++)
            if (common_rates[i] > lo && common_rates[i] < hi) out[(*n_out)++] = SPA_FRACTION(common_rates[i], 1);
        if (lo > 0) out[(*n_out)++] = f[1];
    }
}

static void add_enum_format(format_list *l, const struct spa_pod *param) {
    uint32_t media_type, media_subtype;
    if (!spa_pod_is_object_type(param, SPA_TYPE_OBJECT_Format) || spa_format_parse(param, &media_type, &media_subtype) < 0 ||
        media_type != SPA_MEDIA_TYPE_video)
        return;
    const struct spa_pod_object *obj = (const struct spa_pod_object *)param;
    MiniAVPixelFormat formats[32];
    uint32_t n_formats = 0;
    if (media_subtype == SPA_MEDIA_SUBTYPE_mjpg) {
        formats[n_formats++] = MINIAV_PIXEL_FORMAT_MJPEG;
    } else if (media_subtype == SPA_MEDIA_SUBTYPE_raw) {
        const struct spa_pod_prop *p = spa_pod_object_find_prop(obj, NULL, SPA_FORMAT_VIDEO_format);
        if (!p) return;
        uint32_t choice, size;
        const void *vals;
        uint32_t n = prop_values(&p->value, &choice, &vals, &size);
        const uint32_t *ids = vals;
        for (uint32_t i = choice == SPA_CHOICE_Enum ? 1 : 0; i < n && n_formats < 32; i++)
            if (from_spa(ids[i]) != MINIAV_PIXEL_FORMAT_UNKNOWN) formats[n_formats++] = from_spa(ids[i]);
    } else {
        return;
    }
    const struct spa_pod_prop *ps = spa_pod_object_find_prop(obj, NULL, SPA_FORMAT_VIDEO_size);
    const struct spa_pod_prop *pr = spa_pod_object_find_prop(obj, NULL, SPA_FORMAT_VIDEO_framerate);
    if (!ps) return;
    struct spa_rectangle sizes[32];
    struct spa_fraction rates[32];
    uint32_t n_sizes, n_rates;
    expand_sizes(&ps->value, sizes, &n_sizes, 32);
    expand_rates(pr ? &pr->value : NULL, rates, &n_rates, 32);
    for (uint32_t f = 0; f < n_formats; f++)
        for (uint32_t s = 0; s < n_sizes; s++)
            for (uint32_t r = 0; r < n_rates; r++) add_format(l, formats[f], sizes[s].width, sizes[s].height, rates[r].num, rates[r].denom);
}

typedef struct {
    format_list list;
    /* Modifier collection (miniav_pw_node_modifiers): the DMA-BUF modifiers offered for one format. */
    uint32_t want_spa_format;
    uint64_t *modifiers;
    uint32_t max_modifiers, n_modifiers;
} param_listing;

static bool offers_format(const struct spa_pod_object *obj, uint32_t spa_format) {
    const struct spa_pod_prop *p = spa_pod_object_find_prop(obj, NULL, SPA_FORMAT_VIDEO_format);
    if (!p) return false;
    uint32_t choice, size;
    const void *vals;
    uint32_t n = prop_values(&p->value, &choice, &vals, &size);
    for (uint32_t i = 0; i < n; i++)
        if (((const uint32_t *)vals)[i] == spa_format) return true;
    return false;
}

static void collect_modifiers(param_listing *pl, const struct spa_pod *param) {
    uint32_t media_type, media_subtype;
    if (!spa_pod_is_object_type(param, SPA_TYPE_OBJECT_Format) || spa_format_parse(param, &media_type, &media_subtype) < 0 ||
        media_type != SPA_MEDIA_TYPE_video || media_subtype != SPA_MEDIA_SUBTYPE_raw)
        return;
    const struct spa_pod_object *obj = (const struct spa_pod_object *)param;
    const struct spa_pod_prop *p = spa_pod_object_find_prop(obj, NULL, SPA_FORMAT_VIDEO_modifier);
    if (!p || !offers_format(obj, pl->want_spa_format)) return;
    uint32_t choice, size;
    const void *vals;
    uint32_t n = prop_values(&p->value, &choice, &vals, &size);
    if (size != sizeof(uint64_t)) return;
    for (uint32_t i = choice == SPA_CHOICE_Enum && n > 1 ? 1 : 0; i < n; i++) {
        uint64_t m = ((const uint64_t *)vals)[i];
        bool seen = false;
        for (uint32_t k = 0; k < pl->n_modifiers; k++) seen |= pl->modifiers[k] == m;
        if (!seen && pl->n_modifiers < pl->max_modifiers) pl->modifiers[pl->n_modifiers++] = m;
    }
}

static void on_node_param(void *data, int seq, uint32_t id, uint32_t index, uint32_t next, const struct spa_pod *param) {
    (void)seq, (void)index, (void)next;
    param_listing *pl = data;
    if (id != SPA_PARAM_EnumFormat || !param) return;
    if (pl->modifiers)
        collect_modifiers(pl, param);
    else
        add_enum_format(&pl->list, param);
}

static const struct pw_node_events node_events = {PW_VERSION_NODE_EVENTS, .param = on_node_param};

/* Asks a node for its EnumFormat params; on_node_param files them into pl. */
static bool enum_formats(miniav_pw_conn *c, uint32_t node_id, param_listing *pl) {
    struct spa_hook node_listener;
    pw.thread_loop_lock(c->loop);
    struct pw_registry *reg = pw_core_get_registry(c->core, PW_VERSION_REGISTRY, 0);
    bool ok = false;
    if (reg) {
        struct pw_node *node = pw_registry_bind(reg, node_id, PW_TYPE_INTERFACE_Node, PW_VERSION_NODE, 0);
        if (node) {
            spa_zero(node_listener);
            pw_node_add_listener(node, &node_listener, &node_events, pl);
            pw_node_enum_params(node, 0, SPA_PARAM_EnumFormat, 0, UINT32_MAX, NULL);
            ok = roundtrip(c);
            spa_hook_remove(&node_listener);
            pw.proxy_destroy((struct pw_proxy *)node);
        }
        pw.proxy_destroy((struct pw_proxy *)reg);
    }
    pw.thread_loop_unlock(c->loop);
    return ok;
}

MiniAVResultCode miniav_pw_node_formats(miniav_pw_conn *c, uint32_t node_id, MiniAVVideoFormatInfo **formats, uint32_t *count) {
    param_listing pl = {0};
    bool ok = enum_formats(c, node_id, &pl);
    if (!ok || pl.list.oom) {
        free(pl.list.items);
        return pl.list.oom ? miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory")
                           : miniav_fail(MINIAV_ERROR_TIMEOUT, "the PipeWire node did not list its formats in time");
    }
    *formats = pl.list.items;
    *count = pl.list.count;
    return MINIAV_SUCCESS;
}

uint32_t miniav_pw_node_modifiers(miniav_pw_conn *c, uint32_t node_id, MiniAVPixelFormat format, uint64_t *modifiers, uint32_t max) {
    param_listing pl = {.want_spa_format = to_spa(format), .modifiers = modifiers, .max_modifiers = max};
    if (pl.want_spa_format == SPA_VIDEO_FORMAT_UNKNOWN || !enum_formats(c, node_id, &pl)) return 0;
    return pl.n_modifiers;
}

static double fps_of(const MiniAVVideoFormatInfo *f) {
    return f->frame_rate_denominator ? (double)f->frame_rate_numerator / f->frame_rate_denominator : 0;
}

MiniAVResultCode miniav_pw_choose_format(const MiniAVVideoFormatInfo *req, const MiniAVVideoFormatInfo *list, uint32_t n, const char *device_id,
                                        MiniAVVideoFormatInfo *out) {
    if (!n) return miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "PipeWire source '%s' lists no video format MiniAV can take", device_id);
    MiniAVPixelFormat want_pf = req->pixel_format ? req->pixel_format : list[0].pixel_format;
    uint32_t want_w = req->width ? req->width : list[0].width, want_h = req->height ? req->height : list[0].height;
    double want_fps = req->frame_rate_numerator && req->frame_rate_denominator ? (double)req->frame_rate_numerator / req->frame_rate_denominator
                      : req->frame_rate_numerator ? 1e9 /* unlimited: the fastest */
                                                  : fps_of(&list[0]);
    const MiniAVVideoFormatInfo *best = NULL;
    double best_size = 0, best_rate = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (list[i].pixel_format != want_pf) continue;
        double ds = (double)abs((int)list[i].width - (int)want_w) + abs((int)list[i].height - (int)want_h);
        double dr = fps_of(&list[i]) > want_fps ? fps_of(&list[i]) - want_fps : want_fps - fps_of(&list[i]);
        if (!best || ds < best_size || (ds == best_size && dr < best_rate)) best = &list[i], best_size = ds, best_rate = dr;
    }
    if (!best) {
        char offered[256] = "";
        for (uint32_t i = 0; i < n; i++) {
            const char *name = MiniAV_PixelFormatName(list[i].pixel_format);
            if (strstr(offered, name)) continue;
            size_t len = strlen(offered);
            if (len + strlen(name) + 3 < sizeof offered) snprintf(offered + len, sizeof offered - len, "%s%s", len ? ", " : "", name);
        }
        return miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "PipeWire source '%s' does not give '%s'; it gives: %s", device_id,
                           MiniAV_PixelFormatName(want_pf), offered);
    }
    *out = *best;
    out->output_preference = req->output_preference;
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ buffers */

#define MAX_BUFFERS 32

typedef struct {
    struct pw_buffer *pwb; /* NULL once PipeWire removed it */
    uint32_t n_planes;
    uint8_t *map[MINIAV_MAX_PLANES]; /* our own mapping of the plane's memory */
    size_t map_len[MINIAV_MAX_PLANES];
    size_t map_offset[MINIAV_MAX_PLANES];
    int fd[MINIAV_MAX_PLANES]; /* our dup of the buffer's descriptor */
    bool dmabuf;
    bool with_app;
} video_buffer;

/* One negotiation's buffers; owned by the pool (its on_free), see the file comment. */
typedef struct {
    pthread_mutex_t lock;
    bool alive;                  /* the stream and its loop exist: releases may wake the loop */
    struct pw_loop *loop;
    struct spa_source *wake;     /* queues released buffers on the loop thread */
    uint32_t count;
    uint32_t pending[MAX_BUFFERS];
    uint32_t n_pending;
    video_buffer bufs[MAX_BUFFERS];
} buffer_set;

static void buffer_set_free(void *ctx) {
    buffer_set *bs = ctx;
    for (uint32_t i = 0; i < bs->count; i++)
        for (uint32_t p = 0; p < bs->bufs[i].n_planes; p++) {
            if (bs->bufs[i].map[p]) munmap(bs->bufs[i].map[p], bs->bufs[i].map_len[p]);
            if (bs->bufs[i].fd[p] >= 0) close(bs->bufs[i].fd[p]);
        }
    pthread_mutex_destroy(&bs->lock);
    free(bs);
}

static void buffer_released(void *ctx, miniav_slot *slot) {
    buffer_set *bs = ctx;
    uint32_t i = (uint32_t)(uintptr_t)slot->backend_cookie;
    pthread_mutex_lock(&bs->lock);
    bs->bufs[i].with_app = false;
    if (bs->alive && bs->bufs[i].pwb && bs->n_pending < MAX_BUFFERS) {
        bs->pending[bs->n_pending++] = i;
        pw_loop_signal_event(bs->loop, bs->wake);
    }
    pthread_mutex_unlock(&bs->lock);
}

/* ------------------------------------------------------------------ the stream */

struct miniav_pw_video {
    miniav_stream *s;
    miniav_pw_conn *conn;
    struct pw_stream *stream;
    struct spa_hook listener;
    struct spa_source *wake;
    buffer_set *bs;       /* current negotiation's; NULL until buffers arrive */
    bool pool_stale;      /* buffers changed: make a pool before the next frame */
    struct spa_video_info_raw info;
    bool mjpeg;
    MiniAVPixelFormat pixel_format;
    bool want_dmabuf;
    uint64_t modifiers[16];     /* the source's DMA-BUF modifiers for the format, offered back */
    uint32_t n_modifiers;
    MiniAVVideoFormatInfo format; /* the fixed format asked for */
    bool ended;
    bool have_seq;
    uint64_t last_seq;   /* the source's frame counter (header metadata) */
    uint32_t node_id;    /* the source node: its removal ends the stream */
    struct pw_registry *registry;
    struct spa_hook registry_listener;
};

/* A source that goes away often only pauses our stream (a portal session closed by the
 * desktop, a camera unplugged): the node's removal from the registry is the sure sign. */
static void on_global_remove(void *data, uint32_t id) {
    miniav_pw_video *v = data;
    if (id != v->node_id || v->ended) return;
    v->ended = true;
    miniav_stream_emit(v->s, MINIAV_EVENT_ERROR, MINIAV_ERROR_DEVICE_LOST, "the PipeWire source went away; the stream has ended");
}

static const struct pw_registry_events video_registry_events = {PW_VERSION_REGISTRY_EVENTS, .global_remove = on_global_remove};

static void on_wake(void *data, uint64_t count) {
    miniav_pw_video *v = data;
    (void)count;
    buffer_set *bs = v->bs;
    if (!bs) return;
    pthread_mutex_lock(&bs->lock);
    for (uint32_t k = 0; k < bs->n_pending; k++) {
        video_buffer *b = &bs->bufs[bs->pending[k]];
        if (b->pwb) pw.stream_queue_buffer(v->stream, b->pwb);
    }
    bs->n_pending = 0;
    pthread_mutex_unlock(&bs->lock);
}

/* A new set of buffers begins: the old set stays with the old pool until its frames are released. */
static buffer_set *current_set(miniav_pw_video *v) {
    if (v->bs) return v->bs;
    buffer_set *bs = calloc(1, sizeof *bs);
    if (!bs) return NULL;
    pthread_mutex_init(&bs->lock, NULL);
    bs->alive = true;
    bs->loop = pw.thread_loop_get_loop(v->conn->loop);
    bs->wake = v->wake;
    v->bs = bs;
    v->pool_stale = true;
    return bs;
}

static void on_add_buffer(void *data, struct pw_buffer *pwb) {
    miniav_pw_video *v = data;
    buffer_set *bs = current_set(v);
    if (!bs || bs->count >= MAX_BUFFERS) return;
    uint32_t i = bs->count++;
    video_buffer *b = &bs->bufs[i];
    memset(b, 0, sizeof *b);
    for (int p = 0; p < MINIAV_MAX_PLANES; p++) b->fd[p] = -1;
    b->pwb = pwb;
    pwb->user_data = (void *)(uintptr_t)(i + 1);
    struct spa_buffer *sb = pwb->buffer;
    b->n_planes = sb->n_datas < MINIAV_MAX_PLANES ? sb->n_datas : MINIAV_MAX_PLANES;
    for (uint32_t p = 0; p < b->n_planes; p++) {
        struct spa_data *d = &sb->datas[p];
        if (d->fd < 0 && d->data) {
            /* Memory inside a block PipeWire shares with the source (MemPtr): mremap with
             * old_size 0 makes a second mapping of the same pages, which stays when
             * PipeWire unmaps its own at the buffer's removal. */
            uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
            uintptr_t at = (uintptr_t)d->data, base = at & ~(page - 1);
            size_t len = ((at - base) + d->maxsize + page - 1) & ~(page - 1);
            void *m = mremap((void *)base, 0, len, MREMAP_MAYMOVE);
            if (m == MAP_FAILED) {
                miniav_log(MINIAV_LOG_LEVEL_WARN, "pipewire: cannot keep a buffer mapped (%s); its frames are dropped", strerror(errno));
                continue;
            }
            b->map[p] = m;
            b->map_len[p] = len;
            b->map_offset[p] = at - base;
            continue;
        }
        /* The source's own buffers (e.g. a V4L2 or libcamera node's): map a dup of the
         * descriptor ourselves so a held frame survives the buffer's removal. */
        if ((d->type != SPA_DATA_MemFd && d->type != SPA_DATA_DmaBuf) || d->fd < 0) continue;
        bool dmabuf = d->type == SPA_DATA_DmaBuf;
        b->dmabuf |= dmabuf;
        b->fd[p] = fcntl((int)d->fd, F_DUPFD_CLOEXEC, 3);
        size_t len = (size_t)d->mapoffset + d->maxsize;
        /* Shared memory: a private mapping (reads see the producer's pages; writes from JS
         * stay ours). DMA-BUF can only be mapped shared; one that cannot be mapped for
         * writing is a GPU-only frame (no CPU planes). */
        void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, dmabuf ? MAP_SHARED : MAP_PRIVATE, (int)d->fd, 0);
        if (m == MAP_FAILED) {
            if (!dmabuf) miniav_log(MINIAV_LOG_LEVEL_WARN, "pipewire: cannot map a buffer: %s", strerror(errno));
            continue;
        }
        b->map[p] = m;
        b->map_len[p] = len;
        b->map_offset[p] = d->mapoffset;
    }
}

static void on_remove_buffer(void *data, struct pw_buffer *pwb) {
    miniav_pw_video *v = data;
    uintptr_t tag = (uintptr_t)pwb->user_data;
    /* Buffers of the current set only: the whole set is replaced on renegotiation. */
    if (!v->bs || !tag) return;
    pthread_mutex_lock(&v->bs->lock);
    if (tag - 1 < v->bs->count && v->bs->bufs[tag - 1].pwb == pwb) v->bs->bufs[tag - 1].pwb = NULL;
    bool all_gone = true;
    for (uint32_t i = 0; i < v->bs->count; i++) all_gone &= v->bs->bufs[i].pwb == NULL;
    if (all_gone) v->bs->alive = false;
    pthread_mutex_unlock(&v->bs->lock);
    if (all_gone) {
        /* The next add_buffer starts a new set; this one lives on in its pool. */
        if (v->pool_stale) buffer_set_free(v->bs); /* never handed to a pool */
        v->bs = NULL;
        v->pool_stale = false;
    }
}

/* Makes the pool for a fresh buffer set (loop thread). */
static bool ensure_pool(miniav_pw_video *v) {
    if (!v->pool_stale) return v->bs != NULL;
    miniav_pool_hooks hooks = {.on_release = buffer_released, .on_free = buffer_set_free, .ctx = v->bs};
    if (miniav_stream_ensure_external_pool(v->s, v->bs->count, &hooks)) {
        miniav_stream_emit(v->s, MINIAV_EVENT_ERROR, MINIAV_ERROR_OUT_OF_MEMORY, "cannot make a buffer pool: %s", MiniAV_GetLastErrorMessage());
        return false;
    }
    v->pool_stale = false;
    return true;
}

static void describe(miniav_pw_video *v, video_buffer *b, struct spa_buffer *sb, MiniAVBuffer *out) {
    memset(out, 0, sizeof *out);
    out->type = MINIAV_BUFFER_TYPE_VIDEO;
    out->content_type = b->dmabuf ? MINIAV_BUFFER_CONTENT_TYPE_GPU_DMABUF_FD : MINIAV_BUFFER_CONTENT_TYPE_CPU;
    MiniAVPixelFormat pf = v->pixel_format;
    uint32_t w = v->info.size.width, h = v->info.size.height;
    out->data.video.width = w;
    out->data.video.height = h;
    out->data.video.pixel_format = pf;
    out->data.video.native_gpu_dmabuf_fd = -1;
    int64_t now = MiniAV_GetTimeUs();
    struct spa_meta_header *hdr = spa_buffer_find_meta_data(sb, SPA_META_Header, sizeof *hdr);
    /* PipeWire stamps on CLOCK_MONOTONIC, like MiniAV; anything implausible falls back to now. */
    int64_t pts = hdr && hdr->pts > 0 ? hdr->pts / 1000 : 0;
    out->timestamp_us = pts > 0 && pts <= now && now - pts < 1000000 ? pts : now;

    size_t total = 0;
    if (b->n_planes == 1 && (pf == MINIAV_PIXEL_FORMAT_I420 || pf == MINIAV_PIXEL_FORMAT_NV12 || pf == MINIAV_PIXEL_FORMAT_NV21)) {
        /* One block with every plane: split it. */
        struct spa_chunk *ck = sb->datas[0].chunk;
        uint32_t stride = ck->stride > 0 ? (uint32_t)ck->stride : w;
        uint8_t *base = b->map[0] + b->map_offset[0] + ck->offset;
        size_t y = (size_t)stride * h;
        bool i420 = pf == MINIAV_PIXEL_FORMAT_I420;
        uint32_t cstride = i420 ? stride / 2 : stride;
        size_t c = (size_t)cstride * ((h + 1) / 2);
        out->data.video.num_planes = i420 ? 3 : 2;
        out->data.video.planes[0] = base, out->data.video.stride_bytes[0] = stride, out->data.video.plane_size_bytes[0] = y;
        out->data.video.planes[1] = base + y, out->data.video.stride_bytes[1] = cstride, out->data.video.plane_size_bytes[1] = c;
        if (i420) out->data.video.planes[2] = base + y + c, out->data.video.stride_bytes[2] = cstride, out->data.video.plane_size_bytes[2] = c;
        total = ck->size;
    } else {
        out->data.video.num_planes = b->n_planes;
        for (uint32_t p = 0; p < b->n_planes; p++) {
            struct spa_chunk *ck = sb->datas[p].chunk;
            out->data.video.planes[p] = b->map[p] ? b->map[p] + b->map_offset[p] + ck->offset : NULL;
            out->data.video.stride_bytes[p] = ck->stride > 0 ? (uint32_t)ck->stride : 0;
            out->data.video.plane_size_bytes[p] = ck->size;
            total += ck->size;
        }
    }
    out->data_size_bytes = total;
    if (b->dmabuf) {
        MiniAVDmaBufInfo *d = &out->data.video.dmabuf;
        d->drm_fourcc = drm_of(pf);
        d->modifier = v->info.modifier;
        d->num_planes = out->data.video.num_planes;
        for (uint32_t p = 0; p < d->num_planes; p++) {
            uint32_t mem = b->n_planes > 1 ? p : 0;
            d->fd[p] = b->fd[mem];
            d->offset[p] = (uint32_t)((uint8_t *)out->data.video.planes[p] - (b->map[mem] + b->map_offset[mem])) + sb->datas[mem].mapoffset;
            d->stride[p] = out->data.video.stride_bytes[p];
        }
        out->data.video.native_gpu_dmabuf_fd = d->fd[0];
    }
}

static void on_process(void *data) {
    miniav_pw_video *v = data;
    struct pw_buffer *pwb;
    while ((pwb = pw.stream_dequeue_buffer(v->stream))) {
        uintptr_t tag = (uintptr_t)pwb->user_data;
        if (!v->bs || !tag || !ensure_pool(v)) {
            pw.stream_queue_buffer(v->stream, pwb);
            continue;
        }
        buffer_set *bs = v->bs;
        uint32_t i = (uint32_t)(tag - 1);
        struct spa_buffer *sb = pwb->buffer;
        pthread_mutex_lock(&bs->lock);
        uint32_t with_app = 0;
        for (uint32_t k = 0; k < bs->count; k++) with_app += bs->bufs[k].with_app;
        pthread_mutex_unlock(&bs->lock);
        /* Frames the source lost (no free buffer, a busy graph) show as jumps in its counter. */
        struct spa_meta_header *hdr = spa_buffer_find_meta_data(sb, SPA_META_Header, sizeof *hdr);
        if (hdr) {
            if (v->have_seq && hdr->seq > v->last_seq + 1 && hdr->seq - v->last_seq < 1000000)
                miniav_stream_count_lost(v->s, hdr->seq - v->last_seq - 1);
            v->have_seq = true;
            v->last_seq = hdr->seq;
        }
        bool empty = sb->n_datas == 0 || sb->datas[0].chunk->size == 0 || (sb->datas[0].chunk->flags & SPA_CHUNK_FLAG_CORRUPTED);
        miniav_slot *slot = NULL;
        /* Keep one buffer with PipeWire (see the file comment); skip empty/corrupt ones. */
        if (!empty && with_app + 1 < bs->count && bs->bufs[i].map[0]) slot = miniav_stream_acquire_index(v->s, i);
        if (!slot) {
            if (!empty) miniav_stream_count_lost(v->s, 1);
            pw.stream_queue_buffer(v->stream, pwb);
            continue;
        }
        slot->backend_cookie = (void *)(uintptr_t)i;
        describe(v, &bs->bufs[i], sb, &slot->buffer);
        pthread_mutex_lock(&bs->lock);
        bs->bufs[i].with_app = true;
        pthread_mutex_unlock(&bs->lock);
        miniav_stream_deliver(v->s, slot);
    }
}

/* The EnumFormat of the requested format; with modifiers: the DMA-BUF variant (the modifier
 * a choice the source fixates, or one fixed value), else the shared-memory one. */
static const struct spa_pod *build_format(struct spa_pod_builder *b, const MiniAVVideoFormatInfo *format, const uint64_t *modifiers,
                                          uint32_t n_modifiers) {
    struct spa_pod_frame frame;
    bool mjpeg = format->pixel_format == MINIAV_PIXEL_FORMAT_MJPEG;
    spa_pod_builder_push_object(b, &frame, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat);
    spa_pod_builder_add(b, SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video), SPA_FORMAT_mediaSubtype,
                        SPA_POD_Id(mjpeg ? SPA_MEDIA_SUBTYPE_mjpg : SPA_MEDIA_SUBTYPE_raw), 0);
    if (!mjpeg) spa_pod_builder_add(b, SPA_FORMAT_VIDEO_format, SPA_POD_Id(to_spa(format->pixel_format)), 0);
    if (n_modifiers == 1) {
        spa_pod_builder_prop(b, SPA_FORMAT_VIDEO_modifier, SPA_POD_PROP_FLAG_MANDATORY);
        spa_pod_builder_long(b, (int64_t)modifiers[0]);
    } else if (n_modifiers > 1) {
        struct spa_pod_frame choice;
        spa_pod_builder_prop(b, SPA_FORMAT_VIDEO_modifier, SPA_POD_PROP_FLAG_MANDATORY | SPA_POD_PROP_FLAG_DONT_FIXATE);
        spa_pod_builder_push_choice(b, &choice, SPA_CHOICE_Enum, 0);
        spa_pod_builder_long(b, (int64_t)modifiers[0]); /* the default */
        for (uint32_t i = 0; i < n_modifiers; i++) spa_pod_builder_long(b, (int64_t)modifiers[i]);
        spa_pod_builder_pop(b, &choice);
    }
    spa_pod_builder_add(b, SPA_FORMAT_VIDEO_size, SPA_POD_Rectangle(&SPA_RECTANGLE(format->width, format->height)), 0);
    if (format->frame_rate_numerator && format->frame_rate_denominator) /* rate 0/0: the node lists none */
        spa_pod_builder_add(b, SPA_FORMAT_VIDEO_framerate,
                            SPA_POD_Fraction(&SPA_FRACTION(format->frame_rate_numerator, format->frame_rate_denominator)), 0);
    return spa_pod_builder_pop(b, &frame);
}

/* Offers the format again: the DMA-BUF variant first when GPU output is wanted and the
 * source has modifiers for it, then shared memory as the fallback. */
static uint32_t offer_formats(miniav_pw_video *v, struct spa_pod_builder *b, const uint64_t *modifiers, uint32_t n_modifiers,
                              const struct spa_pod **params) {
    uint32_t n = 0;
    if (v->want_dmabuf && n_modifiers) params[n++] = build_format(b, &v->format, modifiers, n_modifiers);
    params[n++] = build_format(b, &v->format, NULL, 0);
    return n;
}

static void on_param_changed(void *data, uint32_t id, const struct spa_pod *param) {
    miniav_pw_video *v = data;
    if (id != SPA_PARAM_Format || !param) return;
    uint32_t mt, mst;
    if (spa_format_parse(param, &mt, &mst) < 0 || mt != SPA_MEDIA_TYPE_video) return;
    struct spa_video_info_raw info;
    memset(&info, 0, sizeof info);
    bool dmabuf = false;
    if (mst == SPA_MEDIA_SUBTYPE_raw) {
        if (spa_format_video_raw_parse(param, &info) < 0) return;
        v->mjpeg = false;
        v->pixel_format = from_spa(info.format);
        const struct spa_pod_prop *mod = spa_pod_find_prop(param, NULL, SPA_FORMAT_VIDEO_modifier);
        if (mod && (mod->flags & SPA_POD_PROP_FLAG_DONT_FIXATE)) {
            /* The source left the modifier to us: take its first (the parse's default) and
             * offer that alone; PipeWire renegotiates and calls back with it fixed. */
            uint64_t chosen = info.modifier;
            uint8_t fix_buf[2048];
            struct spa_pod_builder fb = SPA_POD_BUILDER_INIT(fix_buf, sizeof fix_buf);
            const struct spa_pod *params[2];
            uint32_t n = offer_formats(v, &fb, &chosen, 1, params);
            pw.stream_update_params(v->stream, params, n);
            return;
        }
        dmabuf = mod != NULL;
    } else if (mst == SPA_MEDIA_SUBTYPE_mjpg) {
        struct spa_video_info_mjpg mj;
        if (spa_format_video_mjpg_parse(param, &mj) < 0) return;
        info.size = mj.size;
        info.framerate = mj.framerate;
        v->mjpeg = true;
        v->pixel_format = MINIAV_PIXEL_FORMAT_MJPEG;
    } else {
        return;
    }
    bool changed = v->info.size.width && (info.size.width != v->info.size.width || info.size.height != v->info.size.height ||
                                          info.format != v->info.format);
    v->info = info;
    MiniAVVideoFormatInfo *f = &v->s->video;
    f->width = info.size.width;
    f->height = info.size.height;
    f->pixel_format = v->pixel_format;
    f->output_preference = dmabuf ? MINIAV_OUTPUT_PREFERENCE_GPU : MINIAV_OUTPUT_PREFERENCE_CPU;
    if (v->want_dmabuf && dmabuf)
        miniav_log(MINIAV_LOG_LEVEL_INFO, "pipewire: frames as DMA-BUF (modifier 0x%llx)", (unsigned long long)info.modifier);
    else if (v->want_dmabuf)
        miniav_log(MINIAV_LOG_LEVEL_INFO, "pipewire: the source offers no DMA-BUF for this format: frames in shared memory");
    if (changed)
        miniav_stream_emit(v->s, MINIAV_EVENT_FORMAT_CHANGED, MINIAV_SUCCESS, "the PipeWire source now gives %ux%u %s", info.size.width,
                           info.size.height, MiniAV_PixelFormatName(v->pixel_format));

    /* Buffers: as many as the pool asks for; memory we can map ourselves. */
    uint8_t pod_buf[512];
    struct spa_pod_builder b = SPA_POD_BUILDER_INIT(pod_buf, sizeof pod_buf);
    uint32_t count = miniav_stream_pool_size(v->s, 4);
    if (count < 2) count = 2;
    if (count > MAX_BUFFERS) count = MAX_BUFFERS;
    int types = dmabuf ? 1 << SPA_DATA_DmaBuf : 1 << SPA_DATA_MemFd;
    const struct spa_pod *params[2];
    params[0] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers, SPA_PARAM_BUFFERS_buffers,
                                           SPA_POD_CHOICE_RANGE_Int((int)count, 2, MAX_BUFFERS), SPA_PARAM_BUFFERS_dataType,
                                           SPA_POD_CHOICE_FLAGS_Int(types));
    params[1] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta, SPA_PARAM_META_type, SPA_POD_Id(SPA_META_Header),
                                           SPA_PARAM_META_size, SPA_POD_Int(sizeof(struct spa_meta_header)));
    pw.stream_update_params(v->stream, params, 2);
}

static void on_state_changed(void *data, enum pw_stream_state old, enum pw_stream_state state, const char *error) {
    miniav_pw_video *v = data;
    (void)old;
    if (v->ended) return;
    if (state == PW_STREAM_STATE_ERROR) {
        v->ended = true;
        miniav_stream_emit(v->s, MINIAV_EVENT_ERROR, MINIAV_ERROR_DEVICE_LOST, "the PipeWire source failed: %s", error ? error : "unknown error");
    } else if (state == PW_STREAM_STATE_UNCONNECTED) {
        v->ended = true;
        miniav_stream_emit(v->s, MINIAV_EVENT_ERROR, MINIAV_ERROR_DEVICE_LOST, "the PipeWire source went away; the stream has ended");
    }
}

static const struct pw_stream_events stream_events = {
    PW_VERSION_STREAM_EVENTS,
    .state_changed = on_state_changed,
    .param_changed = on_param_changed,
    .add_buffer = on_add_buffer,
    .remove_buffer = on_remove_buffer,
    .process = on_process,
};

MiniAVResultCode miniav_pw_video_start(miniav_stream *s, miniav_pw_conn *c, const char *target, uint32_t target_id, const char *role,
                                       const MiniAVVideoFormatInfo *format, miniav_pw_video **out) {
    miniav_pw_video *v = calloc(1, sizeof *v);
    if (!v) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    v->s = s;
    v->node_id = target_id;
    v->conn = c;
    v->want_dmabuf = format->output_preference == MINIAV_OUTPUT_PREFERENCE_GPU;
    v->pixel_format = format->pixel_format;

    v->format = *format;
    if (v->want_dmabuf && to_spa(format->pixel_format) != SPA_VIDEO_FORMAT_UNKNOWN)
        v->n_modifiers = miniav_pw_node_modifiers(c, target_id, format->pixel_format, v->modifiers, 16);
    uint8_t pod_buf[4096];
    struct spa_pod_builder b = SPA_POD_BUILDER_INIT(pod_buf, sizeof pod_buf);
    const struct spa_pod *params[2];
    uint32_t n_params = offer_formats(v, &b, v->modifiers, v->n_modifiers, params);

    pw.thread_loop_lock(c->loop);
    struct pw_properties *props = pw.properties_new(PW_KEY_MEDIA_TYPE, "Video", PW_KEY_MEDIA_CATEGORY, "Capture", PW_KEY_MEDIA_ROLE, role,
                                                    PW_KEY_APP_NAME, "MiniAV", target ? PW_KEY_TARGET_OBJECT : NULL, target, NULL);
    v->stream = props ? pw.stream_new(c->core, "miniav-video", props) : NULL;
    v->registry = pw_core_get_registry(c->core, PW_VERSION_REGISTRY, 0);
    if (v->registry) pw_registry_add_listener(v->registry, &v->registry_listener, &video_registry_events, v);
    int r = -1;
    if (v->stream) {
        v->wake = pw_loop_add_event(pw.thread_loop_get_loop(c->loop), on_wake, v);
        pw.stream_add_listener(v->stream, &v->listener, &stream_events, v);
        /* By name through the session manager; by id on a portal's remote, which shows only its nodes. */
        r = pw.stream_connect(v->stream, PW_DIRECTION_INPUT, target ? PW_ID_ANY : target_id,
                              PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_DONT_RECONNECT, params, n_params);
    }
    pw.thread_loop_unlock(c->loop);
    if (r < 0) {
        miniav_pw_video_stop(v);
        return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "cannot connect a PipeWire stream to '%s'", target ? target : "the portal's node");
    }
    *out = v;
    return MINIAV_SUCCESS;
}

void miniav_pw_video_end(miniav_pw_video *v, const char *why) {
    if (!v) return;
    pw.thread_loop_lock(v->conn->loop);
    if (!v->ended) {
        v->ended = true;
        miniav_stream_emit(v->s, MINIAV_EVENT_ERROR, MINIAV_ERROR_DEVICE_LOST, "%s", why);
    }
    pw.thread_loop_unlock(v->conn->loop);
}

void miniav_pw_video_stop(miniav_pw_video *v) {
    if (!v) return;
    miniav_pw_conn *c = v->conn;
    pw.thread_loop_lock(c->loop);
    v->ended = true;
    if (v->stream) {
        pw.stream_disconnect(v->stream); /* remove_buffer for each: the set is left to its pool */
        spa_hook_remove(&v->listener);
        pw.stream_destroy(v->stream);
    }
    if (v->bs) { /* buffers PipeWire did not remove: detach them from the loop */
        pthread_mutex_lock(&v->bs->lock);
        v->bs->alive = false;
        pthread_mutex_unlock(&v->bs->lock);
        if (v->pool_stale) buffer_set_free(v->bs);
        v->bs = NULL;
    }
    if (v->wake) pw_loop_destroy_source(pw.thread_loop_get_loop(c->loop), v->wake);
    if (v->registry) {
        spa_hook_remove(&v->registry_listener);
        pw.proxy_destroy((struct pw_proxy *)v->registry);
    }
    pw.thread_loop_unlock(c->loop);
    free(v);
}
