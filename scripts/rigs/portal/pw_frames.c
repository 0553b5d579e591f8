// Frame probe for the portal rig: reads video frames from one PipeWire node through the fd
// that ScreenCast.OpenPipeWireRemote returned, and reports the negotiated format, the frame
// rate and the colour of the centre pixel. screencast_probe.py runs it.
//
//   pw_frames FD NODE_ID FRAMES TIMEOUT_S
//   -> lines "format W H SPA_VIDEO_FORMAT", "frame N RRGGBB", "state STATE [ERROR]",
//      "node_removed ID" (the portal ended the cast), "done FRAMES FPS"
//   exit 0 when FRAMES frames came, 1 otherwise (timeout, stream error).
//
// Build: gcc -O2 -o pw_frames pw_frames.c $(pkg-config --cflags --libs libpipewire-0.3)
// (Debian libpipewire-0.3-dev)
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <pipewire/pipewire.h>
#include <spa/debug/types.h>
#include <spa/param/video/format-utils.h>
#include <spa/param/video/type-info.h>

struct probe {
  struct pw_main_loop *loop;
  struct pw_stream *stream;
  struct spa_video_info_raw info;
  uint32_t node;
  int want, got, ok;
  double first, last;
};

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void on_state(void *data, enum pw_stream_state old, enum pw_stream_state state, const char *error) {
  struct probe *p = data;
  (void)old;
  printf("state %s%s%s\n", pw_stream_state_as_string(state), error ? " " : "", error ? error : "");
  fflush(stdout);
  if (state == PW_STREAM_STATE_ERROR || (state == PW_STREAM_STATE_UNCONNECTED && p->got < p->want))
    pw_main_loop_quit(p->loop);
}

static void on_param(void *data, uint32_t id, const struct spa_pod *param) {
  struct probe *p = data;
  if (id != SPA_PARAM_Format || !param) return;
  if (spa_format_video_raw_parse(param, &p->info) < 0) return;
  printf("format %u %u %s\n", p->info.size.width, p->info.size.height,
         spa_debug_type_find_short_name(spa_type_video_format, p->info.format));
  fflush(stdout);
}

static void on_process(void *data) {
  struct probe *p = data;
  struct pw_buffer *b = pw_stream_dequeue_buffer(p->stream);
  if (!b) return;
  struct spa_data *d = &b->buffer->datas[0];
  if (d->data && d->chunk->size > 0 && p->info.size.width) {
    uint32_t stride = d->chunk->stride ? (uint32_t)d->chunk->stride : p->info.size.width * 4;
    const uint8_t *px = (const uint8_t *)d->data + d->chunk->offset + (p->info.size.height / 2) * stride +
                        (p->info.size.width / 2) * 4;
    uint8_t r = px[2], g = px[1], bl = px[0]; // BGRx / BGRA
    if (p->info.format == SPA_VIDEO_FORMAT_RGBx || p->info.format == SPA_VIDEO_FORMAT_RGBA) r = px[0], bl = px[2];
    if (p->got == 0) p->first = now();
    p->last = now();
    printf("frame %d %02x%02x%02x\n", ++p->got, r, g, bl);
    fflush(stdout);
  }
  pw_stream_queue_buffer(p->stream, b);
  if (p->got >= p->want) {
    p->ok = 1;
    pw_main_loop_quit(p->loop);
  }
}

static const struct pw_stream_events events = {
  PW_VERSION_STREAM_EVENTS, .state_changed = on_state, .param_changed = on_param, .process = on_process,
};

// The portal's end of a session shows on PipeWire only as the node going away (xdpw 0.7 sends
// no Session.Closed); the stream itself just drops to "paused".
static void on_global_remove(void *data, uint32_t id) {
  struct probe *p = data;
  if (id != p->node) return;
  printf("node_removed %u\n", id);
  fflush(stdout);
}

static const struct pw_registry_events registry_events = {
  PW_VERSION_REGISTRY_EVENTS, .global_remove = on_global_remove,
};

static void on_timeout(void *data, uint64_t expirations) {
  (void)expirations;
  struct probe *p = data;
  printf("timeout after %d frames\n", p->got);
  pw_main_loop_quit(p->loop);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s FD NODE_ID FRAMES TIMEOUT_S\n", argv[0]);
    return 2;
  }
  struct probe p = { .want = atoi(argv[3]), .node = (uint32_t)atoi(argv[2]) };
  pw_init(&argc, &argv);
  p.loop = pw_main_loop_new(NULL);
  struct pw_loop *loop = pw_main_loop_get_loop(p.loop);
  struct pw_context *ctx = pw_context_new(loop, NULL, 0);
  struct pw_core *core = pw_context_connect_fd(ctx, atoi(argv[1]), NULL, 0);
  if (!core) {
    perror("pw_context_connect_fd");
    return 1;
  }
  struct pw_registry *registry = pw_core_get_registry(core, PW_VERSION_REGISTRY, 0);
  struct spa_hook registry_hook;
  pw_registry_add_listener(registry, &registry_hook, &registry_events, &p);
  p.stream = pw_stream_new(core, "miniav-portal-probe",
                           pw_properties_new(PW_KEY_MEDIA_TYPE, "Video", PW_KEY_MEDIA_CATEGORY, "Capture",
                                             PW_KEY_MEDIA_ROLE, "Screen", NULL));
  struct spa_hook hook;
  pw_stream_add_listener(p.stream, &hook, &events, &p);
  uint8_t buf[1024];
  struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buf, sizeof buf);
  const struct spa_pod *params[1];
  params[0] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat,
    SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
    SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
    SPA_FORMAT_VIDEO_format, SPA_POD_CHOICE_ENUM_Id(5, SPA_VIDEO_FORMAT_BGRx, SPA_VIDEO_FORMAT_BGRx,
                                                    SPA_VIDEO_FORMAT_BGRA, SPA_VIDEO_FORMAT_RGBx, SPA_VIDEO_FORMAT_RGBA),
    SPA_FORMAT_VIDEO_size, SPA_POD_CHOICE_RANGE_Rectangle(&SPA_RECTANGLE(1920, 1080), &SPA_RECTANGLE(1, 1),
                                                          &SPA_RECTANGLE(8192, 8192)),
    SPA_FORMAT_VIDEO_framerate, SPA_POD_CHOICE_RANGE_Fraction(&SPA_FRACTION(30, 1), &SPA_FRACTION(0, 1),
                                                              &SPA_FRACTION(1000, 1)));
  if (pw_stream_connect(p.stream, PW_DIRECTION_INPUT, (uint32_t)atoi(argv[2]),
                        PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_MAP_BUFFERS, params, 1) < 0) {
    fprintf(stderr, "pw_stream_connect failed\n");
    return 1;
  }
  struct spa_source *timer = pw_loop_add_timer(loop, on_timeout, &p);
  struct timespec t = { .tv_sec = atoi(argv[4]) };
  pw_loop_update_timer(loop, timer, &t, NULL, false);
  pw_main_loop_run(p.loop);
  if (p.got > 1) printf("done %d %.1f\n", p.got, (p.got - 1) / (p.last - p.first));
  pw_stream_destroy(p.stream);
  pw_proxy_destroy((struct pw_proxy *)registry);
  pw_core_disconnect(core);
  pw_context_destroy(ctx);
  pw_main_loop_destroy(p.loop);
  return p.ok ? 0 : 1;
}
