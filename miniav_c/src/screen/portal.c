/* Wayland screens and windows through the xdg-desktop-portal ScreenCast interface: the only
 * way to capture a Wayland desktop (GNOME, KDE, sway, ...). The portal asks the user what to
 * share (or nobody, with a restore token from an earlier session), then hands back a
 * PipeWire remote with one video node, which common/pipewire_video.c reads without copies.
 *
 * Ids: "portal:monitor", "portal:window", "portal:virtual" (what the user may pick from);
 * the choice itself happens at Configure, so Configure can wait on a dialog.
 * D-Bus through libdbus-1 (dlopened), on a private connection per stream.
 */
#define _GNU_SOURCE
#include "../common/pipewire_video.h"

#include <dbus/dbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ID_PREFIX "portal:"
#define PORTAL_BUS "org.freedesktop.portal.Desktop"
#define PORTAL_PATH "/org/freedesktop/portal/desktop"
#define SCREENCAST "org.freedesktop.portal.ScreenCast"
#define DIALOG_TIMEOUT_MS (5 * 60 * 1000) /* a person may take a while to choose */
#define CALL_TIMEOUT_MS 10000

enum { SOURCE_MONITOR = 1, SOURCE_WINDOW = 2, SOURCE_VIRTUAL = 4 };
enum { CURSOR_HIDDEN = 1, CURSOR_EMBEDDED = 2 };
enum { PERSIST_UNTIL_REVOKED = 2 };

/* ------------------------------------------------------------------ libdbus */

static struct {
    dbus_bool_t (*threads_init_default)(void);
    void (*error_init)(DBusError *);
    void (*error_free)(DBusError *);
    DBusConnection *(*bus_get_private)(DBusBusType, DBusError *);
    const char *(*bus_get_unique_name)(DBusConnection *);
    void (*bus_add_match)(DBusConnection *, const char *, DBusError *);
    void (*connection_set_exit_on_disconnect)(DBusConnection *, dbus_bool_t);
    void (*connection_close)(DBusConnection *);
    void (*connection_unref)(DBusConnection *);
    DBusMessage *(*connection_send_with_reply_and_block)(DBusConnection *, DBusMessage *, int, DBusError *);
    dbus_bool_t (*connection_read_write)(DBusConnection *, int);
    DBusMessage *(*connection_pop_message)(DBusConnection *);
    dbus_bool_t (*connection_can_send_type)(DBusConnection *, int);
    DBusMessage *(*message_new_method_call)(const char *, const char *, const char *, const char *);
    void (*message_unref)(DBusMessage *);
    dbus_bool_t (*message_is_signal)(DBusMessage *, const char *, const char *);
    const char *(*message_get_path)(DBusMessage *);
    dbus_bool_t (*message_iter_init)(DBusMessage *, DBusMessageIter *);
    void (*message_iter_init_append)(DBusMessage *, DBusMessageIter *);
    dbus_bool_t (*message_iter_append_basic)(DBusMessageIter *, int, const void *);
    dbus_bool_t (*message_iter_open_container)(DBusMessageIter *, int, const char *, DBusMessageIter *);
    dbus_bool_t (*message_iter_close_container)(DBusMessageIter *, DBusMessageIter *);
    int (*message_iter_get_arg_type)(DBusMessageIter *);
    void (*message_iter_get_basic)(DBusMessageIter *, void *);
    void (*message_iter_recurse)(DBusMessageIter *, DBusMessageIter *);
    dbus_bool_t (*message_iter_next)(DBusMessageIter *);
} db;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static miniav_library *dbus_library;

static void load(void) {
    static const char *const names[] = {"libdbus-1.so.3", "libdbus-1.so", NULL};
    miniav_library *lib = miniav_library_open(names);
    if (!lib) return;
    const miniav_symbol table[] = {
        {"dbus_threads_init_default", (void **)&db.threads_init_default},
        {"dbus_error_init", (void **)&db.error_init},
        {"dbus_error_free", (void **)&db.error_free},
        {"dbus_bus_get_private", (void **)&db.bus_get_private},
        {"dbus_bus_get_unique_name", (void **)&db.bus_get_unique_name},
        {"dbus_bus_add_match", (void **)&db.bus_add_match},
        {"dbus_connection_set_exit_on_disconnect", (void **)&db.connection_set_exit_on_disconnect},
        {"dbus_connection_close", (void **)&db.connection_close},
        {"dbus_connection_unref", (void **)&db.connection_unref},
        {"dbus_connection_send_with_reply_and_block", (void **)&db.connection_send_with_reply_and_block},
        {"dbus_connection_read_write", (void **)&db.connection_read_write},
        {"dbus_connection_pop_message", (void **)&db.connection_pop_message},
        {"dbus_connection_can_send_type", (void **)&db.connection_can_send_type},
        {"dbus_message_new_method_call", (void **)&db.message_new_method_call},
        {"dbus_message_unref", (void **)&db.message_unref},
        {"dbus_message_is_signal", (void **)&db.message_is_signal},
        {"dbus_message_get_path", (void **)&db.message_get_path},
        {"dbus_message_iter_init", (void **)&db.message_iter_init},
        {"dbus_message_iter_init_append", (void **)&db.message_iter_init_append},
        {"dbus_message_iter_append_basic", (void **)&db.message_iter_append_basic},
        {"dbus_message_iter_open_container", (void **)&db.message_iter_open_container},
        {"dbus_message_iter_close_container", (void **)&db.message_iter_close_container},
        {"dbus_message_iter_get_arg_type", (void **)&db.message_iter_get_arg_type},
        {"dbus_message_iter_get_basic", (void **)&db.message_iter_get_basic},
        {"dbus_message_iter_recurse", (void **)&db.message_iter_recurse},
        {"dbus_message_iter_next", (void **)&db.message_iter_next},
    };
    if (miniav_library_load_symbols(lib, table, sizeof table / sizeof table[0])) {
        miniav_library_close(lib);
        return;
    }
    db.threads_init_default(); /* one connection is used from two threads (calls, Closed watch) */
    dbus_library = lib;
}

static bool dbus_loaded(void) {
    pthread_once(&load_once, load);
    return dbus_library != NULL;
}

/* ------------------------------------------------------------------ a{sv} helpers */

static void dict_entry(DBusMessageIter *dict, const char *key, int type, const char *sig, const void *value) {
    DBusMessageIter entry, variant;
    db.message_iter_open_container(dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry);
    db.message_iter_append_basic(&entry, DBUS_TYPE_STRING, &key);
    db.message_iter_open_container(&entry, DBUS_TYPE_VARIANT, sig, &variant);
    db.message_iter_append_basic(&variant, type, value);
    db.message_iter_close_container(&entry, &variant);
    db.message_iter_close_container(dict, &entry);
}

static void dict_string(DBusMessageIter *d, const char *key, const char *v) { dict_entry(d, key, DBUS_TYPE_STRING, "s", &v); }
static void dict_uint(DBusMessageIter *d, const char *key, uint32_t v) { dict_entry(d, key, DBUS_TYPE_UINT32, "u", &v); }
static void dict_bool(DBusMessageIter *d, const char *key, bool v) {
    dbus_bool_t b = v;
    dict_entry(d, key, DBUS_TYPE_BOOLEAN, "b", &b);
}

/* Finds key in an a{sv} iterator; *value is the variant's content. */
static bool dict_find(DBusMessageIter *dict, const char *key, DBusMessageIter *value) {
    DBusMessageIter it;
    if (db.message_iter_get_arg_type(dict) != DBUS_TYPE_ARRAY) return false;
    db.message_iter_recurse(dict, &it);
    while (db.message_iter_get_arg_type(&it) == DBUS_TYPE_DICT_ENTRY) {
        DBusMessageIter entry, variant;
        const char *k;
        db.message_iter_recurse(&it, &entry);
        db.message_iter_get_basic(&entry, &k);
        db.message_iter_next(&entry);
        if (!strcmp(k, key) && db.message_iter_get_arg_type(&entry) == DBUS_TYPE_VARIANT) {
            db.message_iter_recurse(&entry, &variant);
            *value = variant;
            return true;
        }
        (void)variant;
        db.message_iter_next(&it);
    }
    return false;
}

/* ------------------------------------------------------------------ a portal session */

typedef struct {
    DBusConnection *bus;
    char sender[128]; /* unique name, as request paths spell it */
    char session[256];
    unsigned token;
} portal_session;

static MiniAVResultCode connect_bus(portal_session *p) {
    DBusError err;
    db.error_init(&err);
    p->bus = db.bus_get_private(DBUS_BUS_SESSION, &err);
    if (!p->bus) {
        MiniAVResultCode r = miniav_fail(MINIAV_ERROR_BACKEND_UNAVAILABLE, "no D-Bus session bus (%s): the portal needs a desktop session",
                                         err.message ? err.message : "unknown");
        db.error_free(&err);
        return r;
    }
    db.connection_set_exit_on_disconnect(p->bus, FALSE);
    const char *unique = db.bus_get_unique_name(p->bus);
    size_t n = 0;
    for (const char *c = unique && *unique == ':' ? unique + 1 : unique; c && *c && n + 1 < sizeof p->sender; c++)
        p->sender[n++] = *c == '.' ? '_' : *c;
    p->sender[n] = '\0';
    return MINIAV_SUCCESS;
}

static void close_bus(portal_session *p) {
    if (!p->bus) return;
    if (p->session[0]) {
        DBusMessage *m = db.message_new_method_call(PORTAL_BUS, p->session, "org.freedesktop.portal.Session", "Close");
        DBusError err;
        db.error_init(&err);
        DBusMessage *reply = m ? db.connection_send_with_reply_and_block(p->bus, m, 2000, &err) : NULL;
        if (reply) db.message_unref(reply);
        if (m) db.message_unref(m);
        db.error_free(&err);
        p->session[0] = '\0';
    }
    db.connection_close(p->bus);
    db.connection_unref(p->bus);
    p->bus = NULL;
}

static MiniAVResultCode call_error(DBusError *err, const char *method) {
    MiniAVResultCode code = err->name && strstr(err->name, "ServiceUnknown") ? MINIAV_ERROR_BACKEND_UNAVAILABLE : MINIAV_ERROR_SYSTEM_CALL_FAILED;
    MiniAVResultCode r = miniav_fail(code, "portal %s failed: %s", method, err->message ? err->message : "no answer");
    db.error_free(err);
    return r;
}

typedef void (*append_args)(portal_session *p, DBusMessageIter *args, const char *token, const void *ctx);

/* Calls a portal method that answers later with a Request.Response signal; returns that
 * signal (its results dict in *results), or an error for a refusal or a cancelled dialog. */
static MiniAVResultCode request(portal_session *p, const char *method, append_args append, const void *ctx, int timeout_ms,
                                DBusMessage **response, DBusMessageIter *results) {
    char token[32], path[512], rule[768];
    snprintf(token, sizeof token, "miniav%u", ++p->token);
    snprintf(path, sizeof path, PORTAL_PATH "/request/%s/%s", p->sender, token);
    /* Listen before calling: the answer may come before the call returns. */
    snprintf(rule, sizeof rule, "type='signal',interface='org.freedesktop.portal.Request',member='Response',path='%s'", path);
    DBusError err;
    db.error_init(&err);
    db.bus_add_match(p->bus, rule, &err);
    if (err.name) return call_error(&err, method);
    DBusMessage *m = db.message_new_method_call(PORTAL_BUS, PORTAL_PATH, SCREENCAST, method);
    if (!m) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    DBusMessageIter args;
    db.message_iter_init_append(m, &args);
    append(p, &args, token, ctx);
    DBusMessage *reply = db.connection_send_with_reply_and_block(p->bus, m, CALL_TIMEOUT_MS, &err);
    db.message_unref(m);
    if (!reply) return call_error(&err, method);
    db.message_unref(reply);

    int64_t deadline = MiniAV_GetTimeUs() + (int64_t)timeout_ms * 1000;
    while (MiniAV_GetTimeUs() < deadline) {
        if (!db.connection_read_write(p->bus, 100))
            return miniav_fail(MINIAV_ERROR_DEVICE_LOST, "the D-Bus session bus went away during %s", method);
        DBusMessage *msg;
        while ((msg = db.connection_pop_message(p->bus))) {
            const char *at = db.message_get_path(msg);
            if (db.message_is_signal(msg, "org.freedesktop.portal.Request", "Response") && at && !strcmp(at, path)) {
                DBusMessageIter it;
                uint32_t code = 2;
                if (db.message_iter_init(msg, &it) && db.message_iter_get_arg_type(&it) == DBUS_TYPE_UINT32) {
                    db.message_iter_get_basic(&it, &code);
                    db.message_iter_next(&it);
                }
                if (code != 0) {
                    db.message_unref(msg);
                    if (code == 1)
                        return miniav_fail(MINIAV_ERROR_PERMISSION_DENIED, "screen sharing was cancelled in the system dialog (%s)", method);
                    return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "the portal refused %s (the compositor could not share that source)", method);
                }
                *response = msg;
                *results = it;
                return MINIAV_SUCCESS;
            }
            db.message_unref(msg);
        }
    }
    return miniav_fail(MINIAV_ERROR_TIMEOUT, "no answer from the screen-sharing portal to %s", method);
}

static void append_create(portal_session *p, DBusMessageIter *args, const char *token, const void *ctx) {
    (void)p, (void)ctx;
    DBusMessageIter dict;
    db.message_iter_open_container(args, DBUS_TYPE_ARRAY, "{sv}", &dict);
    dict_string(&dict, "handle_token", token);
    dict_string(&dict, "session_handle_token", token);
    db.message_iter_close_container(args, &dict);
}

typedef struct {
    uint32_t types, cursor_mode;
    const char *restore_token;
} select_args;

static void append_select(portal_session *p, DBusMessageIter *args, const char *token, const void *ctx) {
    const select_args *a = ctx;
    const char *session = p->session;
    DBusMessageIter dict;
    db.message_iter_append_basic(args, DBUS_TYPE_OBJECT_PATH, &session);
    db.message_iter_open_container(args, DBUS_TYPE_ARRAY, "{sv}", &dict);
    dict_string(&dict, "handle_token", token);
    dict_uint(&dict, "types", a->types);
    dict_bool(&dict, "multiple", false);
    dict_uint(&dict, "cursor_mode", a->cursor_mode);
    dict_uint(&dict, "persist_mode", PERSIST_UNTIL_REVOKED);
    if (a->restore_token && *a->restore_token) dict_string(&dict, "restore_token", a->restore_token);
    db.message_iter_close_container(args, &dict);
}

static void append_start(portal_session *p, DBusMessageIter *args, const char *token, const void *ctx) {
    (void)ctx;
    const char *session = p->session, *parent = "";
    DBusMessageIter dict;
    db.message_iter_append_basic(args, DBUS_TYPE_OBJECT_PATH, &session);
    db.message_iter_append_basic(args, DBUS_TYPE_STRING, &parent);
    db.message_iter_open_container(args, DBUS_TYPE_ARRAY, "{sv}", &dict);
    dict_string(&dict, "handle_token", token);
    db.message_iter_close_container(args, &dict);
}

/* A ScreenCast property (u), or 0. */
static uint32_t screencast_property(portal_session *p, const char *name) {
    DBusMessage *m = db.message_new_method_call(PORTAL_BUS, PORTAL_PATH, "org.freedesktop.DBus.Properties", "Get");
    if (!m) return 0;
    const char *iface = SCREENCAST;
    DBusMessageIter args, it, v;
    db.message_iter_init_append(m, &args);
    db.message_iter_append_basic(&args, DBUS_TYPE_STRING, &iface);
    db.message_iter_append_basic(&args, DBUS_TYPE_STRING, &name);
    DBusError err;
    db.error_init(&err);
    DBusMessage *reply = db.connection_send_with_reply_and_block(p->bus, m, 3000, &err);
    db.message_unref(m);
    db.error_free(&err);
    uint32_t value = 0;
    if (reply && db.message_iter_init(reply, &it) && db.message_iter_get_arg_type(&it) == DBUS_TYPE_VARIANT) {
        db.message_iter_recurse(&it, &v);
        if (db.message_iter_get_arg_type(&v) == DBUS_TYPE_UINT32) db.message_iter_get_basic(&v, &value);
    }
    if (reply) db.message_unref(reply);
    return value;
}

typedef struct {
    uint32_t node_id;
    int32_t width, height;
} portal_stream;

/* The whole dialog: session, sources, start (the user chooses here), the PipeWire remote. */
static MiniAVResultCode open_session(portal_session *p, uint32_t types, uint32_t cursor_mode, const char *restore_in, portal_stream *stream,
                                     char *restore_out, size_t restore_size, int *pipewire_fd) {
    DBusMessage *resp;
    DBusMessageIter results, v;
    MiniAVResultCode r = request(p, "CreateSession", append_create, NULL, CALL_TIMEOUT_MS, &resp, &results);
    if (r) return r;
    const char *handle = NULL;
    if (dict_find(&results, "session_handle", &v) &&
        (db.message_iter_get_arg_type(&v) == DBUS_TYPE_STRING || db.message_iter_get_arg_type(&v) == DBUS_TYPE_OBJECT_PATH))
        db.message_iter_get_basic(&v, &handle);
    miniav_copy_string(p->session, sizeof p->session, handle);
    db.message_unref(resp);
    if (!p->session[0]) return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "the portal made no session");

    select_args sel = {types, cursor_mode, restore_in};
    r = request(p, "SelectSources", append_select, &sel, CALL_TIMEOUT_MS, &resp, &results);
    if (r) return r;
    db.message_unref(resp);

    r = request(p, "Start", append_start, NULL, DIALOG_TIMEOUT_MS, &resp, &results);
    if (r) return r;
    memset(stream, 0, sizeof *stream);
    bool have_stream = false;
    if (dict_find(&results, "streams", &v) && db.message_iter_get_arg_type(&v) == DBUS_TYPE_ARRAY) {
        DBusMessageIter arr, st;
        db.message_iter_recurse(&v, &arr);
        if (db.message_iter_get_arg_type(&arr) == DBUS_TYPE_STRUCT) {
            db.message_iter_recurse(&arr, &st);
            db.message_iter_get_basic(&st, &stream->node_id);
            db.message_iter_next(&st);
            DBusMessageIter size;
            if (dict_find(&st, "size", &size) && db.message_iter_get_arg_type(&size) == DBUS_TYPE_STRUCT) {
                DBusMessageIter wh;
                db.message_iter_recurse(&size, &wh);
                db.message_iter_get_basic(&wh, &stream->width);
                db.message_iter_next(&wh);
                db.message_iter_get_basic(&wh, &stream->height);
            }
            have_stream = true;
        }
    }
    restore_out[0] = '\0';
    if (dict_find(&results, "restore_token", &v) && db.message_iter_get_arg_type(&v) == DBUS_TYPE_STRING) {
        const char *t;
        db.message_iter_get_basic(&v, &t);
        miniav_copy_string(restore_out, restore_size, t);
    }
    db.message_unref(resp);
    if (!have_stream) return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "the portal started a session without a stream");

    if (!db.connection_can_send_type(p->bus, DBUS_TYPE_UNIX_FD))
        return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "this D-Bus connection cannot pass file descriptors");
    DBusMessage *m = db.message_new_method_call(PORTAL_BUS, PORTAL_PATH, SCREENCAST, "OpenPipeWireRemote");
    if (!m) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    const char *session = p->session;
    DBusMessageIter args, dict, it;
    db.message_iter_init_append(m, &args);
    db.message_iter_append_basic(&args, DBUS_TYPE_OBJECT_PATH, &session);
    db.message_iter_open_container(&args, DBUS_TYPE_ARRAY, "{sv}", &dict);
    db.message_iter_close_container(&args, &dict);
    DBusError err;
    db.error_init(&err);
    DBusMessage *reply = db.connection_send_with_reply_and_block(p->bus, m, CALL_TIMEOUT_MS, &err);
    db.message_unref(m);
    if (!reply) return call_error(&err, "OpenPipeWireRemote");
    *pipewire_fd = -1;
    if (db.message_iter_init(reply, &it) && db.message_iter_get_arg_type(&it) == DBUS_TYPE_UNIX_FD) db.message_iter_get_basic(&it, pipewire_fd);
    db.message_unref(reply);
    if (*pipewire_fd < 0) return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "the portal gave no PipeWire connection");
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ the backend */

typedef struct {
    portal_session session;
    miniav_pw_conn *pw;
    miniav_pw_video *video;
    portal_stream stream;
    MiniAVVideoFormatInfo chosen;
    miniav_capture_thread watcher; /* the session's Closed signal while streaming */
    bool watching;
} portal_state;

static bool wayland_session(void) {
    const char *type = getenv("XDG_SESSION_TYPE");
    return (type && !strcmp(type, "wayland")) || (getenv("WAYLAND_DISPLAY") && *getenv("WAYLAND_DISPLAY"));
}

/* Source types the portal offers (0 when it does not answer); asked at most every 5 s. */
static uint32_t available_types(void) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static int64_t checked_at;
    static uint32_t types;
    pthread_mutex_lock(&lock);
    int64_t now = MiniAV_GetTimeUs();
    if (!checked_at || now - checked_at > 5000000) {
        portal_session p = {0};
        types = 0;
        if (connect_bus(&p) == MINIAV_SUCCESS) types = screencast_property(&p, "AvailableSourceTypes");
        close_bus(&p);
        miniav_clear_error();
        checked_at = now;
    }
    uint32_t t = types;
    pthread_mutex_unlock(&lock);
    return t;
}

static bool available(void) { return wayland_session() && dbus_loaded() && miniav_pw_load() && available_types() != 0; }

static bool owns_id(const char *id) { return !strncmp(id, ID_PREFIX, strlen(ID_PREFIX)); }

static uint32_t type_of_id(const char *id) {
    if (!strcmp(id, ID_PREFIX "monitor")) return SOURCE_MONITOR;
    if (!strcmp(id, ID_PREFIX "window")) return SOURCE_WINDOW;
    if (!strcmp(id, ID_PREFIX "virtual")) return SOURCE_VIRTUAL;
    return 0;
}

static MiniAVResultCode add_source(miniav_device_list *out, const char *id, const char *name, bool is_default) {
    MiniAVDeviceInfo *d = miniav_device_list_add(out);
    if (!d) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    miniav_copy_string(d->device_id, sizeof d->device_id, id);
    miniav_copy_string(d->name, sizeof d->name, name);
    d->is_default = is_default;
    return MINIAV_SUCCESS;
}

static MiniAVResultCode enumerate_displays(miniav_device_list *out, MiniAVLoopbackTargetType filter) {
    (void)filter;
    uint32_t t = available_types();
    MiniAVResultCode r = MINIAV_SUCCESS;
    if (t & SOURCE_MONITOR) r = add_source(out, ID_PREFIX "monitor", "A screen, chosen in the system's sharing dialog", true);
    if (!r && (t & SOURCE_VIRTUAL)) r = add_source(out, ID_PREFIX "virtual", "A new virtual screen", false);
    return r;
}

static MiniAVResultCode enumerate_windows(miniav_device_list *out) {
    return (available_types() & SOURCE_WINDOW) ? add_source(out, ID_PREFIX "window", "A window, chosen in the system's sharing dialog", false)
                                                : MINIAV_SUCCESS;
}

/* The size is the user's choice, known after Configure: listed as 0x0. */
static MiniAVResultCode video_formats(const char *device_id, MiniAVVideoFormatInfo **formats, uint32_t *count) {
    if (!type_of_id(device_id))
        return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "no portal source '%s'; use portal:monitor, portal:window or portal:virtual", device_id);
    static const MiniAVPixelFormat listed[] = {MINIAV_PIXEL_FORMAT_BGRX32, MINIAV_PIXEL_FORMAT_BGRA32, MINIAV_PIXEL_FORMAT_RGBX32,
                                               MINIAV_PIXEL_FORMAT_RGBA32};
    MiniAVVideoFormatInfo *list = calloc(4, sizeof *list);
    if (!list) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < 4; i++) list[i] = (MiniAVVideoFormatInfo){0, 0, listed[i], 30, 1, MINIAV_OUTPUT_PREFERENCE_CPU, 0};
    *formats = list;
    *count = 4;
    return MINIAV_SUCCESS;
}

static void destroy(miniav_stream *s) {
    portal_state *st = s->backend_data;
    if (!st) return;
    miniav_pw_video_stop(st->video);
    miniav_pw_disconnect(st->pw);
    close_bus(&st->session);
    free(st);
    s->backend_data = NULL;
}

static MiniAVResultCode configure(miniav_stream *s) {
    uint32_t type = type_of_id(s->device_id);
    if (!type)
        return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "no portal source '%s'; use portal:monitor, portal:window or portal:virtual",
                           s->device_id);
    if (s->screen_target == MINIAV_SCREEN_TARGET_REGION)
        return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "the portal shares whole screens and windows, not regions");
    if (s->screen_options.cursor == MINIAV_CURSOR_METADATA)
        return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "cursor metadata is not supported through the portal yet; use composite or none");
    portal_state *st = calloc(1, sizeof *st);
    if (!st) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    s->backend_data = st;
    MiniAVResultCode r = connect_bus(&st->session);
    if (r) return r;
    uint32_t types = screencast_property(&st->session, "AvailableSourceTypes");
    if (!(types & type)) return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "this desktop's portal cannot share a %s", s->device_id + strlen(ID_PREFIX));
    uint32_t cursors = screencast_property(&st->session, "AvailableCursorModes");
    uint32_t cursor = s->screen_options.cursor == MINIAV_CURSOR_COMPOSITE ? CURSOR_EMBEDDED : CURSOR_HIDDEN;
    if (cursors && !(cursors & cursor)) cursor = cursors & CURSOR_HIDDEN ? CURSOR_HIDDEN : CURSOR_EMBEDDED; /* what it can */
    int fd;
    r = open_session(&st->session, type, cursor, s->screen_options.restore_token, &st->stream, s->restore_token, sizeof s->restore_token, &fd);
    if (!r) r = miniav_pw_connect(fd, &st->pw);
    MiniAVVideoFormatInfo *list = NULL;
    uint32_t n = 0;
    if (!r) r = miniav_pw_node_formats(st->pw, st->stream.node_id, &list, &n);
    if (!r) {
        /* The user's source decides the size; the request picks the pixel format and rate. */
        MiniAVVideoFormatInfo req = s->requested_video;
        req.width = req.height = 0;
        r = miniav_pw_choose_format(&req, list, n, s->device_id, &st->chosen);
    }
    free(list);
    if (r) return r;
    if (st->stream.width > 0 && (st->chosen.width == 0 || st->chosen.width > (uint32_t)st->stream.width)) {
        st->chosen.width = (uint32_t)st->stream.width;
        st->chosen.height = (uint32_t)st->stream.height;
    }
    s->video = st->chosen;
    s->video.output_preference = MINIAV_OUTPUT_PREFERENCE_CPU;
    return MINIAV_SUCCESS;
}

/* Ends the stream when the compositor or the user closes the session. */
static void *watch_session(void *arg) {
    miniav_stream *s = arg;
    portal_state *st = s->backend_data;
    char rule[512];
    snprintf(rule, sizeof rule, "type='signal',interface='org.freedesktop.portal.Session',member='Closed',path='%s'", st->session.session);
    DBusError err;
    db.error_init(&err);
    db.bus_add_match(st->session.bus, rule, &err);
    db.error_free(&err);
    while (!atomic_load(&st->watcher.stop)) {
        if (!db.connection_read_write(st->session.bus, 100)) break;
        DBusMessage *msg;
        while ((msg = db.connection_pop_message(st->session.bus))) {
            bool closed = db.message_is_signal(msg, "org.freedesktop.portal.Session", "Closed");
            db.message_unref(msg);
            if (closed) {
                miniav_pw_video_end(st->video, "the screen-sharing session was closed (by the desktop or the user)");
                return NULL;
            }
        }
    }
    return NULL;
}

static MiniAVResultCode start(miniav_stream *s) {
    portal_state *st = s->backend_data;
    MiniAVResultCode r = miniav_pw_video_start(s, st->pw, NULL, st->stream.node_id, "Screen", &st->chosen, &st->video);
    if (r) return r;
    st->watching = miniav_capture_thread_start(&st->watcher, watch_session, s) == MINIAV_SUCCESS;
    return MINIAV_SUCCESS;
}

static void stop(miniav_stream *s) {
    portal_state *st = s->backend_data;
    if (st->watching) miniav_capture_thread_stop(&st->watcher);
    st->watching = false;
    miniav_pw_video_stop(st->video);
    st->video = NULL;
}

const miniav_backend miniav_portal_screen = {
    .name = "portal",
    .type = MINIAV_DEVICE_TYPE_SCREEN,
    .available = available,
    .enumerate = enumerate_displays,
    .enumerate_windows = enumerate_windows,
    .owns_id = owns_id,
    .video_formats = video_formats,
    .configure = configure,
    .start = start,
    .stop = stop,
    .destroy = destroy,
};
