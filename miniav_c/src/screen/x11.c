/* X11 screen capture: displays (RandR monitors), windows and regions, through XCB and
 * MIT-SHM straight into the stream's buffers.
 *
 * Every pool buffer is a SysV shared-memory segment attached to the X server, so the
 * server writes the pixels where JavaScript will read them: the X server's copy is the
 * only one. Displays and regions are copied by RENDER into a 32-bit ARGB pixmap over
 * the segment (MIT-SHM shared pixmaps), which sets alpha in the same pass; windows, and
 * servers without RENDER or shared pixmaps, use xcb_shm_get_image, whose pad byte this
 * side then sets to 255 (a second pass over the frame). libxcb and its extensions are
 * loaded with dlopen; a machine without them (or without DISPLAY) has no x11 backend.
 *
 * Device ids: "x11:root" (the whole X screen), "x11:monitor:<RandR name>",
 * "x11:window:0x<id>".
 */
#define _GNU_SOURCE
#include "../common/miniav_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <xcb/damage.h>
#include <xcb/randr.h>
#include <xcb/render.h>
#include <xcb/shm.h>
#include <xcb/xcb.h>
#include <xcb/xfixes.h>

#define DEFAULT_POOL 3u   /* one in flight to the X server, one being finished, one with the application */
#define CURSOR_MAX 256u   /* largest cursor image kept in metadata mode (pixels per side) */

/* ------------------------------------------------------------------ libxcb, loaded at run time */

#define XCB_FUNCTIONS(F)                                                                                          \
    F(xcb_connect) F(xcb_disconnect) F(xcb_generate_id) F(xcb_connection_has_error) F(xcb_get_setup) F(xcb_setup_roots_iterator)    \
    F(xcb_setup_pixmap_formats) F(xcb_setup_pixmap_formats_length) F(xcb_flush) F(xcb_poll_for_event)            \
    F(xcb_get_extension_data) F(xcb_request_check) F(xcb_intern_atom) F(xcb_intern_atom_reply)                   \
    F(xcb_get_atom_name) F(xcb_get_atom_name_reply) F(xcb_get_atom_name_name) F(xcb_get_atom_name_name_length)   \
    F(xcb_get_property) F(xcb_get_property_reply) F(xcb_get_property_value) F(xcb_get_property_value_length)     \
    F(xcb_query_tree) F(xcb_query_tree_reply) F(xcb_query_tree_children) F(xcb_query_tree_children_length)       \
    F(xcb_get_geometry) F(xcb_get_geometry_reply) F(xcb_translate_coordinates)                                   \
    F(xcb_translate_coordinates_reply) F(xcb_get_window_attributes) F(xcb_get_window_attributes_reply)           \
    F(xcb_change_window_attributes_checked) F(xcb_free_pixmap) F(xcb_get_input_focus) F(xcb_get_input_focus_reply)
#define SHM_FUNCTIONS(F)                                                                                          \
    F(xcb_shm_query_version) F(xcb_shm_query_version_reply) F(xcb_shm_attach_checked) F(xcb_shm_detach)          \
    F(xcb_shm_get_image) F(xcb_shm_get_image_reply) F(xcb_shm_create_pixmap_checked)
#define RANDR_FUNCTIONS(F)                                                                                        \
    F(xcb_randr_query_version) F(xcb_randr_query_version_reply) F(xcb_randr_get_monitors)                        \
    F(xcb_randr_get_monitors_reply) F(xcb_randr_get_monitors_monitors_iterator) F(xcb_randr_monitor_info_next)     \
    F(xcb_randr_select_input)
#define XFIXES_FUNCTIONS(F)                                                                                       \
    F(xcb_xfixes_query_version) F(xcb_xfixes_query_version_reply) F(xcb_xfixes_get_cursor_image)                 \
    F(xcb_xfixes_get_cursor_image_reply) F(xcb_xfixes_get_cursor_image_cursor_image)
#define RENDER_FUNCTIONS(F)                                                                                       \
    F(xcb_render_query_version) F(xcb_render_query_version_reply) F(xcb_render_query_pict_formats)               \
    F(xcb_render_query_pict_formats_reply) F(xcb_render_query_pict_formats_formats_iterator)                     \
    F(xcb_render_pictforminfo_next) F(xcb_render_query_pict_formats_screens_iterator)                           \
    F(xcb_render_pictscreen_depths_iterator) F(xcb_render_pictdepth_next)                                        \
    F(xcb_render_pictdepth_visuals_iterator) F(xcb_render_pictvisual_next) F(xcb_render_create_picture_checked)  \
    F(xcb_render_free_picture) F(xcb_render_composite_checked)
#define DAMAGE_FUNCTIONS(F)                                                                                       \
    F(xcb_damage_query_version) F(xcb_damage_query_version_reply) F(xcb_damage_create_checked)                   \
    F(xcb_damage_destroy) F(xcb_damage_subtract)

#define DECLARE(name) __typeof__(name) *name;
static struct {
    XCB_FUNCTIONS(DECLARE) SHM_FUNCTIONS(DECLARE) RANDR_FUNCTIONS(DECLARE) XFIXES_FUNCTIONS(DECLARE) DAMAGE_FUNCTIONS(DECLARE)
    RENDER_FUNCTIONS(DECLARE)
    xcb_extension_t *shm_id, *randr_id, *xfixes_id, *damage_id, *render_id;
    bool has_randr, has_xfixes, has_damage, has_render;
} X;
#undef DECLARE

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;

#define ENTRY(name) {#name, (void **)&X.name},
static miniav_library *libraries[6]; /* open for the life of the process */
static size_t library_count;

static bool load_table(const char *const *names, const miniav_symbol *table, size_t n) {
    miniav_library *lib = miniav_library_open(names);
    if (!lib) return false;
    if (miniav_library_load_symbols(lib, table, n)) {
        miniav_log(MINIAV_LOG_LEVEL_INFO, "x11: %s", MiniAV_GetLastErrorMessage());
        miniav_library_close(lib);
        return false;
    }
    libraries[library_count++] = lib;
    return true;
}

static void load_libraries(void) {
    static const char *const xcb_names[] = {"libxcb.so.1", NULL}, *const shm_names[] = {"libxcb-shm.so.0", NULL},
                             *const randr_names[] = {"libxcb-randr.so.0", NULL},
                             *const xfixes_names[] = {"libxcb-xfixes.so.0", NULL},
                             *const damage_names[] = {"libxcb-damage.so.0", NULL},
                             *const render_names[] = {"libxcb-render.so.0", NULL};
    const miniav_symbol xcb_table[] = {XCB_FUNCTIONS(ENTRY)}, shm_table[] = {SHM_FUNCTIONS(ENTRY){"xcb_shm_id", (void **)&X.shm_id}},
                        randr_table[] = {RANDR_FUNCTIONS(ENTRY){"xcb_randr_id", (void **)&X.randr_id}},
                        xfixes_table[] = {XFIXES_FUNCTIONS(ENTRY){"xcb_xfixes_id", (void **)&X.xfixes_id}},
                        damage_table[] = {DAMAGE_FUNCTIONS(ENTRY){"xcb_damage_id", (void **)&X.damage_id}},
                        render_table[] = {RENDER_FUNCTIONS(ENTRY){"xcb_render_id", (void **)&X.render_id}};
    loaded = load_table(xcb_names, xcb_table, sizeof xcb_table / sizeof xcb_table[0]) &&
             load_table(shm_names, shm_table, sizeof shm_table / sizeof shm_table[0]);
    if (!loaded) return;
    /* Optional: monitors, cursor, damage tracking and the one-pass copy degrade without them. */
    X.has_randr = load_table(randr_names, randr_table, sizeof randr_table / sizeof randr_table[0]);
    X.has_xfixes = load_table(xfixes_names, xfixes_table, sizeof xfixes_table / sizeof xfixes_table[0]);
    X.has_damage = X.has_xfixes && load_table(damage_names, damage_table, sizeof damage_table / sizeof damage_table[0]);
    X.has_render = load_table(render_names, render_table, sizeof render_table / sizeof render_table[0]);
}
#undef ENTRY

static bool available(void) {
    const char *display = getenv("DISPLAY");
    if (!display || !*display) return false;
    pthread_once(&load_once, load_libraries);
    return loaded;
}

/* ------------------------------------------------------------------ connection helpers */

typedef struct {
    xcb_connection_t *conn;
    xcb_screen_t *screen;
    xcb_atom_t net_client_list, net_wm_name, utf8_string, wm_state, net_wm_pid;
} x11_display;

static xcb_atom_t intern(xcb_connection_t *c, const char *name) {
    xcb_intern_atom_reply_t *r = X.xcb_intern_atom_reply(c, X.xcb_intern_atom(c, 1, (uint16_t)strlen(name), name), NULL);
    xcb_atom_t a = r ? r->atom : XCB_NONE;
    free(r);
    return a;
}

static MiniAVResultCode open_display(x11_display *d) {
    memset(d, 0, sizeof *d);
    d->conn = X.xcb_connect(NULL, NULL);
    if (X.xcb_connection_has_error(d->conn)) {
        X.xcb_disconnect(d->conn);
        d->conn = NULL;
        return miniav_fail(MINIAV_ERROR_BACKEND_UNAVAILABLE, "cannot connect to the X server at DISPLAY=%s: is it running, and may this user use it?",
                           getenv("DISPLAY") ? getenv("DISPLAY") : "");
    }
    d->screen = X.xcb_setup_roots_iterator(X.xcb_get_setup(d->conn)).data;
    d->net_client_list = intern(d->conn, "_NET_CLIENT_LIST");
    d->net_wm_name = intern(d->conn, "_NET_WM_NAME");
    d->utf8_string = intern(d->conn, "UTF8_STRING");
    d->wm_state = intern(d->conn, "WM_STATE");
    d->net_wm_pid = intern(d->conn, "_NET_WM_PID");
    return MINIAV_SUCCESS;
}

static void close_display(x11_display *d) {
    if (d->conn) X.xcb_disconnect(d->conn);
    d->conn = NULL;
}

/* Property value, or NULL when absent; caller frees the reply. */
static xcb_get_property_reply_t *get_property(x11_display *d, xcb_window_t w, xcb_atom_t prop, xcb_atom_t type, uint32_t longs) {
    if (prop == XCB_NONE) return NULL;
    xcb_get_property_reply_t *r = X.xcb_get_property_reply(d->conn, X.xcb_get_property(d->conn, 0, w, prop, type, 0, longs), NULL);
    if (r && (r->type == XCB_NONE || X.xcb_get_property_value_length(r) == 0)) {
        free(r);
        return NULL;
    }
    return r;
}

typedef struct {
    int32_t x, y;
    uint32_t width, height;
} rect;

static bool window_rect(x11_display *d, xcb_window_t w, rect *out) {
    xcb_get_geometry_reply_t *g = X.xcb_get_geometry_reply(d->conn, X.xcb_get_geometry(d->conn, w), NULL);
    if (!g) return false;
    xcb_translate_coordinates_reply_t *t =
        X.xcb_translate_coordinates_reply(d->conn, X.xcb_translate_coordinates(d->conn, w, d->screen->root, 0, 0), NULL);
    *out = (rect){t ? t->dst_x : g->x, t ? t->dst_y : g->y, g->width, g->height};
    free(t);
    free(g);
    return true;
}

/* ------------------------------------------------------------------ displays */

typedef struct {
    char name[128];
    rect r;
    bool primary;
} monitor;

/* RandR 1.5 monitors; false when RandR is missing or too old. */
static bool list_monitors(x11_display *d, monitor *out, uint32_t max, uint32_t *count) {
    *count = 0;
    if (!X.has_randr) return false;
    const xcb_query_extension_reply_t *ext = X.xcb_get_extension_data(d->conn, X.randr_id);
    if (!ext || !ext->present) return false;
    xcb_randr_query_version_reply_t *v = X.xcb_randr_query_version_reply(d->conn, X.xcb_randr_query_version(d->conn, 1, 5), NULL);
    bool ok = v && (v->major_version > 1 || v->minor_version >= 5);
    free(v);
    if (!ok) return false;
    xcb_randr_get_monitors_reply_t *m =
        X.xcb_randr_get_monitors_reply(d->conn, X.xcb_randr_get_monitors(d->conn, d->screen->root, 1), NULL);
    if (!m) return false;
    for (xcb_randr_monitor_info_iterator_t it = X.xcb_randr_get_monitors_monitors_iterator(m); it.rem && *count < max;
         X.xcb_randr_monitor_info_next(&it)) {
        monitor *mon = &out[(*count)++];
        memset(mon, 0, sizeof *mon);
        xcb_get_atom_name_reply_t *n = X.xcb_get_atom_name_reply(d->conn, X.xcb_get_atom_name(d->conn, it.data->name), NULL);
        if (n) {
            int len = X.xcb_get_atom_name_name_length(n);
            if (len >= (int)sizeof mon->name) len = sizeof mon->name - 1;
            memcpy(mon->name, X.xcb_get_atom_name_name(n), (size_t)len);
            free(n);
        } else {
            snprintf(mon->name, sizeof mon->name, "monitor-%u", *count - 1);
        }
        mon->r = (rect){it.data->x, it.data->y, it.data->width, it.data->height};
        mon->primary = it.data->primary;
    }
    free(m);
    return *count > 0;
}

/* Asked each time: the screen's size at connection time is stale after a RandR resize. */
static rect root_rect(x11_display *d) {
    rect r = {0, 0, d->screen->width_in_pixels, d->screen->height_in_pixels};
    xcb_get_geometry_reply_t *g = X.xcb_get_geometry_reply(d->conn, X.xcb_get_geometry(d->conn, d->screen->root), NULL);
    if (g) r.width = g->width, r.height = g->height;
    free(g);
    return r;
}

static MiniAVResultCode enumerate_displays(miniav_device_list *out, MiniAVLoopbackTargetType filter) {
    (void)filter;
    x11_display d;
    MiniAVResultCode r = open_display(&d);
    if (r) return r;
    monitor mons[16];
    uint32_t n;
    if (!list_monitors(&d, mons, 16, &n)) {
        n = 1;
        mons[0] = (monitor){"", root_rect(&d), true};
    }
    for (uint32_t i = 0; i < n; i++) {
        MiniAVDeviceInfo *dev = miniav_device_list_add(out);
        if (!dev) {
            close_display(&d);
            return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
        }
        if (mons[i].name[0]) {
            snprintf(dev->device_id, sizeof dev->device_id, "x11:monitor:%.127s", mons[i].name);
            snprintf(dev->name, sizeof dev->name, "%.127s (%ux%u)", mons[i].name, mons[i].r.width, mons[i].r.height);
        } else {
            miniav_copy_string(dev->device_id, sizeof dev->device_id, "x11:root");
            snprintf(dev->name, sizeof dev->name, "X screen (%ux%u)", mons[i].r.width, mons[i].r.height);
        }
        dev->is_default = mons[i].primary;
        dev->x = mons[i].r.x, dev->y = mons[i].r.y, dev->width = mons[i].r.width, dev->height = mons[i].r.height;
    }
    close_display(&d);
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ windows */

static void window_title(x11_display *d, xcb_window_t w, char *out, size_t size) {
    xcb_get_property_reply_t *p = get_property(d, w, d->net_wm_name, d->utf8_string, 256);
    if (!p) p = get_property(d, w, XCB_ATOM_WM_NAME, XCB_ATOM_ANY, 256);
    out[0] = '\0';
    if (!p) return;
    size_t len = (size_t)X.xcb_get_property_value_length(p);
    if (len >= size) len = size - 1;
    memcpy(out, X.xcb_get_property_value(p), len);
    out[len] = '\0';
    free(p);
}

static void describe_window(x11_display *d, xcb_window_t w, MiniAVDeviceInfo *dev) {
    snprintf(dev->device_id, sizeof dev->device_id, "x11:window:0x%x", w);
    window_title(d, w, dev->name, sizeof dev->name);
    xcb_get_property_reply_t *p = get_property(d, w, XCB_ATOM_WM_CLASS, XCB_ATOM_STRING, 64);
    if (p) { /* "instance\0Class\0": the class is the second string */
        const char *v = X.xcb_get_property_value(p);
        int len = X.xcb_get_property_value_length(p);
        size_t first = strnlen(v, (size_t)len);
        if ((int)first + 1 < len) {
            size_t n = strnlen(v + first + 1, (size_t)len - first - 1);
            if (n >= sizeof dev->class_name) n = sizeof dev->class_name - 1;
            memcpy(dev->class_name, v + first + 1, n);
        }
        free(p);
    }
    p = get_property(d, w, d->net_wm_pid, XCB_ATOM_CARDINAL, 1);
    if (p) {
        dev->process_id = *(uint32_t *)X.xcb_get_property_value(p);
        free(p);
    }
    rect r;
    if (window_rect(d, w, &r)) dev->x = r.x, dev->y = r.y, dev->width = r.width, dev->height = r.height;
}

static bool has_wm_state(x11_display *d, xcb_window_t w) {
    xcb_get_property_reply_t *p = get_property(d, w, d->wm_state, d->wm_state, 2);
    free(p);
    return p != NULL;
}

/* Top-level application windows: the window manager's _NET_CLIENT_LIST when there is
 * one; otherwise the windows that carry WM_STATE, at the top level or one level down
 * (inside a window manager's frame). */
static MiniAVResultCode enumerate_windows(miniav_device_list *out) {
    x11_display d;
    MiniAVResultCode r = open_display(&d);
    if (r) return r;
    xcb_window_t found[512];
    uint32_t n = 0;
    xcb_get_property_reply_t *clients = get_property(&d, d.screen->root, d.net_client_list, XCB_ATOM_WINDOW, 512);
    if (clients) {
        n = (uint32_t)X.xcb_get_property_value_length(clients) / 4;
        if (n > 512) n = 512;
        memcpy(found, X.xcb_get_property_value(clients), n * sizeof found[0]);
        free(clients);
    } else {
        xcb_query_tree_reply_t *tree = X.xcb_query_tree_reply(d.conn, X.xcb_query_tree(d.conn, d.screen->root), NULL);
        if (tree) {
            xcb_window_t *kids = X.xcb_query_tree_children(tree);
            int count = X.xcb_query_tree_children_length(tree);
            for (int i = 0; i < count && n < 512; i++) {
                if (has_wm_state(&d, kids[i])) {
                    found[n++] = kids[i];
                    continue;
                }
                xcb_query_tree_reply_t *sub = X.xcb_query_tree_reply(d.conn, X.xcb_query_tree(d.conn, kids[i]), NULL);
                if (!sub) continue;
                xcb_window_t *inner = X.xcb_query_tree_children(sub);
                for (int j = 0; j < X.xcb_query_tree_children_length(sub) && n < 512; j++)
                    if (has_wm_state(&d, inner[j])) found[n++] = inner[j];
                free(sub);
            }
            free(tree);
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        MiniAVDeviceInfo *dev = miniav_device_list_add(out);
        if (!dev) {
            close_display(&d);
            return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
        }
        describe_window(&d, found[i], dev);
    }
    close_display(&d);
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ ids */

static bool owns_id(const char *id) { return id && !strncmp(id, "x11:", 4); }

static bool parse_window_id(const char *id, xcb_window_t *w) {
    const char *hex = id + strlen("x11:window:");
    if (strncmp(id, "x11:window:", strlen("x11:window:")) || !*hex) return false;
    char *end;
    unsigned long v = strtoul(hex, &end, 0);
    if (*end || v == 0 || v > 0xffffffffUL) return false;
    *w = (xcb_window_t)v;
    return true;
}

/* The rectangle of a display id, in root coordinates. */
static MiniAVResultCode display_rect(x11_display *d, const char *id, rect *out) {
    if (!strcmp(id, "x11:root")) {
        *out = root_rect(d);
        return MINIAV_SUCCESS;
    }
    if (!strncmp(id, "x11:monitor:", strlen("x11:monitor:"))) {
        monitor mons[16];
        uint32_t n;
        if (list_monitors(d, mons, 16, &n))
            for (uint32_t i = 0; i < n; i++)
                if (!strcmp(mons[i].name, id + strlen("x11:monitor:"))) {
                    *out = mons[i].r;
                    return MINIAV_SUCCESS;
                }
    }
    return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "no X11 display '%s'; list displays with enumerateDisplays() (x11:root is the whole screen)", id);
}

static MiniAVResultCode video_formats(const char *id, MiniAVVideoFormatInfo **formats, uint32_t *count) {
    if (!available()) return miniav_fail(MINIAV_ERROR_BACKEND_UNAVAILABLE, "X11 is not available (no DISPLAY or no libxcb)");
    x11_display d;
    MiniAVResultCode r = open_display(&d);
    if (r) return r;
    rect area;
    xcb_window_t w;
    if (parse_window_id(id, &w)) {
        r = window_rect(&d, w, &area) ? MINIAV_SUCCESS
                                      : miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "no X11 window %s (closed?)", id);
    } else {
        r = display_rect(&d, id, &area);
    }
    close_display(&d);
    if (r) return r;
    static const MiniAVPixelFormat fmts[] = {MINIAV_PIXEL_FORMAT_BGRA32, MINIAV_PIXEL_FORMAT_RGBA32};
    static const uint32_t rates[] = {30, 60};
    MiniAVVideoFormatInfo *list = calloc(4, sizeof *list);
    if (!list) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    for (int f = 0; f < 2; f++)
        for (int k = 0; k < 2; k++)
            list[f * 2 + k] = (MiniAVVideoFormatInfo){area.width, area.height, fmts[f], rates[k], 1, MINIAV_OUTPUT_PREFERENCE_CPU, 0};
    *formats = list;
    *count = 4;
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ shared-memory buffers */

typedef struct {
    uint32_t count;
    size_t size;
    void *addr[256];
    uint32_t seg[256];
    xcb_pixmap_t pixmap[256];          /* RENDER path: an ARGB pixmap over each segment, and */
    xcb_render_picture_t picture[256]; /* its picture (0 on the xcb_shm_get_image path) */
} shm_set;

/* Runs when the pool is freed (perhaps after the stream): only unmaps. The X server
 * side was detached already, or goes with the connection. */
static void shm_set_free(void *ctx) {
    shm_set *set = ctx;
    for (uint32_t i = 0; i < set->count; i++)
        if (set->addr[i]) shmdt(set->addr[i]);
    free(set);
}

/* ------------------------------------------------------------------ capture */

typedef struct {
    miniav_capture_thread worker;
    x11_display d;
    xcb_drawable_t drawable;      /* root (display/region) or the window */
    bool is_window;
    rect area;                    /* captured rectangle: in root coords, or window-relative (0,0,w,h) */
    int32_t display_x, display_y; /* for cursor positions: root offset of the captured area */
    double period_us;
    shm_set *current;             /* segments of the current pool, to detach from X when replaced */
    size_t frame_bytes;
    MiniAVCursorMode cursor;
    bool skip_unchanged;
    xcb_damage_damage_t damage;
    uint8_t damage_event;
    uint8_t randr_event;                 /* first RandR event, 0 without RandR events */
    /* RENDER path (0 when frames are read with xcb_shm_get_image): */
    xcb_render_pictformat_t argb_format; /* 32-bit a8r8g8b8, the pool pixmaps' format */
    xcb_render_picture_t source;         /* the root, children included */
} x11_state;

/* Frees the RENDER pictures and pixmaps over the first `segments` segments of a set. */
static void free_render_targets(x11_state *st, shm_set *set, uint32_t segments) {
    for (uint32_t i = 0; i < segments; i++) {
        if (set->picture[i]) X.xcb_render_free_picture(st->d.conn, set->picture[i]);
        if (set->pixmap[i]) X.xcb_free_pixmap(st->d.conn, set->pixmap[i]);
        set->picture[i] = set->pixmap[i] = 0;
    }
}

/* Lets go of the server's side of a set: pictures, pixmaps, then the segments. */
static void detach_set(x11_state *st, shm_set *set, uint32_t segments) {
    free_render_targets(st, set, segments);
    for (uint32_t i = 0; i < segments; i++) X.xcb_shm_detach(st->d.conn, set->seg[i]);
    X.xcb_flush(st->d.conn);
}

static void detach_current(x11_state *st) {
    if (!st->current) return;
    detach_set(st, st->current, st->current->count);
    st->current = NULL;
}

/* A 32-bit ARGB pixmap over segment i, which RENDER fills with alpha 255. False (and
 * nothing left behind) when the server refuses; the caller then reads with GetImage. */
static bool make_render_target(x11_state *st, shm_set *set, uint32_t i) {
    xcb_connection_t *c = st->d.conn;
    xcb_pixmap_t pixmap = X.xcb_generate_id(c);
    xcb_generic_error_t *err = X.xcb_request_check(
        c, X.xcb_shm_create_pixmap_checked(c, pixmap, st->d.screen->root, (uint16_t)st->area.width, (uint16_t)st->area.height, 32, set->seg[i], 0));
    if (err) {
        free(err);
        return false;
    }
    xcb_render_picture_t picture = X.xcb_generate_id(c);
    err = X.xcb_request_check(c, X.xcb_render_create_picture_checked(c, picture, pixmap, st->argb_format, 0, NULL));
    if (err) {
        free(err);
        X.xcb_free_pixmap(c, pixmap);
        return false;
    }
    set->pixmap[i] = pixmap;
    set->picture[i] = picture;
    return true;
}

static MiniAVResultCode make_pool(miniav_stream *s, x11_state *st) {
    uint32_t count = miniav_stream_pool_size(s, DEFAULT_POOL);
    st->frame_bytes = (size_t)st->area.width * st->area.height * 4;
    /* Room for a cursor image after the frame, whatever the cursor mode, so the pool can
     * be made at configure, before the options of the start are known. */
    size_t size = st->frame_bytes + CURSOR_MAX * CURSOR_MAX * 4;
    shm_set *set = calloc(1, sizeof *set);
    if (!set) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    set->size = size;
    for (uint32_t i = 0; i < count; i++) {
        int id = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
        void *addr = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
        if (addr == (void *)-1) {
            if (id >= 0) shmctl(id, IPC_RMID, NULL);
            detach_set(st, set, set->count);
            shm_set_free(set);
            return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "cannot create a %zu-byte shared memory segment (kernel.shmmax/shmall?)", size);
        }
        /* Touch every page now: the first frames would otherwise pay the page faults
         * (about 10 ms for a 1080p pool). */
        memset(addr, 0, size);
        uint32_t seg = X.xcb_generate_id(st->d.conn);
        xcb_generic_error_t *err = X.xcb_request_check(st->d.conn, X.xcb_shm_attach_checked(st->d.conn, seg, (uint32_t)id, 0));
        /* Marked for removal now: it disappears once we and the server let go of it. */
        shmctl(id, IPC_RMID, NULL);
        set->addr[set->count] = addr;
        if (err) {
            free(err);
            detach_set(st, set, set->count);
            set->count++;
            shm_set_free(set);
            return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "the X server cannot attach shared memory (a remote display?); MIT-SHM is required");
        }
        set->seg[set->count++] = seg;
        if (st->argb_format && !make_render_target(st, set, set->count - 1)) {
            miniav_log(MINIAV_LOG_LEVEL_INFO, "x11: the X server refused a shared ARGB pixmap; reading frames with GetImage instead");
            st->argb_format = 0;
        }
    }
    /* All segments read the same way: GetImage if any could not have a pixmap. */
    if (!st->argb_format) free_render_targets(st, set, set->count);
    miniav_pool_hooks hooks = {.on_release = NULL, .on_free = shm_set_free, .ctx = set};
    detach_current(st);
    MiniAVResultCode r = miniav_stream_ensure_external_pool(s, count, &hooks);
    if (r) {
        detach_set(st, set, set->count);
        shm_set_free(set);
        return r;
    }
    st->current = set;
    return MINIAV_SUCCESS;
}

/* X gives 32-bit pixels B,G,R,x on a little-endian depth-24 screen (B,G,R,255 through
 * RENDER): bgrx is that as is; bgra sets alpha unless RENDER did, rgba/rgbx swap to
 * R,G,B (alpha set too). At most one pass over the frame. */
static void finish_pixels(uint8_t *mem, size_t pixels, MiniAVPixelFormat fmt, bool alpha_set) {
    uint32_t *p = (uint32_t *)mem;
    if (fmt == MINIAV_PIXEL_FORMAT_BGRX32) return; /* as the server wrote it: no pass at all */
    if (fmt == MINIAV_PIXEL_FORMAT_BGRA32 && alpha_set) return;
    if (fmt == MINIAV_PIXEL_FORMAT_RGBA32 || fmt == MINIAV_PIXEL_FORMAT_RGBX32) {
        for (size_t i = 0; i < pixels; i++) {
            uint32_t v = p[i];
            p[i] = (v & 0x0000ff00u) | ((v >> 16) & 0xffu) | ((v & 0xffu) << 16) | 0xff000000u;
        }
    } else {
        for (size_t i = 0; i < pixels; i++) p[i] |= 0xff000000u;
    }
}

/* The pointer: composited into BGRA pixels (premultiplied "over"), or described. */
static void apply_cursor(x11_state *st, MiniAVBuffer *b, uint8_t *mem) {
    xcb_xfixes_get_cursor_image_reply_t *c =
        X.xcb_xfixes_get_cursor_image_reply(st->d.conn, X.xcb_xfixes_get_cursor_image(st->d.conn), NULL);
    if (!c) return;
    int32_t origin_x = st->display_x, origin_y = st->display_y;
    if (st->is_window) {
        rect r;
        if (window_rect(&st->d, st->drawable, &r)) origin_x = r.x, origin_y = r.y;
    }
    const uint32_t *img = X.xcb_xfixes_get_cursor_image_cursor_image(c);
    int32_t left = c->x - c->xhot - origin_x, top = c->y - c->yhot - origin_y;
    uint32_t w = st->area.width, h = st->area.height;
    if (st->cursor == MINIAV_CURSOR_METADATA) {
        MiniAVCursorInfo *ci = &b->data.video.cursor;
        ci->x = c->x - origin_x;
        ci->y = c->y - origin_y;
        ci->visible = ci->x >= 0 && ci->y >= 0 && (uint32_t)ci->x < w && (uint32_t)ci->y < h;
        ci->hot_x = c->xhot, ci->hot_y = c->yhot;
        ci->serial = c->cursor_serial;
        ci->width = c->width < CURSOR_MAX ? c->width : CURSOR_MAX;
        ci->height = c->height < CURSOR_MAX ? c->height : CURSOR_MAX;
        uint8_t *dst = mem + st->frame_bytes; /* the segment's cursor area */
        for (uint32_t y = 0; y < ci->height; y++) memcpy(dst + (size_t)y * ci->width * 4, img + (size_t)y * c->width, ci->width * 4u);
        ci->image = dst;
        free(c);
        return;
    }
    for (uint32_t cy = 0; cy < c->height; cy++) {
        int32_t y = top + (int32_t)cy;
        if (y < 0 || (uint32_t)y >= h) continue;
        for (uint32_t cx = 0; cx < c->width; cx++) {
            int32_t x = left + (int32_t)cx;
            if (x < 0 || (uint32_t)x >= w) continue;
            uint32_t src = img[(size_t)cy * c->width + cx], a = src >> 24;
            if (!a) continue;
            uint8_t *px = mem + ((size_t)y * w + (size_t)x) * 4;
            for (int k = 0; k < 3; k++) px[k] = (uint8_t)(((src >> (8 * k)) & 0xff) + px[k] * (255 - a) / 255);
        }
    }
    free(c);
}

/* Handles queued X events; returns false when the stream must end. */
static bool handle_events(miniav_stream *s, x11_state *st, bool *paused, bool *damaged, uint32_t *new_w, uint32_t *new_h,
                          bool *display_changed) {
    xcb_generic_event_t *e;
    while ((e = X.xcb_poll_for_event(st->d.conn))) {
        uint8_t type = e->response_type & 0x7f;
        if (st->damage && type == st->damage_event) {
            *damaged = true;
        } else if (st->randr_event && (type == st->randr_event || type == st->randr_event + 1)) {
            *display_changed = true; /* RRScreenChangeNotify, RRNotify (a CRTC or output changed) */
        } else if (type == XCB_CONFIGURE_NOTIFY) {
            xcb_configure_notify_event_t *c = (xcb_configure_notify_event_t *)e;
            if (st->is_window && c->window == st->drawable) *new_w = c->width, *new_h = c->height;
            if (!st->is_window && c->window == st->d.screen->root) *display_changed = true; /* the screen was resized */
        } else if (type == XCB_DESTROY_NOTIFY) {
            if (st->is_window && ((xcb_destroy_notify_event_t *)e)->window == st->drawable) {
                free(e);
                miniav_stream_emit(s, MINIAV_EVENT_ENDED, MINIAV_ERROR_DEVICE_LOST, "window 0x%x was closed", st->drawable);
                return false;
            }
        } else if (type == XCB_UNMAP_NOTIFY) {
            if (st->is_window && !*paused) {
                *paused = true;
                miniav_stream_emit(s, MINIAV_EVENT_SOURCE_PAUSED, MINIAV_SUCCESS, "window 0x%x was hidden (unmapped or minimized)", st->drawable);
            }
        } else if (type == XCB_MAP_NOTIFY) {
            if (st->is_window && *paused) {
                *paused = false;
                *damaged = true;
                miniav_stream_emit(s, MINIAV_EVENT_SOURCE_RESUMED, MINIAV_SUCCESS, "window 0x%x is visible again", st->drawable);
            }
        }
        free(e);
    }
    if (X.xcb_connection_has_error(st->d.conn)) {
        miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_DEVICE_LOST, "the connection to the X server was lost");
        return false;
    }
    return true;
}

/* One frame between its request to the X server and its delivery. */
typedef struct {
    miniav_slot *slot;
    bool render;                           /* composite + sync, or GetImage */
    xcb_shm_get_image_cookie_t image;      /* GetImage: its reply says the pixels are written */
    xcb_void_cookie_t composite;           /* RENDER: the copy, for its error if any */
    xcb_get_input_focus_cookie_t sync;     /* RENDER: answered once the copy is done */
    int64_t timestamp;
} x11_request;

static void request_frame(miniav_stream *s, x11_state *st, miniav_slot *slot, x11_request *out) {
    (void)s;
    xcb_connection_t *c = st->d.conn;
    uint32_t i = slot->index;
    out->slot = slot;
    out->timestamp = MiniAV_GetTimeUs();
    out->render = st->current->picture[i] != 0;
    if (out->render) {
        /* SRC from the 24-bit root into the ARGB pixmap: a copy that writes alpha 255. The
         * sync request after it is answered only when the copy is in the segment, and
         * waiting for it does not wait for requests sent later (xcb_request_check would). */
        out->composite = X.xcb_render_composite_checked(c, XCB_RENDER_PICT_OP_SRC, st->source, XCB_NONE, st->current->picture[i],
                                                        (int16_t)st->area.x, (int16_t)st->area.y, 0, 0, 0, 0,
                                                        (uint16_t)st->area.width, (uint16_t)st->area.height);
        out->sync = X.xcb_get_input_focus(c);
    } else {
        out->image = X.xcb_shm_get_image(c, st->drawable, (int16_t)st->area.x, (int16_t)st->area.y, (uint16_t)st->area.width,
                                         (uint16_t)st->area.height, ~0u, XCB_IMAGE_FORMAT_Z_PIXMAP, st->current->seg[i], 0);
    }
    X.xcb_flush(c);
}

/* Waits until the server has written the frame; false when it could not. */
static bool frame_written(x11_state *st, x11_request *req) {
    xcb_generic_error_t *err = NULL;
    if (req->render) {
        xcb_get_input_focus_reply_t *done = X.xcb_get_input_focus_reply(st->d.conn, req->sync, NULL);
        if (!done) return false; /* connection lost: handle_events reports it */
        free(done);
        /* The reply came after the composite's error would have: no round trip here. */
        err = X.xcb_request_check(st->d.conn, req->composite);
        bool ok = err == NULL;
        free(err);
        return ok;
    }
    xcb_shm_get_image_reply_t *img = X.xcb_shm_get_image_reply(st->d.conn, req->image, &err);
    bool ok = img != NULL;
    free(err);
    free(img);
    return ok;
}

/* Waits for the server to have written the frame, finishes the pixels, delivers it.
 * False when the image could not be read. */
static bool complete_frame(miniav_stream *s, x11_state *st, x11_request *req) {
    miniav_slot *slot = req->slot;
    req->slot = NULL;
    if (!frame_written(st, req)) {
        miniav_stream_abandon(s, slot);
        atomic_fetch_add(&s->skipped, 1);
        return false;
    }
    uint8_t *mem = st->current->addr[slot->index];
    MiniAVBuffer *b = &slot->buffer;
    memset(b, 0, sizeof *b);
    if (st->cursor != MINIAV_CURSOR_NONE && X.has_xfixes) apply_cursor(st, b, mem);
    finish_pixels(mem, (size_t)st->area.width * st->area.height, s->video.pixel_format, req->render);
    b->type = MINIAV_BUFFER_TYPE_VIDEO;
    b->content_type = MINIAV_BUFFER_CONTENT_TYPE_CPU;
    b->timestamp_us = req->timestamp;
    b->data.video.width = st->area.width;
    b->data.video.height = st->area.height;
    b->data.video.pixel_format = s->video.pixel_format;
    b->data.video.num_planes = 1;
    b->data.video.planes[0] = mem;
    b->data.video.stride_bytes[0] = st->area.width * 4;
    b->data.video.plane_size_bytes[0] = st->frame_bytes;
    b->data.video.native_gpu_dmabuf_fd = -1;
    b->data_size_bytes = st->frame_bytes;
    miniav_stream_deliver(s, slot);
    return true;
}

static void complete_or_report(miniav_stream *s, x11_state *st, x11_request *req, bool *paused) {
    if (complete_frame(s, st, req) || !st->is_window || *paused) return;
    /* BadMatch: the window is not (fully) on screen right now. Skipped; said once. */
    *paused = true;
    miniav_stream_emit(s, MINIAV_EVENT_SOURCE_PAUSED, MINIAV_SUCCESS, "window 0x%x cannot be read (off screen or not viewable)", st->drawable);
}

/* The captured area takes a new size: the in-flight frame of the old size is finished,
 * then new buffers. False (after an error event) when they cannot be made. The caller
 * says what changed in its `format` event. */
static bool resize_area(miniav_stream *s, x11_state *st, x11_request *in_flight, rect area) {
    if (in_flight->slot) complete_frame(s, st, in_flight);
    st->area = area;
    if (make_pool(s, st)) {
        miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_OUT_OF_MEMORY, "cannot allocate buffers for the new size %ux%u: %s", area.width,
                           area.height, MiniAV_GetLastErrorMessage());
        return false;
    }
    s->video.width = area.width, s->video.height = area.height;
    return true;
}

/* The X screen or a monitor changed (RandR): the display is looked up again. A new size
 * gives frames of that size after a `format` event (in-flight frame of the old size
 * first); a display that is gone, or a region that no longer fits it, ends the stream. */
static bool follow_display(miniav_stream *s, x11_state *st, x11_request *in_flight) {
    rect display;
    if (display_rect(&st->d, s->device_id, &display)) {
        miniav_stream_emit(s, MINIAV_EVENT_ENDED, MINIAV_ERROR_DEVICE_LOST, "display '%s' is gone (monitors changed)", s->device_id);
        return false;
    }
    rect area = display;
    if (s->screen_target == MINIAV_SCREEN_TARGET_REGION) {
        if (miniav_screen_check_region(s, display.width, display.height, "display", s->device_id)) {
            miniav_stream_emit(s, MINIAV_EVENT_ENDED, MINIAV_ERROR_DEVICE_LOST, "the display changed: %s", MiniAV_GetLastErrorMessage());
            return false;
        }
        area = (rect){display.x + s->region_x, display.y + s->region_y, s->region_width, s->region_height};
    }
    bool resized = area.width != st->area.width || area.height != st->area.height;
    if (resized && !resize_area(s, st, in_flight, area)) return false;
    st->area = area; /* also when it only moved */
    st->display_x = area.x, st->display_y = area.y;
    if (!resized) return true;
    miniav_stream_emit(s, MINIAV_EVENT_FORMAT_CHANGED, MINIAV_SUCCESS, "display '%s' is now %ux%u", s->device_id, area.width, area.height);
    return true;
}

/* At a fixed rate each frame is requested and delivered in its own tick. Unpaced, the
 * next frame is requested before the previous one is finished, so the X server copies
 * frame n+1 while this thread finishes frame n (one frame in flight, no added latency
 * to speak of at hundreds of frames per second). */
static void *capture_thread(void *arg) {
    miniav_stream *s = arg;
    x11_state *st = s->backend_data;
    miniav_pacer pacer;
    miniav_pacer_init(&pacer, st->period_us);
    const bool pipelined = st->period_us == 0;
    bool paused = false, damaged = true;
    x11_request in_flight = {0};
    while (miniav_pacer_wait(&pacer, &st->worker.stop)) {
        uint32_t new_w = st->area.width, new_h = st->area.height;
        bool display_changed = false;
        if (!handle_events(s, st, &paused, &damaged, &new_w, &new_h, &display_changed)) break;
        if (new_w != st->area.width || new_h != st->area.height) {
            /* The window was resized: frames of the new size from now on. */
            if (!resize_area(s, st, &in_flight, (rect){st->area.x, st->area.y, new_w, new_h})) break;
            miniav_stream_emit(s, MINIAV_EVENT_FORMAT_CHANGED, MINIAV_SUCCESS, "window 0x%x is now %ux%u", st->drawable, new_w, new_h);
            damaged = true;
        }
        if (display_changed) {
            if (!follow_display(s, st, &in_flight)) break;
            damaged = true;
        }
        miniav_slot *slot = NULL;
        if (paused || (st->skip_unchanged && !damaged)) {
            atomic_fetch_add(&s->skipped, 1);
        } else if ((slot = miniav_stream_acquire(s)) != NULL) {
            if (st->damage) {
                /* Re-arm before reading, so a change during the read is not missed. */
                X.xcb_damage_subtract(st->d.conn, st->damage, XCB_NONE, XCB_NONE);
                damaged = false;
            }
        }
        x11_request next = {0};
        if (slot) request_frame(s, st, slot, &next);
        if (in_flight.slot) complete_or_report(s, st, &in_flight, &paused);
        in_flight = next;
        if (in_flight.slot && !pipelined) complete_or_report(s, st, &in_flight, &paused);
        if (!slot && pipelined) miniav_sleep_until(MiniAV_GetTimeUs() + 1000, &st->worker.stop); /* nothing to do: don't spin */
    }
    if (in_flight.slot) complete_frame(s, st, &in_flight);
    return NULL;
}

/* ------------------------------------------------------------------ backend functions */

/* Picks the RENDER path for a display or region when the server has what it needs:
 * RENDER, shared pixmaps in ZPixmap layout, a 32-bit a8r8g8b8 format and the root
 * visual's format. MINIAV_X11_GETIMAGE=1 keeps GetImage (to compare, or to rule it out). */
static void choose_render_path(x11_state *st) {
    xcb_connection_t *c = st->d.conn;
    const char *force = miniav_getenv("MINIAV_X11_GETIMAGE");
    if (st->is_window || !X.has_render || (force && *force && strcmp(force, "0"))) return;
    const xcb_query_extension_reply_t *ext = X.xcb_get_extension_data(c, X.render_id);
    if (!ext || !ext->present) return;
    xcb_shm_query_version_reply_t *shm = X.xcb_shm_query_version_reply(c, X.xcb_shm_query_version(c), NULL);
    bool shared_pixmaps = shm && shm->shared_pixmaps && shm->pixmap_format == XCB_IMAGE_FORMAT_Z_PIXMAP;
    free(shm);
    xcb_render_query_version_reply_t *version = X.xcb_render_query_version_reply(c, X.xcb_render_query_version(c, 0, 11), NULL);
    bool has_render = version != NULL;
    free(version);
    xcb_render_query_pict_formats_reply_t *formats =
        shared_pixmaps && has_render ? X.xcb_render_query_pict_formats_reply(c, X.xcb_render_query_pict_formats(c), NULL) : NULL;
    if (!formats) return;
    xcb_render_pictformat_t argb = 0, root = 0;
    for (xcb_render_pictforminfo_iterator_t f = X.xcb_render_query_pict_formats_formats_iterator(formats); f.rem;
         X.xcb_render_pictforminfo_next(&f)) {
        const xcb_render_directformat_t *d = &f.data->direct;
        if (f.data->type == XCB_RENDER_PICT_TYPE_DIRECT && f.data->depth == 32 && d->alpha_shift == 24 && d->alpha_mask == 0xff &&
            d->red_shift == 16 && d->red_mask == 0xff && d->green_shift == 8 && d->green_mask == 0xff && d->blue_shift == 0 &&
            d->blue_mask == 0xff)
            argb = f.data->id;
    }
    xcb_render_pictscreen_iterator_t screen = X.xcb_render_query_pict_formats_screens_iterator(formats); /* screen 0: ours */
    if (screen.rem)
        for (xcb_render_pictdepth_iterator_t dp = X.xcb_render_pictscreen_depths_iterator(screen.data); dp.rem; X.xcb_render_pictdepth_next(&dp))
            for (xcb_render_pictvisual_iterator_t v = X.xcb_render_pictdepth_visuals_iterator(dp.data); v.rem; X.xcb_render_pictvisual_next(&v))
                if (v.data->visual == st->d.screen->root_visual) root = v.data->format;
    free(formats);
    if (!argb || !root) return;
    /* The root with what its children show, as GetImage of the root reads it. */
    uint32_t subwindows = XCB_SUBWINDOW_MODE_INCLUDE_INFERIORS;
    xcb_render_picture_t source = X.xcb_generate_id(c);
    xcb_generic_error_t *err =
        X.xcb_request_check(c, X.xcb_render_create_picture_checked(c, source, st->d.screen->root, root, XCB_RENDER_CP_SUBWINDOW_MODE, &subwindows));
    if (err) {
        free(err);
        return;
    }
    st->source = source;
    st->argb_format = argb;
}

static MiniAVResultCode configure(miniav_stream *s) {
    if (!available()) return miniav_fail(MINIAV_ERROR_BACKEND_UNAVAILABLE, "X11 is not available (no DISPLAY or no libxcb)");
    MiniAVVideoFormatInfo f = s->requested_video;
    x11_state *st = calloc(1, sizeof *st);
    if (!st) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    MiniAVResultCode r = open_display(&st->d);
    if (r) {
        free(st);
        return r;
    }
    /* Only the common layout: 32 bits per pixel, little-endian, 8 bits per channel. */
    const xcb_setup_t *setup = X.xcb_get_setup(st->d.conn);
    bool bpp32 = false;
    xcb_format_t *formats = X.xcb_setup_pixmap_formats(setup);
    for (int i = 0; i < X.xcb_setup_pixmap_formats_length(setup); i++)
        if (formats[i].depth == st->d.screen->root_depth) bpp32 = formats[i].bits_per_pixel == 32;
    if (!bpp32 || setup->image_byte_order != XCB_IMAGE_ORDER_LSB_FIRST || st->d.screen->root_depth < 24) {
        r = miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "this X screen (depth %u) is not 24/32-bit little-endian, which x11 capture needs",
                        st->d.screen->root_depth);
        goto fail;
    }
    const xcb_query_extension_reply_t *shm = X.xcb_get_extension_data(st->d.conn, X.shm_id);
    if (!shm || !shm->present) {
        r = miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "the X server has no MIT-SHM extension (a remote display?); x11 capture needs it");
        goto fail;
    }
    rect display;
    xcb_window_t window;
    if (s->screen_target == MINIAV_SCREEN_TARGET_WINDOW) {
        if (!parse_window_id(s->device_id, &window)) {
            r = miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "'%s' is not an X11 window id; list windows with enumerateWindows()", s->device_id);
            goto fail;
        }
        if (!window_rect(&st->d, window, &display)) {
            r = miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "no X11 window %s (closed?); list windows with enumerateWindows()", s->device_id);
            goto fail;
        }
        st->drawable = window;
        st->is_window = true;
        st->area = (rect){0, 0, display.width, display.height};
    } else {
        if (parse_window_id(s->device_id, &window)) {
            r = miniav_fail(MINIAV_ERROR_INVALID_ARG, "'%s' is a window: open it with { window: id }", s->device_id);
            goto fail;
        }
        r = display_rect(&st->d, s->device_id, &display);
        if (r) goto fail;
        st->drawable = st->d.screen->root;
        st->area = display;
        if (s->screen_target == MINIAV_SCREEN_TARGET_REGION) {
            r = miniav_screen_check_region(s, display.width, display.height, "display", s->device_id);
            if (r) goto fail;
            st->area = (rect){display.x + s->region_x, display.y + s->region_y, s->region_width, s->region_height};
        }
        st->display_x = st->area.x, st->display_y = st->area.y;
    }
    r = miniav_screen_resolve_format(&f, st->area.width, st->area.height, "x11", "bgra, rgba, bgrx (fastest: as the X server writes it) or rgbx",
                                     "no GPU output (XShm is CPU memory); delivering CPU buffers", &st->period_us);
    if (r) goto fail;
    s->video = f;
    s->backend_data = st;
    choose_render_path(st);
    miniav_log(MINIAV_LOG_LEVEL_DEBUG, "x11: %s: %s", s->device_id,
               st->argb_format ? "frames copied by RENDER into ARGB shared pixmaps (alpha set by the server)"
                               : "frames read with ShmGetImage");
    /* Buffers now, so start() is quick and the first frame comes soon after it. */
    r = make_pool(s, st);
    if (r) {
        s->backend_data = NULL;
        goto fail;
    }
    return MINIAV_SUCCESS;
fail:
    close_display(&st->d);
    free(st);
    return r;
}

static MiniAVResultCode start(miniav_stream *s) {
    x11_state *st = s->backend_data;
    st->cursor = s->screen_options.cursor;
    st->skip_unchanged = s->screen_options.skip_unchanged != 0;
    if (st->cursor != MINIAV_CURSOR_NONE) {
        xcb_xfixes_query_version_reply_t *v =
            X.has_xfixes ? X.xcb_xfixes_query_version_reply(st->d.conn, X.xcb_xfixes_query_version(st->d.conn, 4, 0), NULL) : NULL;
        if (!v) return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "the cursor option needs the XFixes extension, which this X server or machine lacks");
        free(v);
    }
    if (st->is_window) {
        /* Moves, resizes, hiding and closing of the window arrive as events. */
        uint32_t mask = XCB_EVENT_MASK_STRUCTURE_NOTIFY;
        xcb_generic_error_t *err =
            X.xcb_request_check(st->d.conn, X.xcb_change_window_attributes_checked(st->d.conn, st->drawable, XCB_CW_EVENT_MASK, &mask));
        if (err) {
            free(err);
            return miniav_fail(MINIAV_ERROR_DEVICE_LOST, "window 0x%x is gone", st->drawable);
        }
        rect now;
        if (window_rect(&st->d, st->drawable, &now)) st->area.width = now.width, st->area.height = now.height;
        s->video.width = st->area.width, s->video.height = st->area.height;
    }
    if (!st->is_window && !st->randr_event) {
        /* A resized screen arrives as a ConfigureNotify of the root, a monitor that moves
         * or goes away as RandR events: the capture follows (see follow_display). */
        uint32_t mask = XCB_EVENT_MASK_STRUCTURE_NOTIFY;
        xcb_generic_error_t *err =
            X.xcb_request_check(st->d.conn, X.xcb_change_window_attributes_checked(st->d.conn, st->d.screen->root, XCB_CW_EVENT_MASK, &mask));
        free(err);
        const xcb_query_extension_reply_t *randr = X.has_randr ? X.xcb_get_extension_data(st->d.conn, X.randr_id) : NULL;
        if (randr && randr->present) {
            X.xcb_randr_select_input(st->d.conn, st->d.screen->root,
                                     XCB_RANDR_NOTIFY_MASK_SCREEN_CHANGE | XCB_RANDR_NOTIFY_MASK_CRTC_CHANGE | XCB_RANDR_NOTIFY_MASK_OUTPUT_CHANGE);
            st->randr_event = randr->first_event;
        }
    }
    if (st->skip_unchanged && !st->damage) {
        const xcb_query_extension_reply_t *ext = X.has_damage ? X.xcb_get_extension_data(st->d.conn, X.damage_id) : NULL;
        xcb_damage_query_version_reply_t *v =
            ext && ext->present ? X.xcb_damage_query_version_reply(st->d.conn, X.xcb_damage_query_version(st->d.conn, 1, 1), NULL) : NULL;
        if (!v) return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "skipping unchanged frames needs the DAMAGE extension, which is missing");
        free(v);
        st->damage = X.xcb_generate_id(st->d.conn);
        xcb_generic_error_t *err = X.xcb_request_check(
            st->d.conn, X.xcb_damage_create_checked(st->d.conn, st->damage, st->drawable, XCB_DAMAGE_REPORT_LEVEL_NON_EMPTY));
        if (err) {
            free(err);
            st->damage = 0;
            return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "cannot track damage on the capture target");
        }
        st->damage_event = (uint8_t)(ext->first_event + XCB_DAMAGE_NOTIFY);
    }
    /* The pool from configure, unless the window's size or the pool size changed since. */
    if (!st->current || st->frame_bytes != (size_t)st->area.width * st->area.height * 4 ||
        st->current->count != miniav_stream_pool_size(s, DEFAULT_POOL)) {
        MiniAVResultCode r = make_pool(s, st);
        if (r) return r;
    }
    return miniav_capture_thread_start(&st->worker, capture_thread, s);
}

static void stop(miniav_stream *s) {
    x11_state *st = s->backend_data;
    miniav_capture_thread_stop(&st->worker);
    if (st->damage) {
        X.xcb_damage_destroy(st->d.conn, st->damage);
        st->damage = 0;
    }
}

static void destroy(miniav_stream *s) {
    x11_state *st = s->backend_data;
    if (!st) return;
    /* The pool (and its segments) may outlive this: closing the connection detaches the
     * server's side; our mappings stay until the last buffer is released. */
    close_display(&st->d);
    free(st);
}

const miniav_backend miniav_x11_screen = {
    .name = "x11", .type = MINIAV_DEVICE_TYPE_SCREEN, .available = available,
    .enumerate = enumerate_displays, .enumerate_windows = enumerate_windows, .owns_id = owns_id,
    .video_formats = video_formats, .configure = configure, .start = start, .stop = stop, .destroy = destroy,
};
