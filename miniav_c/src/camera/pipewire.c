/* PipeWire cameras (Linux desktops): Video/Source nodes with the Camera role, which is how
 * libcamera, sandboxed (Flatpak) apps and shared access reach cameras on current desktops.
 * The same devices may also be listed by the v4l2 backend; ids tell them apart
 * ("pipewire:<node.name>" vs "v4l2:<bus>").
 *
 * The PipeWire work (library loading, node and format listing, the zero-copy stream) is in
 * common/pipewire_video.c, which the screen portal shares.
 */
#define _GNU_SOURCE
#include "../common/pipewire_video.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ID_PREFIX "pipewire:"
#define CAMERA_ROLE "Camera"

typedef struct {
    miniav_pw_conn *conn;
    miniav_pw_video *video;
    char node_name[128];
    MiniAVVideoFormatInfo chosen;
} pipewire_state;

/* Where libpipewire would connect: no socket file, no daemon (and no library load). */
static bool daemon_socket_exists(void) {
    const char *remote = getenv("PIPEWIRE_REMOTE");
    if (remote && *remote) return true; /* a name we cannot check cheaply */
    const char *dirs[] = {getenv("PIPEWIRE_RUNTIME_DIR"), getenv("XDG_RUNTIME_DIR"), getenv("USERPROFILE")};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (!dirs[i] || !*dirs[i]) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/pipewire-0", dirs[i]);
        return access(path, F_OK) == 0; /* the first directory set is the one libpipewire uses */
    }
    return false;
}

/* A daemon answers: checked at most once a second (enumerate runs often under a device watch). */
static bool available(void) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static int64_t checked_at;
    static bool answer;
    if (!daemon_socket_exists() || !miniav_pw_load()) return false;
    pthread_mutex_lock(&lock);
    int64_t now = MiniAV_GetTimeUs();
    if (!checked_at || now - checked_at > 1000000) {
        miniav_pw_conn *c;
        answer = miniav_pw_connect(-1, &c) == MINIAV_SUCCESS;
        if (answer) miniav_pw_disconnect(c);
        miniav_clear_error();
        checked_at = now;
    }
    bool a = answer;
    pthread_mutex_unlock(&lock);
    return a;
}

static bool owns_id(const char *id) { return !strncmp(id, ID_PREFIX, strlen(ID_PREFIX)); }

/* The camera node of an id, on a connection. */
static MiniAVResultCode find_camera(miniav_pw_conn *c, const char *device_id, miniav_pw_node *found) {
    miniav_pw_node *nodes;
    uint32_t n;
    MiniAVResultCode r = miniav_pw_list_video_sources(c, CAMERA_ROLE, &nodes, &n);
    if (r) return r;
    const char *name = device_id + strlen(ID_PREFIX);
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(nodes[i].name, name)) {
            *found = nodes[i];
            free(nodes);
            return MINIAV_SUCCESS;
        }
    free(nodes);
    return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "no PipeWire camera '%s' (%u camera node%s now); list the ids with enumerate", device_id, n,
                       n == 1 ? "" : "s");
}

static MiniAVResultCode enumerate(miniav_device_list *out, MiniAVLoopbackTargetType filter) {
    (void)filter;
    miniav_pw_conn *c;
    MiniAVResultCode r = miniav_pw_connect(-1, &c);
    if (r) return r;
    miniav_pw_node *nodes;
    uint32_t n;
    r = miniav_pw_list_video_sources(c, CAMERA_ROLE, &nodes, &n);
    miniav_pw_disconnect(c);
    if (r) return r;
    for (uint32_t i = 0; i < n && !r; i++) {
        MiniAVDeviceInfo *d = miniav_device_list_add(out);
        if (!d) {
            r = miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
            break;
        }
        snprintf(d->device_id, sizeof d->device_id, ID_PREFIX "%s", nodes[i].name);
        miniav_copy_string(d->name, sizeof d->name, nodes[i].description);
        d->is_default = i == 0;
    }
    free(nodes);
    return r;
}

static MiniAVResultCode formats_on(miniav_pw_conn *c, const char *device_id, MiniAVVideoFormatInfo **formats, uint32_t *count, miniav_pw_node *node) {
    MiniAVResultCode r = find_camera(c, device_id, node);
    return r ? r : miniav_pw_node_formats(c, node->id, formats, count);
}

static MiniAVResultCode video_formats(const char *device_id, MiniAVVideoFormatInfo **formats, uint32_t *count) {
    miniav_pw_conn *c;
    MiniAVResultCode r = miniav_pw_connect(-1, &c);
    if (r) return r;
    miniav_pw_node node;
    r = formats_on(c, device_id, formats, count, &node);
    miniav_pw_disconnect(c);
    return r;
}

static void destroy(miniav_stream *s) {
    pipewire_state *st = s->backend_data;
    if (!st) return;
    miniav_pw_video_stop(st->video);
    miniav_pw_disconnect(st->conn);
    free(st);
    s->backend_data = NULL;
}

static MiniAVResultCode configure(miniav_stream *s) {
    pipewire_state *st = calloc(1, sizeof *st);
    if (!st) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    s->backend_data = st;
    MiniAVResultCode r = miniav_pw_connect(-1, &st->conn);
    if (r) return r;
    MiniAVVideoFormatInfo *list;
    uint32_t n;
    miniav_pw_node node;
    r = formats_on(st->conn, s->device_id, &list, &n, &node);
    if (r) return r;
    r = miniav_pw_choose_format(&s->requested_video, list, n, s->device_id, &st->chosen);
    free(list);
    if (r) return r;
    miniav_copy_string(st->node_name, sizeof st->node_name, node.name);
    s->video = st->chosen;
    s->video.output_preference = MINIAV_OUTPUT_PREFERENCE_CPU; /* GPU only once PipeWire has agreed to DMA-BUF */
    return MINIAV_SUCCESS;
}

static MiniAVResultCode start(miniav_stream *s) {
    pipewire_state *st = s->backend_data;
    miniav_pw_node node;
    MiniAVResultCode r = find_camera(st->conn, s->device_id, &node); /* still there? */
    if (r) return r;
    return miniav_pw_video_start(s, st->conn, st->node_name, node.id, "Camera", &st->chosen, &st->video);
}

static void stop(miniav_stream *s) {
    pipewire_state *st = s->backend_data;
    miniav_pw_video_stop(st->video);
    st->video = NULL;
}

const miniav_backend miniav_pipewire_camera = {
    .name = "pipewire",
    .type = MINIAV_DEVICE_TYPE_CAMERA,
    .available = available,
    .enumerate = enumerate,
    .owns_id = owns_id,
    .video_formats = video_formats,
    .configure = configure,
    .start = start,
    .stop = stop,
    .destroy = destroy,
};
