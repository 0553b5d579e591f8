/* V4L2 cameras (Linux): USB UVC webcams, capture cards, Raspberry Pi cameras, virtual
 * cameras (v4l2loopback, vivid).
 *
 * Zero copy: the driver's mmap buffers are the pool's buffers. A buffer goes to the
 * application as the driver filled it and is queued back to the driver (QBUF) only when
 * the application releases it. One buffer always stays with the driver: when a frame
 * arrives in the last one, that frame is dropped (counted) and the buffer queued again,
 * so a slow application never stalls the device. Frames the driver itself lost show as
 * gaps in its sequence numbers and are counted as dropped too.
 *
 * Buffer lifetime: the buffers (mappings, exported DMA-BUF descriptors) live in a
 * buffer_set owned by the pool, so buffers the application still holds stay readable
 * after Stop, Destroy or an unplugged device; the device descriptor is closed at
 * Destroy, the mappings when the last held buffer is released.
 *
 * No library is needed: V4L2 is ioctls on /dev/video*.
 */
#define _GNU_SOURCE
#include "../common/miniav_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define ID_PREFIX "v4l2:"
#define DEFAULT_BUFFERS 4u
#define MAX_NODES 64
#define POLL_TIMEOUT_MS 200 /* also how soon a silently vanished device is noticed */

static int xioctl(int fd, unsigned long request, void *arg) {
    int r;
    do r = ioctl(fd, request, arg);
    while (r < 0 && errno == EINTR);
    return r;
}

/* ------------------------------------------------------------------ formats */

typedef struct {
    uint32_t v4l2;
    MiniAVPixelFormat format;
    uint32_t drm; /* the same bytes as a DRM_FORMAT_* code, for DMA-BUF import */
} format_map;

/* V4L2 names byte order from the first byte, DRM little-endian words from the top:
 * V4L2 BGR24 (bytes B,G,R) is DRM RGB888, V4L2 ABGR32 (B,G,R,A) is DRM ARGB8888. */
static const format_map format_table[] = {
    {V4L2_PIX_FMT_YUYV, MINIAV_PIXEL_FORMAT_YUY2, 0x56595559 /* YUYV */},
    {V4L2_PIX_FMT_UYVY, MINIAV_PIXEL_FORMAT_UYVY, 0x59565955 /* UYVY */},
    {V4L2_PIX_FMT_NV12, MINIAV_PIXEL_FORMAT_NV12, 0x3231564e /* NV12 */},
    {V4L2_PIX_FMT_NV12M, MINIAV_PIXEL_FORMAT_NV12, 0x3231564e},
    {V4L2_PIX_FMT_NV21, MINIAV_PIXEL_FORMAT_NV21, 0x3132564e /* NV21 */},
    {V4L2_PIX_FMT_NV21M, MINIAV_PIXEL_FORMAT_NV21, 0x3132564e},
    {V4L2_PIX_FMT_YUV420, MINIAV_PIXEL_FORMAT_I420, 0x32315559 /* YU12 */},
    {V4L2_PIX_FMT_YUV420M, MINIAV_PIXEL_FORMAT_I420, 0x32315559},
    {V4L2_PIX_FMT_RGB24, MINIAV_PIXEL_FORMAT_RGB24, 0x34324742 /* BG24 */},
    {V4L2_PIX_FMT_BGR24, MINIAV_PIXEL_FORMAT_BGR24, 0x34324752 /* RG24 */},
    {V4L2_PIX_FMT_ABGR32, MINIAV_PIXEL_FORMAT_BGRA32, 0x34325241 /* AR24 */},
    {V4L2_PIX_FMT_XBGR32, MINIAV_PIXEL_FORMAT_BGRX32, 0x34325258 /* XR24 */},
    {V4L2_PIX_FMT_RGBA32, MINIAV_PIXEL_FORMAT_RGBA32, 0x34324241 /* AB24 */},
    {V4L2_PIX_FMT_RGBX32, MINIAV_PIXEL_FORMAT_RGBX32, 0x34324258 /* XB24 */},
    {V4L2_PIX_FMT_ARGB32, MINIAV_PIXEL_FORMAT_ARGB32, 0x34324142 /* BA24 */},
    {V4L2_PIX_FMT_BGRA32, MINIAV_PIXEL_FORMAT_ABGR32, 0x34324152 /* RA24 */},
    {V4L2_PIX_FMT_GREY, MINIAV_PIXEL_FORMAT_GRAY8, 0x20203852 /* R8 */},
    {V4L2_PIX_FMT_MJPEG, MINIAV_PIXEL_FORMAT_MJPEG, 0},
    {V4L2_PIX_FMT_JPEG, MINIAV_PIXEL_FORMAT_MJPEG, 0},
};

static const format_map *map_v4l2(uint32_t fourcc) {
    for (size_t i = 0; i < sizeof format_table / sizeof format_table[0]; i++)
        if (format_table[i].v4l2 == fourcc) return &format_table[i];
    return NULL;
}

static MiniAVPixelFormat pixel_format_of(uint32_t fourcc) {
    const format_map *m = map_v4l2(fourcc);
    return m ? m->format : MINIAV_PIXEL_FORMAT_UNKNOWN;
}

static void fourcc_text(uint32_t f, char out[5]) {
    for (int i = 0; i < 4; i++) {
        char c = (char)((f >> (8 * i)) & 0xff);
        out[i] = isprint((unsigned char)c) ? c : '?';
    }
    out[4] = '\0';
}

/* ------------------------------------------------------------------ nodes and ids */

typedef struct {
    char path[32];
    char id[256];
    char card[64];
    char bus[64];
    bool mplane;
} node_info;

static bool is_capture(const struct v4l2_capability *cap, bool *mplane) {
    uint32_t caps = (cap->capabilities & V4L2_CAP_DEVICE_CAPS) ? cap->device_caps : cap->capabilities;
    if (!(caps & V4L2_CAP_STREAMING)) return false;
    *mplane = !(caps & V4L2_CAP_VIDEO_CAPTURE) && (caps & V4L2_CAP_VIDEO_CAPTURE_MPLANE);
    return (caps & (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_CAPTURE_MPLANE)) != 0;
}

static int node_number(const char *name) {
    if (strncmp(name, "video", 5) || !name[5]) return -1;
    for (const char *p = name + 5; *p; p++)
        if (!isdigit((unsigned char)*p)) return -1;
    return atoi(name + 5);
}

static int by_number(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* Every capture node, in /dev/videoN order. Ids are the bus address ("v4l2:usb-0000:00:14.0-1"),
 * which stays the same across reboots and replugs into the same port, unlike N; a device
 * with several capture nodes numbers them after the first ("...:1"). Metadata and
 * output nodes are left out. Nodes we may not open are logged and left out. */
static uint32_t list_nodes(node_info *out, uint32_t max) {
    DIR *dir = opendir("/dev");
    if (!dir) return 0;
    int numbers[MAX_NODES];
    uint32_t n_numbers = 0;
    struct dirent *e;
    while ((e = readdir(dir)) && n_numbers < MAX_NODES) {
        int n = node_number(e->d_name);
        if (n >= 0) numbers[n_numbers++] = n;
    }
    closedir(dir);
    qsort(numbers, n_numbers, sizeof numbers[0], by_number);

    uint32_t count = 0;
    for (uint32_t i = 0; i < n_numbers && count < max; i++) {
        node_info *node = &out[count];
        snprintf(node->path, sizeof node->path, "/dev/video%d", numbers[i]);
        int fd = open(node->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            /* Said once per node: device watches enumerate every second. */
            static atomic_uint_fast64_t warned;
            uint64_t bit = 1ull << (numbers[i] & 63);
            if (errno == EACCES && !(atomic_fetch_or(&warned, bit) & bit))
                miniav_log(MINIAV_LOG_LEVEL_WARN, "v4l2: %s is not accessible to this user (add the user to the 'video' group)",
                           node->path);
            continue;
        }
        struct v4l2_capability cap;
        memset(&cap, 0, sizeof cap);
        bool ok = xioctl(fd, VIDIOC_QUERYCAP, &cap) == 0 && is_capture(&cap, &node->mplane);
        close(fd);
        if (!ok) continue;
        miniav_copy_string(node->card, sizeof node->card, (const char *)cap.card);
        miniav_copy_string(node->bus, sizeof node->bus, cap.bus_info[0] ? (const char *)cap.bus_info : node->path);
        unsigned same = 0;
        for (uint32_t j = 0; j < count; j++) same += !strcmp(out[j].bus, node->bus);
        if (same)
            snprintf(node->id, sizeof node->id, ID_PREFIX "%s:%u", node->bus, same);
        else
            snprintf(node->id, sizeof node->id, ID_PREFIX "%s", node->bus);
        count++;
    }
    return count;
}

/* The node of an id; "/dev/videoN" is accepted as an id too. */
static MiniAVResultCode find_node(const char *device_id, node_info *found) {
    node_info nodes[MAX_NODES];
    uint32_t n = list_nodes(nodes, MAX_NODES);
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(nodes[i].id, device_id) || !strcmp(nodes[i].path, device_id)) {
            *found = nodes[i];
            return MINIAV_SUCCESS;
        }
    return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND,
                       "no V4L2 camera '%s' (unplugged? %u capture node%s present); list the ids with enumerate", device_id, n,
                       n == 1 ? "" : "s");
}

static MiniAVResultCode open_node(const node_info *node, int *fd_out) {
    int fd = open(node->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == EACCES || e == EPERM)
            return miniav_fail(MINIAV_ERROR_PERMISSION_DENIED, "cannot open %s: permission denied; add the user to the 'video' group",
                               node->path);
        if (e == EBUSY) return miniav_fail(MINIAV_ERROR_DEVICE_BUSY, "%s is busy: another program holds it", node->path);
        if (e == ENOENT || e == ENODEV || e == ENXIO)
            return miniav_fail(MINIAV_ERROR_DEVICE_NOT_FOUND, "%s is gone (unplugged?)", node->path);
        return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "cannot open %s: %s", node->path, strerror(e));
    }
    *fd_out = fd;
    return MINIAV_SUCCESS;
}

static bool available(void) { return true; }

static bool owns_id(const char *id) { return !strncmp(id, ID_PREFIX, strlen(ID_PREFIX)) || !strncmp(id, "/dev/video", 10); }

static MiniAVResultCode enumerate(miniav_device_list *out, MiniAVLoopbackTargetType filter) {
    (void)filter;
    node_info nodes[MAX_NODES];
    uint32_t n = list_nodes(nodes, MAX_NODES);
    for (uint32_t i = 0; i < n; i++) {
        MiniAVDeviceInfo *d = miniav_device_list_add(out);
        if (!d) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
        miniav_copy_string(d->device_id, sizeof d->device_id, nodes[i].id);
        miniav_copy_string(d->name, sizeof d->name, nodes[i].card);
        d->is_default = i == 0;
    }
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ format lists */

typedef struct {
    MiniAVVideoFormatInfo *items;
    uint32_t count, capacity;
} format_list;

static bool add_format(format_list *l, uint32_t fourcc, uint32_t w, uint32_t h, uint32_t fps_num, uint32_t fps_den) {
    for (uint32_t i = 0; i < l->count; i++) {
        const MiniAVVideoFormatInfo *f = &l->items[i];
        if (f->fourcc == fourcc && f->width == w && f->height == h && f->frame_rate_numerator == fps_num &&
            f->frame_rate_denominator == fps_den)
            return true;
    }
    if (l->count == l->capacity) {
        uint32_t cap = l->capacity ? l->capacity * 2 : 32;
        MiniAVVideoFormatInfo *grown = realloc(l->items, cap * sizeof *grown);
        if (!grown) return false;
        l->items = grown;
        l->capacity = cap;
    }
    MiniAVVideoFormatInfo *f = &l->items[l->count++];
    memset(f, 0, sizeof *f);
    f->fourcc = fourcc;
    f->pixel_format = pixel_format_of(fourcc);
    f->width = w;
    f->height = h;
    f->frame_rate_numerator = fps_num;
    f->frame_rate_denominator = fps_den;
    return true;
}

static const uint32_t common_sizes[][2] = {{160, 120},  {320, 240},   {640, 360},   {640, 480},   {800, 600},
                                           {1024, 768}, {1280, 720},  {1280, 960},  {1920, 1080}, {2560, 1440},
                                           {3840, 2160}};
static const uint32_t common_fps[] = {5, 10, 15, 24, 25, 30, 50, 60, 120};

/* Adds every rate the driver lists for one size. Continuous/stepwise ranges become the
 * fastest and slowest rate plus the common rates between. */
static bool add_rates(int fd, format_list *l, uint32_t fourcc, uint32_t w, uint32_t h) {
    struct v4l2_frmivalenum iv;
    memset(&iv, 0, sizeof iv);
    iv.pixel_format = fourcc;
    iv.width = w;
    iv.height = h;
    if (xioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &iv) < 0) return add_format(l, fourcc, w, h, 0, 0); /* rate not listed */
    if (iv.type == V4L2_FRMIVAL_TYPE_DISCRETE) {
        for (iv.index = 0; xioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &iv) == 0; iv.index++)
            if (iv.discrete.numerator && !add_format(l, fourcc, w, h, iv.discrete.denominator, iv.discrete.numerator)) return false;
        return true;
    }
    const struct v4l2_fract *fast = &iv.stepwise.min, *slow = &iv.stepwise.max;
    if (!fast->numerator || !slow->numerator) return add_format(l, fourcc, w, h, 0, 0);
    if (!add_format(l, fourcc, w, h, fast->denominator, fast->numerator)) return false;
    double max_fps = (double)fast->denominator / fast->numerator, min_fps = (double)slow->denominator / slow->numerator;
    for (size_t i = 0; i < sizeof common_fps / sizeof common_fps[0]; i++)
        if (common_fps[i] < max_fps && common_fps[i] > min_fps && !add_format(l, fourcc, w, h, common_fps[i], 1)) return false;
    return add_format(l, fourcc, w, h, slow->denominator, slow->numerator);
}

static bool on_grid(uint32_t v, uint32_t min, uint32_t max, uint32_t step) {
    return v >= min && v <= max && (step <= 1 || (v - min) % step == 0);
}

static MiniAVResultCode formats_of_fd(int fd, bool mplane, format_list *l) {
    struct v4l2_fmtdesc desc;
    memset(&desc, 0, sizeof desc);
    desc.type = mplane ? V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE : V4L2_BUF_TYPE_VIDEO_CAPTURE;
    for (desc.index = 0; xioctl(fd, VIDIOC_ENUM_FMT, &desc) == 0; desc.index++) {
        struct v4l2_frmsizeenum fs;
        memset(&fs, 0, sizeof fs);
        fs.pixel_format = desc.pixelformat;
        if (xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &fs) < 0) {
            /* No size list: what the driver gives for the common sizes. */
            for (size_t i = 0; i < sizeof common_sizes / sizeof common_sizes[0]; i++) {
                struct v4l2_format f;
                memset(&f, 0, sizeof f);
                f.type = desc.type;
                f.fmt.pix.width = common_sizes[i][0];
                f.fmt.pix.height = common_sizes[i][1];
                f.fmt.pix.pixelformat = desc.pixelformat;
                if (xioctl(fd, VIDIOC_TRY_FMT, &f) == 0 && f.fmt.pix.pixelformat == desc.pixelformat &&
                    !add_rates(fd, l, desc.pixelformat, f.fmt.pix.width, f.fmt.pix.height))
                    return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
            }
            continue;
        }
        if (fs.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
            for (fs.index = 0; xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &fs) == 0; fs.index++)
                if (!add_rates(fd, l, desc.pixelformat, fs.discrete.width, fs.discrete.height))
                    return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
            continue;
        }
        /* A range: its smallest and largest size and the common sizes on its grid. */
        const struct v4l2_frmsize_stepwise *sw = &fs.stepwise;
        if (!add_rates(fd, l, desc.pixelformat, sw->min_width, sw->min_height))
            return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
        for (size_t i = 0; i < sizeof common_sizes / sizeof common_sizes[0]; i++)
            if (on_grid(common_sizes[i][0], sw->min_width, sw->max_width, sw->step_width) &&
                on_grid(common_sizes[i][1], sw->min_height, sw->max_height, sw->step_height) &&
                !add_rates(fd, l, desc.pixelformat, common_sizes[i][0], common_sizes[i][1]))
                return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
        if (!add_rates(fd, l, desc.pixelformat, sw->max_width, sw->max_height))
            return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    return MINIAV_SUCCESS;
}

static MiniAVResultCode video_formats(const char *device_id, MiniAVVideoFormatInfo **formats, uint32_t *count) {
    node_info node;
    int fd;
    MiniAVResultCode r = find_node(device_id, &node);
    if (!r) r = open_node(&node, &fd);
    if (r) return r;
    format_list l = {0};
    r = formats_of_fd(fd, node.mplane, &l);
    close(fd);
    if (r) {
        free(l.items);
        return r;
    }
    *formats = l.items;
    *count = l.count;
    return MINIAV_SUCCESS;
}

/* ------------------------------------------------------------------ buffers */

typedef struct {
    void *addr[VIDEO_MAX_PLANES];
    size_t length[VIDEO_MAX_PLANES];
    int dmabuf_fd[VIDEO_MAX_PLANES];
    bool with_app; /* delivered and not yet released */
} driver_buffer;

/* Owned by the pool (freed by its on_free hook), so that releases after Stop/Destroy and
 * unplugs find the mappings and never touch a closed descriptor. */
typedef struct {
    pthread_mutex_t lock; /* fd, streaming, queued, with_app; taken inside the core's buffer lock */
    int fd;               /* the stream's device descriptor (not owned); -1 after Destroy */
    bool streaming;
    uint32_t queued; /* buffers the driver has now */
    uint32_t buf_type;
    uint32_t count, mem_planes;
    driver_buffer bufs[];
} buffer_set;

static int queue_buffer(buffer_set *bs, uint32_t index) { /* bs->lock held */
    struct v4l2_buffer b;
    struct v4l2_plane planes[VIDEO_MAX_PLANES];
    memset(&b, 0, sizeof b);
    memset(planes, 0, sizeof planes);
    b.type = bs->buf_type;
    b.memory = V4L2_MEMORY_MMAP;
    b.index = index;
    if (bs->buf_type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE) {
        b.m.planes = planes;
        b.length = bs->mem_planes;
    }
    if (xioctl(bs->fd, VIDIOC_QBUF, &b) < 0) return -1;
    bs->queued++;
    return 0;
}

static void buffer_set_free(void *ctx) {
    buffer_set *bs = ctx;
    for (uint32_t i = 0; i < bs->count; i++)
        for (uint32_t p = 0; p < bs->mem_planes; p++) {
            if (bs->bufs[i].addr[p]) munmap(bs->bufs[i].addr[p], bs->bufs[i].length[p]);
            if (bs->bufs[i].dmabuf_fd[p] >= 0) close(bs->bufs[i].dmabuf_fd[p]);
        }
    pthread_mutex_destroy(&bs->lock);
    free(bs);
}

/* The application released a buffer: back to the driver, if it is still streaming. */
static void buffer_released(void *ctx, miniav_slot *slot) {
    buffer_set *bs = ctx;
    uint32_t index = (uint32_t)(uintptr_t)slot->backend_cookie;
    pthread_mutex_lock(&bs->lock);
    bs->bufs[index].with_app = false;
    if (bs->streaming && bs->fd >= 0 && queue_buffer(bs, index) < 0)
        miniav_log(MINIAV_LOG_LEVEL_DEBUG, "v4l2: cannot queue buffer %u again: %s", index, strerror(errno));
    pthread_mutex_unlock(&bs->lock);
}

/* ------------------------------------------------------------------ stream state */

typedef struct {
    node_info node;
    int fd;                 /* the device; shared with bs, closed at Destroy */
    buffer_set *bs;         /* owned by the pool once the pool exists */
    struct v4l2_format fmt; /* as the driver set it */
    bool compressed;
    bool dmabuf;            /* buffers exported as DMA-BUF */
    uint32_t drm_fourcc;
    int wake_fd;            /* eventfd: wakes the capture thread's poll on Stop */
    miniav_capture_thread worker;
    bool have_sequence;
    uint32_t last_sequence;
} v4l2_state;

static const char *camera_label(const v4l2_state *st) { return st->node.card[0] ? st->node.card : st->node.path; }

static uint32_t pixfmt_of(const v4l2_state *st) {
    return st->node.mplane ? st->fmt.fmt.pix_mp.pixelformat : st->fmt.fmt.pix.pixelformat;
}

/* Fourcc to use for a request: the explicit fourcc, else the first format the device lists
 * for the pixel format, else the device's current one. */
static MiniAVResultCode choose_fourcc(v4l2_state *st, const MiniAVVideoFormatInfo *req, uint32_t current, uint32_t *out) {
    if (req->fourcc) {
        *out = req->fourcc;
        return MINIAV_SUCCESS;
    }
    if (req->pixel_format == MINIAV_PIXEL_FORMAT_UNKNOWN) {
        *out = current;
        return MINIAV_SUCCESS;
    }
    struct v4l2_fmtdesc desc;
    memset(&desc, 0, sizeof desc);
    desc.type = st->node.mplane ? V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE : V4L2_BUF_TYPE_VIDEO_CAPTURE;
    char offered[256] = "";
    for (desc.index = 0; xioctl(st->fd, VIDIOC_ENUM_FMT, &desc) == 0; desc.index++) {
        if (pixel_format_of(desc.pixelformat) == req->pixel_format) {
            *out = desc.pixelformat;
            return MINIAV_SUCCESS;
        }
        size_t len = strlen(offered);
        const char *name = MiniAV_PixelFormatName(pixel_format_of(desc.pixelformat));
        char code[5];
        fourcc_text(desc.pixelformat, code);
        if (len < sizeof offered - 16)
            snprintf(offered + len, sizeof offered - len, "%s%s", len ? ", " : "",
                     pixel_format_of(desc.pixelformat) ? name : code);
    }
    return miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "camera '%s' does not give '%s'; it gives: %s", camera_label(st),
                       MiniAV_PixelFormatName(req->pixel_format), offered[0] ? offered : "nothing");
}

static MiniAVResultCode errno_result(int e, const v4l2_state *st, const char *what) {
    if (e == EBUSY) return miniav_fail(MINIAV_ERROR_DEVICE_BUSY, "%s: camera '%s' is busy (another program is streaming from it)", what, camera_label(st));
    if (e == ENODEV || e == ENXIO) return miniav_fail(MINIAV_ERROR_DEVICE_LOST, "%s: camera '%s' was unplugged", what, camera_label(st));
    return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "%s on camera '%s' failed: %s", what, camera_label(st), strerror(e));
}

static MiniAVResultCode set_format(miniav_stream *s, v4l2_state *st) {
    MiniAVVideoFormatInfo *req = &s->requested_video;
    st->fmt.type = st->node.mplane ? V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE : V4L2_BUF_TYPE_VIDEO_CAPTURE;
    /* Start from the current format, like v4l2-ctl: fields we do not ask for (field
     * order, colorimetry) keep the driver's values. */
    if (xioctl(st->fd, VIDIOC_G_FMT, &st->fmt) < 0) return errno_result(errno, st, "reading the format");
    uint32_t want = 0;
    MiniAVResultCode r = choose_fourcc(st, req, pixfmt_of(st), &want);
    if (r) return r;
    /* The row stride: where the node is set up for exactly this format already, its
     * bytesperline stays (someone configured padding on purpose, e.g. for a GPU's row
     * alignment); otherwise 0 lets the driver pick its natural stride for the new size
     * instead of keeping a stale one. */
    if (st->node.mplane) {
        struct v4l2_pix_format_mplane *mp = &st->fmt.fmt.pix_mp;
        bool same = mp->pixelformat == want && (!req->width || req->width == mp->width) && (!req->height || req->height == mp->height);
        mp->pixelformat = want;
        if (req->width) mp->width = req->width;
        if (req->height) mp->height = req->height;
        mp->field = V4L2_FIELD_ANY;
        for (unsigned p = 0; p < VIDEO_MAX_PLANES && !same; p++) mp->plane_fmt[p].bytesperline = 0;
    } else {
        struct v4l2_pix_format *p = &st->fmt.fmt.pix;
        bool same = p->pixelformat == want && (!req->width || req->width == p->width) && (!req->height || req->height == p->height);
        p->pixelformat = want;
        if (req->width) p->width = req->width;
        if (req->height) p->height = req->height;
        p->field = V4L2_FIELD_ANY;
        if (!same) p->bytesperline = 0;
    }
    if (xioctl(st->fd, VIDIOC_S_FMT, &st->fmt) < 0) {
        if (errno == EINVAL)
            return miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "camera '%s' refused the format; list what it gives with GetSupportedFormats",
                               camera_label(st));
        return errno_result(errno, st, "setting the format");
    }
    if (pixfmt_of(st) != want) {
        char a[5], b[5];
        fourcc_text(want, a);
        fourcc_text(pixfmt_of(st), b);
        return miniav_fail(MINIAV_ERROR_FORMAT_NOT_SUPPORTED, "camera '%s' does not give format '%s' (it chose '%s' instead)", camera_label(st), a,
                           b);
    }
    struct v4l2_fmtdesc desc;
    memset(&desc, 0, sizeof desc);
    desc.type = st->fmt.type;
    for (desc.index = 0; xioctl(st->fd, VIDIOC_ENUM_FMT, &desc) == 0; desc.index++)
        if (desc.pixelformat == want) st->compressed = (desc.flags & V4L2_FMT_FLAG_COMPRESSED) != 0;
    if (pixel_format_of(want) == MINIAV_PIXEL_FORMAT_MJPEG) st->compressed = true;

    /* Frame rate: asked for, or left as the driver has it; unlimited = the fastest it allows. */
    struct v4l2_streamparm parm;
    memset(&parm, 0, sizeof parm);
    parm.type = st->fmt.type;
    bool can_rate = xioctl(st->fd, VIDIOC_G_PARM, &parm) == 0 && (parm.parm.capture.capability & V4L2_CAP_TIMEPERFRAME);
    if (can_rate && req->frame_rate_numerator) {
        parm.parm.capture.timeperframe.numerator = req->frame_rate_denominator ? req->frame_rate_denominator : 1;
        parm.parm.capture.timeperframe.denominator = req->frame_rate_denominator ? req->frame_rate_numerator : 1000;
        if (xioctl(st->fd, VIDIOC_S_PARM, &parm) < 0) return errno_result(errno, st, "setting the frame rate");
    }
    MiniAVVideoFormatInfo *v = &s->video;
    memset(v, 0, sizeof *v);
    v->fourcc = want;
    v->pixel_format = pixel_format_of(want);
    v->width = st->node.mplane ? st->fmt.fmt.pix_mp.width : st->fmt.fmt.pix.width;
    v->height = st->node.mplane ? st->fmt.fmt.pix_mp.height : st->fmt.fmt.pix.height;
    if (can_rate && parm.parm.capture.timeperframe.numerator) {
        v->frame_rate_numerator = parm.parm.capture.timeperframe.denominator;
        v->frame_rate_denominator = parm.parm.capture.timeperframe.numerator;
    }
    return MINIAV_SUCCESS;
}

/* Requests and maps the driver's buffers; exports them as DMA-BUF when GPU output is asked for. */
static MiniAVResultCode make_buffers(miniav_stream *s, v4l2_state *st) {
    struct v4l2_requestbuffers req;
    memset(&req, 0, sizeof req);
    req.type = st->fmt.type;
    req.memory = V4L2_MEMORY_MMAP;
    req.count = miniav_stream_pool_size(s, DEFAULT_BUFFERS);
    if (req.count < 2) req.count = 2; /* one stays with the driver */
    if (xioctl(st->fd, VIDIOC_REQBUFS, &req) < 0) return errno_result(errno, st, "allocating buffers");
    if (req.count < 2)
        return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "camera '%s' gave %u buffer(s); at least 2 are needed", camera_label(st), req.count);
    if (req.count > 256) req.count = 256;

    uint32_t mem_planes = st->node.mplane ? st->fmt.fmt.pix_mp.num_planes : 1;
    buffer_set *bs = calloc(1, sizeof *bs + req.count * sizeof bs->bufs[0]);
    if (!bs) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    pthread_mutex_init(&bs->lock, NULL);
    bs->fd = -1; /* the stream closes its descriptor itself; see destroy() */
    bs->buf_type = st->fmt.type;
    bs->count = req.count;
    bs->mem_planes = mem_planes;
    for (uint32_t i = 0; i < bs->count; i++)
        for (uint32_t p = 0; p < VIDEO_MAX_PLANES; p++) bs->bufs[i].dmabuf_fd[p] = -1;

    bool want_dmabuf = s->requested_video.output_preference == MINIAV_OUTPUT_PREFERENCE_GPU;
    MiniAVResultCode r = MINIAV_SUCCESS;
    for (uint32_t i = 0; i < bs->count && !r; i++) {
        struct v4l2_buffer b;
        struct v4l2_plane planes[VIDEO_MAX_PLANES];
        memset(&b, 0, sizeof b);
        memset(planes, 0, sizeof planes);
        b.type = st->fmt.type;
        b.memory = V4L2_MEMORY_MMAP;
        b.index = i;
        if (st->node.mplane) {
            b.m.planes = planes;
            b.length = mem_planes;
        }
        if (xioctl(st->fd, VIDIOC_QUERYBUF, &b) < 0) {
            r = errno_result(errno, st, "querying a buffer");
            break;
        }
        for (uint32_t p = 0; p < mem_planes; p++) {
            size_t len = st->node.mplane ? planes[p].length : b.length;
            off_t off = st->node.mplane ? planes[p].m.mem_offset : b.m.offset;
            void *addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, st->fd, off);
            if (addr == MAP_FAILED) {
                r = errno_result(errno, st, "mapping a buffer");
                break;
            }
            bs->bufs[i].addr[p] = addr;
            bs->bufs[i].length[p] = len;
            if (want_dmabuf) {
                struct v4l2_exportbuffer ex;
                memset(&ex, 0, sizeof ex);
                ex.type = st->fmt.type;
                ex.index = i;
                ex.plane = p;
                ex.flags = O_RDONLY | O_CLOEXEC;
                if (xioctl(st->fd, VIDIOC_EXPBUF, &ex) < 0) {
                    miniav_log(MINIAV_LOG_LEVEL_WARN, "v4l2: camera '%s' cannot export DMA-BUF (%s); frames come as CPU memory",
                               camera_label(st), strerror(errno));
                    want_dmabuf = false;
                } else {
                    bs->bufs[i].dmabuf_fd[p] = ex.fd;
                }
            }
        }
    }
    if (!r) {
        st->dmabuf = want_dmabuf;
        const format_map *m = map_v4l2(pixfmt_of(st));
        st->drm_fourcc = m ? m->drm : 0;
        if (st->dmabuf && !st->drm_fourcc)
            miniav_log(MINIAV_LOG_LEVEL_INFO, "v4l2: DMA-BUF frames of camera '%s' have no DRM format code (compressed or uncommon format)",
                       camera_label(st));
        miniav_pool_hooks hooks = {.on_release = buffer_released, .on_free = buffer_set_free, .ctx = bs};
        r = miniav_stream_ensure_external_pool(s, bs->count, &hooks);
    }
    if (r) {
        buffer_set_free(bs);
        /* The driver's buffers go with the mappings; give back the request as well. */
        req.count = 0;
        xioctl(st->fd, VIDIOC_REQBUFS, &req);
        return r;
    }
    if (!st->dmabuf)
        for (uint32_t i = 0; i < bs->count; i++)
            for (uint32_t p = 0; p < mem_planes; p++)
                if (bs->bufs[i].dmabuf_fd[p] >= 0) {
                    close(bs->bufs[i].dmabuf_fd[p]);
                    bs->bufs[i].dmabuf_fd[p] = -1;
                }
    bs->fd = st->fd;
    st->bs = bs;
    s->video.output_preference = st->dmabuf ? MINIAV_OUTPUT_PREFERENCE_GPU : MINIAV_OUTPUT_PREFERENCE_CPU;
    return MINIAV_SUCCESS;
}

static void destroy(miniav_stream *s) {
    v4l2_state *st = s->backend_data;
    if (!st) return;
    if (st->bs) {
        /* The pool still owns bs: it outlives us while the application holds buffers. The
         * descriptor closes now; late releases see fd -1 and only unmap at the end. */
        pthread_mutex_lock(&st->bs->lock);
        st->bs->fd = -1;
        st->bs->streaming = false;
        pthread_mutex_unlock(&st->bs->lock);
    }
    if (st->fd >= 0) close(st->fd);
    if (st->wake_fd >= 0) close(st->wake_fd);
    free(st);
    s->backend_data = NULL;
}

static MiniAVResultCode configure(miniav_stream *s) {
    v4l2_state *st = calloc(1, sizeof *st);
    if (!st) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    st->fd = st->wake_fd = -1;
    s->backend_data = st;
    MiniAVResultCode r = find_node(s->device_id, &st->node);
    if (!r) r = open_node(&st->node, &st->fd);
    if (!r) r = set_format(s, st);
    if (!r) r = make_buffers(s, st);
    if (!r) {
        st->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (st->wake_fd < 0) r = miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "eventfd: %s", strerror(errno));
    }
    return r; /* on failure the core calls destroy() */
}

/* ------------------------------------------------------------------ capture */

/* Plane pointers of a frame in one memory block (single-planar API): V4L2 gives chroma
 * planes of 4:2:0 formats half the luma stride (I420) or the same (NV12). */
static void split_planes(MiniAVBuffer *b, uint8_t *base, uint32_t stride, uint32_t height, size_t used) {
    switch (b->data.video.pixel_format) {
    case MINIAV_PIXEL_FORMAT_I420: {
        size_t y = (size_t)stride * height, c = (size_t)(stride / 2) * ((height + 1) / 2);
        b->data.video.num_planes = 3;
        b->data.video.planes[0] = base, b->data.video.stride_bytes[0] = stride, b->data.video.plane_size_bytes[0] = y;
        b->data.video.planes[1] = base + y, b->data.video.stride_bytes[1] = stride / 2, b->data.video.plane_size_bytes[1] = c;
        b->data.video.planes[2] = base + y + c, b->data.video.stride_bytes[2] = stride / 2, b->data.video.plane_size_bytes[2] = c;
        break;
    }
    case MINIAV_PIXEL_FORMAT_NV12:
    case MINIAV_PIXEL_FORMAT_NV21: {
        size_t y = (size_t)stride * height, c = (size_t)stride * ((height + 1) / 2);
        b->data.video.num_planes = 2;
        b->data.video.planes[0] = base, b->data.video.stride_bytes[0] = stride, b->data.video.plane_size_bytes[0] = y;
        b->data.video.planes[1] = base + y, b->data.video.stride_bytes[1] = stride, b->data.video.plane_size_bytes[1] = c;
        break;
    }
    default:
        b->data.video.num_planes = 1;
        b->data.video.planes[0] = base;
        b->data.video.stride_bytes[0] = stride;
        b->data.video.plane_size_bytes[0] = used;
    }
}

/* Fills the slot's MiniAVBuffer from a dequeued driver buffer. */
static void describe_frame(miniav_stream *s, v4l2_state *st, const struct v4l2_buffer *vb, const struct v4l2_plane *vp,
                           miniav_slot *slot) {
    driver_buffer *db = &st->bs->bufs[vb->index];
    MiniAVBuffer *b = &slot->buffer;
    memset(b, 0, sizeof *b);
    b->type = MINIAV_BUFFER_TYPE_VIDEO;
    b->content_type = st->dmabuf ? MINIAV_BUFFER_CONTENT_TYPE_GPU_DMABUF_FD : MINIAV_BUFFER_CONTENT_TYPE_CPU;
    b->data.video.width = s->video.width;
    b->data.video.height = s->video.height;
    b->data.video.pixel_format = s->video.pixel_format;
    b->data.video.fourcc = s->video.fourcc;
    b->data.video.native_gpu_dmabuf_fd = -1;

    /* The driver's timestamp is when the frame was captured; MiniAV's clock is CLOCK_MONOTONIC
     * too. Drivers without monotonic stamps get the dequeue time. */
    int64_t now = MiniAV_GetTimeUs();
    int64_t ts = (int64_t)vb->timestamp.tv_sec * 1000000 + vb->timestamp.tv_usec;
    bool monotonic = (vb->flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
    b->timestamp_us = monotonic && ts > 0 && ts <= now ? ts : now;

    if (st->node.mplane) {
        const struct v4l2_pix_format_mplane *mp = &st->fmt.fmt.pix_mp;
        size_t total = 0;
        if (st->bs->mem_planes == 1) {
            uint8_t *base = (uint8_t *)db->addr[0] + vp[0].data_offset;
            size_t used = vp[0].bytesused > vp[0].data_offset ? vp[0].bytesused - vp[0].data_offset : 0;
            split_planes(b, base, mp->plane_fmt[0].bytesperline, mp->height, used);
            total = used;
        } else {
            b->data.video.num_planes = st->bs->mem_planes;
            for (uint32_t p = 0; p < st->bs->mem_planes && p < MINIAV_MAX_PLANES; p++) {
                size_t used = vp[p].bytesused > vp[p].data_offset ? vp[p].bytesused - vp[p].data_offset : 0;
                b->data.video.planes[p] = (uint8_t *)db->addr[p] + vp[p].data_offset;
                b->data.video.stride_bytes[p] = mp->plane_fmt[p].bytesperline;
                b->data.video.plane_size_bytes[p] = used;
                total += used;
            }
        }
        b->data_size_bytes = total;
    } else {
        split_planes(b, db->addr[0], st->compressed ? 0 : st->fmt.fmt.pix.bytesperline, st->fmt.fmt.pix.height, vb->bytesused);
        b->data_size_bytes = vb->bytesused;
    }

    if (st->dmabuf) {
        MiniAVDmaBufInfo *d = &b->data.video.dmabuf;
        d->drm_fourcc = st->drm_fourcc;
        d->num_planes = b->data.video.num_planes;
        uint8_t *base0 = db->addr[0];
        for (uint32_t p = 0; p < d->num_planes; p++) {
            uint32_t mem = st->bs->mem_planes > 1 ? p : 0;
            d->fd[p] = db->dmabuf_fd[mem];
            d->offset[p] = (uint32_t)((uint8_t *)b->data.video.planes[p] - (mem ? (uint8_t *)db->addr[mem] : base0));
            d->stride[p] = b->data.video.stride_bytes[p];
        }
        b->data.video.native_gpu_dmabuf_fd = d->fd[0];
    }
}

static void *capture_thread(void *arg) {
    miniav_stream *s = arg;
    v4l2_state *st = s->backend_data;
    buffer_set *bs = st->bs;
    struct pollfd pfd[2] = {{.fd = st->fd, .events = POLLIN | POLLPRI}, {.fd = st->wake_fd, .events = POLLIN}};
    while (!atomic_load(&st->worker.stop)) {
        pthread_mutex_lock(&bs->lock);
        uint32_t queued = bs->queued;
        pthread_mutex_unlock(&bs->lock);
        /* With every buffer held by the application the device has nothing to fill (and
         * poll reports an error): wait for a release or Stop. */
        int n = queued ? poll(pfd, 2, POLL_TIMEOUT_MS) : poll(&pfd[1], 1, 10);
        if (n < 0 && errno != EINTR) break;
        if (atomic_load(&st->worker.stop)) break;
        if (!queued) continue;
        for (;;) {
            struct v4l2_buffer vb;
            struct v4l2_plane vp[VIDEO_MAX_PLANES];
            memset(&vb, 0, sizeof vb);
            memset(vp, 0, sizeof vp);
            vb.type = bs->buf_type;
            vb.memory = V4L2_MEMORY_MMAP;
            if (st->node.mplane) {
                vb.m.planes = vp;
                vb.length = bs->mem_planes;
            }
            if (xioctl(st->fd, VIDIOC_DQBUF, &vb) < 0) {
                int e = errno;
                if (e == EAGAIN) break;
                if (e == ENODEV || e == ENXIO || e == EIO || e == EPIPE) {
                    miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_DEVICE_LOST,
                                       "camera '%s' (%s) was disconnected; the stream has ended", camera_label(st), st->node.path);
                } else {
                    miniav_stream_emit(s, MINIAV_EVENT_ERROR, MINIAV_ERROR_SYSTEM_CALL_FAILED, "camera '%s': taking a frame failed: %s",
                                       camera_label(st), strerror(e));
                }
                return NULL;
            }
            if (vb.index >= bs->count) continue;
            pthread_mutex_lock(&bs->lock);
            bs->queued--;
            bool last = bs->queued == 0;
            pthread_mutex_unlock(&bs->lock);

            if (st->have_sequence && vb.sequence > st->last_sequence + 1)
                miniav_stream_count_lost(s, vb.sequence - st->last_sequence - 1);
            st->have_sequence = true;
            st->last_sequence = vb.sequence;

            miniav_slot *slot = NULL;
            /* A corrupt frame, or the driver's last buffer: give it straight back, counted. */
            if (!(vb.flags & V4L2_BUF_FLAG_ERROR) && !last) slot = miniav_stream_acquire_index(s, vb.index);
            if (!slot) {
                miniav_stream_count_lost(s, 1);
                pthread_mutex_lock(&bs->lock);
                if (bs->streaming) queue_buffer(bs, vb.index);
                pthread_mutex_unlock(&bs->lock);
                continue;
            }
            slot->backend_cookie = (void *)(uintptr_t)vb.index;
            describe_frame(s, st, &vb, vp, slot);
            pthread_mutex_lock(&bs->lock);
            bs->bufs[vb.index].with_app = true;
            pthread_mutex_unlock(&bs->lock);
            miniav_stream_deliver(s, slot);
        }
    }
    return NULL;
}

static MiniAVResultCode start(miniav_stream *s) {
    v4l2_state *st = s->backend_data;
    buffer_set *bs = st->bs;
    uint64_t drain;
    while (read(st->wake_fd, &drain, sizeof drain) > 0) {
    }
    st->have_sequence = false;
    pthread_mutex_lock(&bs->lock);
    bs->queued = 0;
    MiniAVResultCode r = MINIAV_SUCCESS;
    /* Buffers the application still holds from an earlier run go back on release. */
    for (uint32_t i = 0; i < bs->count && !r; i++)
        if (!bs->bufs[i].with_app && queue_buffer(bs, i) < 0) r = errno_result(errno, st, "queueing buffers");
    if (!r) {
        int type = (int)bs->buf_type;
        if (xioctl(st->fd, VIDIOC_STREAMON, &type) < 0)
            r = errno_result(errno, st, "starting the stream");
        else
            bs->streaming = true;
    }
    if (r) {
        int type = (int)bs->buf_type;
        xioctl(st->fd, VIDIOC_STREAMOFF, &type); /* takes back whatever was queued */
        bs->queued = 0;
    }
    pthread_mutex_unlock(&bs->lock);
    if (r) return r;
    r = miniav_capture_thread_start(&st->worker, capture_thread, s);
    if (r) {
        pthread_mutex_lock(&bs->lock);
        int type = (int)bs->buf_type;
        xioctl(st->fd, VIDIOC_STREAMOFF, &type);
        bs->streaming = false;
        bs->queued = 0;
        pthread_mutex_unlock(&bs->lock);
    }
    return r;
}

static void stop(miniav_stream *s) {
    v4l2_state *st = s->backend_data;
    uint64_t one = 1;
    atomic_store(&st->worker.stop, true);
    if (write(st->wake_fd, &one, sizeof one) < 0) {
        /* the poll timeout notices the stop flag instead */
    }
    miniav_capture_thread_stop(&st->worker);
    pthread_mutex_lock(&st->bs->lock);
    int type = (int)st->bs->buf_type;
    xioctl(st->fd, VIDIOC_STREAMOFF, &type); /* fails harmlessly on an unplugged device */
    st->bs->streaming = false;
    st->bs->queued = 0;
    pthread_mutex_unlock(&st->bs->lock);
}

/* ------------------------------------------------------------------ properties */

typedef struct {
    const char *name;
    uint32_t id, alt_id; /* alt_id: an older control for the same thing */
    uint32_t auto_id;    /* the control that makes it automatic, 0 if none */
} known_property;

static const known_property known_properties[] = {
    {"brightness", V4L2_CID_BRIGHTNESS, 0, V4L2_CID_AUTOBRIGHTNESS},
    {"contrast", V4L2_CID_CONTRAST, 0, 0},
    {"saturation", V4L2_CID_SATURATION, 0, 0},
    {"hue", V4L2_CID_HUE, 0, V4L2_CID_HUE_AUTO},
    {"gamma", V4L2_CID_GAMMA, 0, 0},
    {"sharpness", V4L2_CID_SHARPNESS, 0, 0},
    {"gain", V4L2_CID_GAIN, 0, V4L2_CID_AUTOGAIN},
    {"exposure", V4L2_CID_EXPOSURE_ABSOLUTE, V4L2_CID_EXPOSURE, V4L2_CID_EXPOSURE_AUTO},
    {"white-balance", V4L2_CID_WHITE_BALANCE_TEMPERATURE, 0, V4L2_CID_AUTO_WHITE_BALANCE},
    {"focus", V4L2_CID_FOCUS_ABSOLUTE, 0, V4L2_CID_FOCUS_AUTO},
    {"zoom", V4L2_CID_ZOOM_ABSOLUTE, 0, 0},
    {"pan", V4L2_CID_PAN_ABSOLUTE, 0, 0},
    {"tilt", V4L2_CID_TILT_ABSOLUTE, 0, 0},
    {"backlight-compensation", V4L2_CID_BACKLIGHT_COMPENSATION, 0, 0},
    {"power-line-frequency", V4L2_CID_POWER_LINE_FREQUENCY, 0, 0},
};
#define KNOWN_COUNT (sizeof known_properties / sizeof known_properties[0])

static int query_control(int fd, uint32_t id, struct v4l2_query_ext_ctrl *q) {
    memset(q, 0, sizeof *q);
    q->id = id;
    if (xioctl(fd, VIDIOC_QUERY_EXT_CTRL, q) < 0) return -1;
    return (q->flags & V4L2_CTRL_FLAG_DISABLED) ? -1 : 0;
}

/* `type`: the control's V4L2_CTRL_TYPE_*, which says how its value is stored. */
static int get_control(int fd, uint32_t id, uint32_t type, int64_t *value) {
    struct v4l2_ext_control c;
    struct v4l2_ext_controls cs;
    memset(&c, 0, sizeof c);
    memset(&cs, 0, sizeof cs);
    c.id = id;
    cs.which = V4L2_CTRL_WHICH_CUR_VAL;
    cs.count = 1;
    cs.controls = &c;
    if (xioctl(fd, VIDIOC_G_EXT_CTRLS, &cs) < 0) return -1;
    if (type == V4L2_CTRL_TYPE_INTEGER64)
        *value = c.value64;
    else if (type == V4L2_CTRL_TYPE_BITMASK)
        *value = (uint32_t)c.value; /* a mask of 32 bits, not a signed number */
    else
        *value = c.value;
    return 0;
}

static int set_control(int fd, uint32_t id, uint32_t type, int64_t value) {
    struct v4l2_ext_control c;
    struct v4l2_ext_controls cs;
    memset(&c, 0, sizeof c);
    memset(&cs, 0, sizeof cs);
    c.id = id;
    if (type == V4L2_CTRL_TYPE_INTEGER64)
        c.value64 = value;
    else
        c.value = (int32_t)value;
    cs.which = V4L2_CTRL_WHICH_CUR_VAL;
    cs.count = 1;
    cs.controls = &c;
    return xioctl(fd, VIDIOC_S_EXT_CTRLS, &cs);
}

/* "White Balance, Automatic" -> "white_balance_automatic", as v4l2-ctl names controls. */
static void control_name(const char *label, char *out, size_t size) {
    size_t n = 0;
    for (const char *p = label; *p && n + 1 < size; p++) {
        if (isalnum((unsigned char)*p))
            out[n++] = (char)tolower((unsigned char)*p);
        else if (n && out[n - 1] != '_')
            out[n++] = '_';
    }
    while (n && out[n - 1] == '_') n--;
    out[n] = '\0';
}

static bool supported_type(uint32_t type) {
    switch (type) {
    case V4L2_CTRL_TYPE_INTEGER:
    case V4L2_CTRL_TYPE_BOOLEAN:
    case V4L2_CTRL_TYPE_MENU:
    case V4L2_CTRL_TYPE_INTEGER_MENU:
    case V4L2_CTRL_TYPE_BUTTON:
    case V4L2_CTRL_TYPE_INTEGER64:
    case V4L2_CTRL_TYPE_BITMASK: return true;
    default: return false; /* strings, control classes and compound controls */
    }
}

/* Automatic state of an auto control's value: exposure's is a menu where only MANUAL means off. */
static bool auto_on(uint32_t auto_id, int64_t v) {
    return auto_id == V4L2_CID_EXPOSURE_AUTO ? v != V4L2_EXPOSURE_MANUAL : v != 0;
}

/* A property resolved to its controls. */
typedef struct {
    uint32_t id, auto_id;
    uint32_t auto_type; /* the auto control's V4L2_CTRL_TYPE_* */
    struct v4l2_query_ext_ctrl q;
} resolved_property;

static MiniAVResultCode resolve_property(int fd, const char *name, resolved_property *out) {
    memset(out, 0, sizeof *out);
    struct v4l2_query_ext_ctrl q, qa;
    for (size_t i = 0; i < KNOWN_COUNT; i++) {
        const known_property *k = &known_properties[i];
        if (strcmp(k->name, name)) continue;
        uint32_t id = query_control(fd, k->id, &q) == 0 ? k->id : (k->alt_id && query_control(fd, k->alt_id, &q) == 0 ? k->alt_id : 0);
        if (!id) break;
        out->id = id;
        out->q = q;
        out->auto_id = k->auto_id && query_control(fd, k->auto_id, &qa) == 0 ? k->auto_id : 0;
        out->auto_type = out->auto_id ? qa.type : 0;
        return MINIAV_SUCCESS;
    }
    memset(&q, 0, sizeof q);
    q.id = V4L2_CTRL_FLAG_NEXT_CTRL;
    while (xioctl(fd, VIDIOC_QUERY_EXT_CTRL, &q) == 0) {
        char n[64];
        control_name(q.name, n, sizeof n);
        if (!(q.flags & V4L2_CTRL_FLAG_DISABLED) && supported_type(q.type) && !strcmp(n, name)) {
            out->id = q.id;
            out->q = q;
            return MINIAV_SUCCESS;
        }
        q.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
    }
    return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "this camera has no property '%s'; list them with ListProperties", name);
}

static void fill_menu(int fd, const struct v4l2_query_ext_ctrl *q, MiniAVCameraProperty *p) {
    for (int64_t i = q->minimum; i <= q->maximum && p->menu_count < MINIAV_PROPERTY_MAX_MENU; i++) {
        struct v4l2_querymenu m;
        memset(&m, 0, sizeof m);
        m.id = q->id;
        m.index = (uint32_t)i;
        if (xioctl(fd, VIDIOC_QUERYMENU, &m) < 0) continue; /* a gap in the menu */
        MiniAVPropertyMenuItem *item = &p->menu[p->menu_count++];
        item->value = i;
        if (q->type == V4L2_CTRL_TYPE_INTEGER_MENU)
            snprintf(item->name, sizeof item->name, "%lld", (long long)m.value);
        else
            miniav_copy_string(item->name, sizeof item->name, (const char *)m.name);
    }
}

static void describe_property(int fd, const char *name, const struct v4l2_query_ext_ctrl *q, uint32_t auto_id, uint32_t auto_type,
                              MiniAVCameraProperty *p) {
    memset(p, 0, sizeof *p);
    miniav_copy_string(p->name, sizeof p->name, name);
    miniav_copy_string(p->label, sizeof p->label, q->name);
    switch (q->type) {
    case V4L2_CTRL_TYPE_BOOLEAN: p->type = MINIAV_PROPERTY_TYPE_BOOLEAN; break;
    case V4L2_CTRL_TYPE_MENU:
    case V4L2_CTRL_TYPE_INTEGER_MENU: p->type = MINIAV_PROPERTY_TYPE_MENU; break;
    case V4L2_CTRL_TYPE_BUTTON: p->type = MINIAV_PROPERTY_TYPE_BUTTON; break;
    default: p->type = MINIAV_PROPERTY_TYPE_INTEGER;
    }
    p->min = q->minimum;
    p->max = q->maximum;
    p->step = (int64_t)q->step;
    p->default_value = q->default_value;
    p->read_only = (q->flags & V4L2_CTRL_FLAG_READ_ONLY) != 0;
    p->inactive = (q->flags & V4L2_CTRL_FLAG_INACTIVE) != 0;
    if (q->type != V4L2_CTRL_TYPE_BUTTON && !(q->flags & V4L2_CTRL_FLAG_WRITE_ONLY)) get_control(fd, q->id, q->type, &p->value);
    if (p->type == MINIAV_PROPERTY_TYPE_MENU) fill_menu(fd, q, p);
    if (auto_id) {
        int64_t a;
        p->has_auto = 1;
        p->is_auto = get_control(fd, auto_id, auto_type, &a) == 0 && auto_on(auto_id, a);
    }
}

static bool property_list_add(MiniAVCameraProperty **items, uint32_t *count, uint32_t *cap) {
    if (*count < *cap) return true;
    uint32_t grown_cap = *cap ? *cap * 2 : 16;
    MiniAVCameraProperty *grown = realloc(*items, grown_cap * sizeof *grown);
    if (!grown) return false;
    *items = grown;
    *cap = grown_cap;
    return true;
}

static MiniAVResultCode list_properties(miniav_stream *s, MiniAVCameraProperty **out, uint32_t *count) {
    v4l2_state *st = s->backend_data;
    MiniAVCameraProperty *items = NULL;
    uint32_t n = 0, cap = 0;
    uint32_t claimed[2 * KNOWN_COUNT]; /* controls shown as part of a portable property */
    uint32_t n_claimed = 0;
    struct v4l2_query_ext_ctrl q, qa;
    for (size_t i = 0; i < KNOWN_COUNT; i++) {
        resolved_property rp;
        if (resolve_property(st->fd, known_properties[i].name, &rp)) continue;
        if (!property_list_add(&items, &n, &cap)) goto oom;
        describe_property(st->fd, known_properties[i].name, &rp.q, rp.auto_id, rp.auto_type, &items[n++]);
        claimed[n_claimed++] = rp.id;
        if (rp.auto_id) claimed[n_claimed++] = rp.auto_id;
    }
    miniav_clear_error(); /* absent portable properties are not an error */
    memset(&q, 0, sizeof q);
    q.id = V4L2_CTRL_FLAG_NEXT_CTRL;
    while (xioctl(st->fd, VIDIOC_QUERY_EXT_CTRL, &q) == 0) {
        bool skip = (q.flags & V4L2_CTRL_FLAG_DISABLED) || !supported_type(q.type);
        for (uint32_t c = 0; c < n_claimed && !skip; c++) skip = claimed[c] == q.id;
        /* The older exposure control when the absolute one is shown. */
        for (size_t k = 0; k < KNOWN_COUNT && !skip; k++)
            skip = known_properties[k].alt_id == q.id && query_control(st->fd, known_properties[k].id, &qa) == 0;
        if (!skip) {
            char name[64];
            control_name(q.name, name, sizeof name);
            if (!property_list_add(&items, &n, &cap)) goto oom;
            describe_property(st->fd, name, &q, 0, 0, &items[n++]);
        }
        q.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
    }
    *out = items;
    *count = n;
    return MINIAV_SUCCESS;
oom:
    free(items);
    return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
}

static MiniAVResultCode control_error(int e, const char *name, const resolved_property *rp) {
    if (e == EACCES || e == EPERM)
        return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "property '%s' cannot be changed now (read-only, or inactive while automatic is on)", name);
    if (e == EBUSY) return miniav_fail(MINIAV_ERROR_DEVICE_BUSY, "property '%s' is held by another program", name);
    if (e == ERANGE || e == EINVAL)
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "value not allowed for '%s' (range %lld..%lld, step %llu)", name,
                           (long long)rp->q.minimum, (long long)rp->q.maximum, (unsigned long long)rp->q.step);
    if (e == ENODEV) return miniav_fail(MINIAV_ERROR_DEVICE_LOST, "the camera was unplugged");
    return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "property '%s': %s", name, strerror(e));
}

static MiniAVResultCode get_property(miniav_stream *s, const char *name, int64_t *value, int *is_auto) {
    v4l2_state *st = s->backend_data;
    resolved_property rp;
    MiniAVResultCode r = resolve_property(st->fd, name, &rp);
    if (r) return r;
    if (rp.q.type == V4L2_CTRL_TYPE_BUTTON)
        return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "property '%s' is a button: it has no value to read", name);
    if (get_control(st->fd, rp.id, rp.q.type, value) < 0) return control_error(errno, name, &rp);
    int64_t a;
    *is_auto = rp.auto_id && get_control(st->fd, rp.auto_id, rp.auto_type, &a) == 0 && auto_on(rp.auto_id, a);
    return MINIAV_SUCCESS;
}

static MiniAVResultCode set_property(miniav_stream *s, const char *name, int64_t value) {
    v4l2_state *st = s->backend_data;
    resolved_property rp;
    MiniAVResultCode r = resolve_property(st->fd, name, &rp);
    if (r) return r;
    if (rp.q.flags & V4L2_CTRL_FLAG_READ_ONLY) return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "property '%s' is read-only", name);
    if (rp.q.type != V4L2_CTRL_TYPE_BUTTON && (value < rp.q.minimum || value > rp.q.maximum))
        return miniav_fail(MINIAV_ERROR_INVALID_ARG, "%lld is outside %lld..%lld, the range of property '%s'", (long long)value,
                           (long long)rp.q.minimum, (long long)rp.q.maximum, name);
    /* A manual value means manual mode. */
    int64_t a;
    if (rp.auto_id && get_control(st->fd, rp.auto_id, rp.auto_type, &a) == 0 && auto_on(rp.auto_id, a)) {
        int64_t off = rp.auto_id == V4L2_CID_EXPOSURE_AUTO ? V4L2_EXPOSURE_MANUAL : 0;
        if (set_control(st->fd, rp.auto_id, rp.auto_type, off) < 0) return control_error(errno, name, &rp);
    }
    if (set_control(st->fd, rp.id, rp.q.type, value) < 0) return control_error(errno, name, &rp);
    return MINIAV_SUCCESS;
}

static MiniAVResultCode set_property_auto(miniav_stream *s, const char *name, bool enable) {
    v4l2_state *st = s->backend_data;
    resolved_property rp;
    MiniAVResultCode r = resolve_property(st->fd, name, &rp);
    if (r) return r;
    if (!rp.auto_id) return miniav_fail(MINIAV_ERROR_NOT_SUPPORTED, "property '%s' has no automatic mode on this camera", name);
    int64_t v = enable ? 1 : 0;
    if (rp.auto_id == V4L2_CID_EXPOSURE_AUTO) {
        /* Webcams (UVC) usually offer only manual and aperture priority, the automatic
         * mode with a fixed iris; full AUTO where that is what the menu has. */
        v = V4L2_EXPOSURE_MANUAL;
        if (enable) {
            struct v4l2_querymenu m;
            memset(&m, 0, sizeof m);
            m.id = rp.auto_id;
            m.index = V4L2_EXPOSURE_APERTURE_PRIORITY;
            v = xioctl(st->fd, VIDIOC_QUERYMENU, &m) == 0 ? V4L2_EXPOSURE_APERTURE_PRIORITY : V4L2_EXPOSURE_AUTO;
        }
    }
    if (set_control(st->fd, rp.auto_id, rp.auto_type, v) < 0) return control_error(errno, name, &rp);
    return MINIAV_SUCCESS;
}

const miniav_backend miniav_v4l2_camera = {
    .name = "v4l2",
    .type = MINIAV_DEVICE_TYPE_CAMERA,
    .available = available,
    .enumerate = enumerate,
    .owns_id = owns_id,
    .video_formats = video_formats,
    .configure = configure,
    .start = start,
    .stop = stop,
    .destroy = destroy,
    .list_properties = list_properties,
    .get_property = get_property,
    .set_property = set_property,
    .set_property_auto = set_property_auto,
};
