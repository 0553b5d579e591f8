/* PipeWire video for the camera backend (camera/pipewire.c) and, later, the screen portal:
 * libpipewire loaded at run time, a connection with its own loop thread, the list of video
 * nodes with their formats, and a capture stream whose buffers reach the application
 * without a copy and go back to PipeWire only when released. */
#ifndef MINIAV_PIPEWIRE_VIDEO_H
#define MINIAV_PIPEWIRE_VIDEO_H

#include "miniav_internal.h"

/* True when libpipewire-0.3 could be loaded (once; thread-safe). */
bool miniav_pw_load(void);

typedef struct miniav_pw_conn miniav_pw_conn;

/* Connects to the user's PipeWire daemon (fd < 0) or over a descriptor the portal
 * gave (fd >= 0, owned by the connection afterwards). Starts the loop thread. */
MiniAVResultCode miniav_pw_connect(int fd, miniav_pw_conn **out);
void miniav_pw_disconnect(miniav_pw_conn *c);

typedef struct {
    uint32_t id;
    char name[128];         /* node.name: stable across restarts */
    char description[128];  /* node.description (or nick) */
    char media_class[64];
    char role[32];          /* media.role */
} miniav_pw_node;

/* Video/Source nodes; role_filter "Camera" (or NULL for any). Free with free(). */
MiniAVResultCode miniav_pw_list_video_sources(miniav_pw_conn *c, const char *role_filter, miniav_pw_node **nodes, uint32_t *count);
/* Every format × size × rate a node offers (ranges: their ends plus common values). */
MiniAVResultCode miniav_pw_node_formats(miniav_pw_conn *c, uint32_t node_id, MiniAVVideoFormatInfo **formats, uint32_t *count);

/* The listed format closest to a request: the pixel format must match (when asked for),
 * then the nearest size, then the nearest rate. Zero fields take the first (the node's
 * preferred) format's values. `what` names the source in errors. */
MiniAVResultCode miniav_pw_choose_format(const MiniAVVideoFormatInfo *req, const MiniAVVideoFormatInfo *list, uint32_t n, const char *what,
                                         MiniAVVideoFormatInfo *out);

/* The DMA-BUF modifiers a node offers for a pixel format (none: shared memory only). */
uint32_t miniav_pw_node_modifiers(miniav_pw_conn *c, uint32_t node_id, MiniAVPixelFormat format, uint64_t *modifiers, uint32_t max);

typedef struct miniav_pw_video miniav_pw_video;
/* Starts a stream from node `target` (node.name), or when target is NULL from node id
 * `target_id` (a portal's remote); target_id is the node either way (its removal ends the
 * stream with DEVICE_LOST). With exactly `format` (from the node's list),
 * delivering into s. `role`: media.role ("Camera", "Screen"). GPU output offers the format
 * first as DMA-BUF with the modifiers the node lists for it (the source picks one), then
 * as shared memory, which is taken where the node offers no DMA-BUF; the configured format's
 * output preference says which one came. */
MiniAVResultCode miniav_pw_video_start(miniav_stream *s, miniav_pw_conn *c, const char *target, uint32_t target_id, const char *role,
                                       const MiniAVVideoFormatInfo *format, miniav_pw_video **out);
/* Ends the stream from outside (the portal session closed): one ERROR/DEVICE_LOST event,
 * unless the stream has reported its end already. */
void miniav_pw_video_end(miniav_pw_video *v, const char *why);
/* No callbacks after it returns; held buffers stay valid until released. */
void miniav_pw_video_stop(miniav_pw_video *v);

#endif
