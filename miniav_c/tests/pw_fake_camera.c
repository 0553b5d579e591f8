/* A PipeWire camera of known content for the tests: a Video/Source node with the Camera
 * role, driven by its own timer at 30 fps, offering YUY2 and BGRx at 320x240 and 640x480.
 *
 * Frame n: bytes 0-3 of the first row hold n (little-endian); every other byte of row y
 * is (y * 3 + n * 7) & 0xff. So a consumer can check each frame's number and content, and
 * that a frame it holds does not change. The header metadata's seq is n too; a frame with
 * no free buffer is skipped, so seq jumps like a real camera's.
 *
 * usage: pw_fake_camera NODE_NAME      (runs until killed; prints "ready" once connected)
 * Links libpipewire directly: it is a test tool, not part of the library. */
#define _GNU_SOURCE
#include <pipewire/pipewire.h>
#include <spa/buffer/meta.h>
#include <spa/param/video/format-utils.h>
#include <spa/pod/builder.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    struct pw_main_loop *loop;
    struct pw_stream *stream;
    struct spa_hook listener;
    struct spa_source *timer;
    struct spa_video_info_raw info;
    uint32_t frame;
} fake_camera;

static void produce(void *data, uint64_t expirations) {
    fake_camera *cam = data;
    (void)expirations;
    struct pw_buffer *pwb = pw_stream_dequeue_buffer(cam->stream);
    if (!pwb) { /* every buffer is with the consumer: this frame is lost (its number skipped) */
        cam->frame++;
        pw_stream_trigger_process(cam->stream);
        return;
    }
    struct spa_data *d = &pwb->buffer->datas[0];
    uint32_t bpp = cam->info.format == SPA_VIDEO_FORMAT_YUY2 ? 2 : 4;
    uint32_t stride = cam->info.size.width * bpp, h = cam->info.size.height;
    if (d->data && (size_t)stride * h <= d->maxsize) {
        uint8_t *p = d->data;
        for (uint32_t y = 0; y < h; y++) memset(p + (size_t)y * stride, (int)((y * 3 + cam->frame * 7) & 0xff), stride);
        memcpy(p, &cam->frame, 4);
        d->chunk->offset = 0;
        d->chunk->stride = (int32_t)stride;
        d->chunk->size = stride * h;
        struct spa_meta_header *hdr = spa_buffer_find_meta_data(pwb->buffer, SPA_META_Header, sizeof *hdr);
        if (hdr) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            hdr->pts = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
            hdr->seq = cam->frame;
            hdr->flags = 0;
        }
        cam->frame++;
    }
    pw_stream_queue_buffer(cam->stream, pwb);
    pw_stream_trigger_process(cam->stream);
}

static void on_state(void *data, enum pw_stream_state old, enum pw_stream_state state, const char *error) {
    fake_camera *cam = data;
    (void)old, (void)error;
    struct pw_loop *l = pw_main_loop_get_loop(cam->loop);
    if (state == PW_STREAM_STATE_STREAMING) {
        struct timespec first = {0, 1}, every = {0, 1000000000 / 30};
        pw_loop_update_timer(l, cam->timer, &first, &every, false);
    } else {
        pw_loop_update_timer(l, cam->timer, NULL, NULL, false);
    }
}

static void on_param_changed(void *data, uint32_t id, const struct spa_pod *param) {
    fake_camera *cam = data;
    if (id != SPA_PARAM_Format || !param || spa_format_video_raw_parse(param, &cam->info) < 0) return;
    uint8_t buf[512];
    struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buf, sizeof buf);
    uint32_t size = cam->info.size.width * cam->info.size.height * (cam->info.format == SPA_VIDEO_FORMAT_YUY2 ? 2 : 4);
    const struct spa_pod *params[2];
    params[0] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers, SPA_PARAM_BUFFERS_buffers,
                                           SPA_POD_CHOICE_RANGE_Int(6, 2, 16), SPA_PARAM_BUFFERS_blocks, SPA_POD_Int(1),
                                           SPA_PARAM_BUFFERS_size, SPA_POD_Int((int)size), SPA_PARAM_BUFFERS_dataType,
                                           SPA_POD_CHOICE_FLAGS_Int(1 << SPA_DATA_MemFd));
    params[1] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta, SPA_PARAM_META_type, SPA_POD_Id(SPA_META_Header),
                                           SPA_PARAM_META_size, SPA_POD_Int(sizeof(struct spa_meta_header)));
    pw_stream_update_params(cam->stream, params, 2);
}

static const struct pw_stream_events events = {
    PW_VERSION_STREAM_EVENTS, .state_changed = on_state, .param_changed = on_param_changed, .process = NULL,
};

static void quit(void *data, int sig) {
    (void)sig;
    pw_main_loop_quit(((fake_camera *)data)->loop);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: pw_fake_camera NODE_NAME\n");
        return 2;
    }
    pw_init(&argc, &argv);
    fake_camera cam = {0};
    cam.loop = pw_main_loop_new(NULL);
    struct pw_loop *l = pw_main_loop_get_loop(cam.loop);
    pw_loop_add_signal(l, SIGTERM, quit, &cam);
    pw_loop_add_signal(l, SIGINT, quit, &cam);
    cam.timer = pw_loop_add_timer(l, produce, &cam);
    cam.stream = pw_stream_new_simple(l, argv[1],
                                      pw_properties_new(PW_KEY_MEDIA_CLASS, "Video/Source", PW_KEY_MEDIA_ROLE, "Camera", PW_KEY_MEDIA_TYPE,
                                                        "Video", PW_KEY_MEDIA_CATEGORY, "Capture", PW_KEY_NODE_NAME, argv[1],
                                                        PW_KEY_NODE_DESCRIPTION, "MiniAV test camera", NULL),
                                      &events, &cam);
    uint8_t buf[1024];
    struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buf, sizeof buf);
    const struct spa_pod *params[1];
    params[0] = spa_pod_builder_add_object(
        &b, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat, SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video), SPA_FORMAT_mediaSubtype,
        SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw), SPA_FORMAT_VIDEO_format,
        SPA_POD_CHOICE_ENUM_Id(3, SPA_VIDEO_FORMAT_YUY2, SPA_VIDEO_FORMAT_YUY2, SPA_VIDEO_FORMAT_BGRx), SPA_FORMAT_VIDEO_size,
        SPA_POD_CHOICE_ENUM_Rectangle(3, &SPA_RECTANGLE(320, 240), &SPA_RECTANGLE(320, 240), &SPA_RECTANGLE(640, 480)),
        SPA_FORMAT_VIDEO_framerate, SPA_POD_Fraction(&SPA_FRACTION(30, 1)));
    if (pw_stream_connect(cam.stream, PW_DIRECTION_OUTPUT, PW_ID_ANY, PW_STREAM_FLAG_DRIVER | PW_STREAM_FLAG_MAP_BUFFERS, params, 1) < 0) {
        fprintf(stderr, "pw_fake_camera: cannot connect to PipeWire\n");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    pw_main_loop_run(cam.loop);
    pw_stream_destroy(cam.stream);
    pw_main_loop_destroy(cam.loop);
    return 0;
}
