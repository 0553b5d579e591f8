// LD_PRELOAD shim that lets xdg-desktop-portal-wlr 0.7.x stream from a wlroots compositor
// that renders with pixman (no GPU). portal.sh builds it into $RIG_DIR and preloads it into
// xdpw only. Built with gcc and libc headers alone (no libwayland-dev): the few libwayland
// types it touches are declared below; they are libwayland's stable public ABI.
//
// 1. Fake DMA-BUF offer. xdpw 0.7 refuses Start unless the screencopy frame announced a
//    linux_dmabuf format as well as a wl_shm one (upstream xdg-desktop-portal-wlr #289); a
//    pixman compositor never announces one, so every Start answers 2 and xdpw logs "unable to
//    receive a valid format from wlr_screencopy". The shim wraps xdpw's frame listener: after
//    each wl_shm `buffer` event it also calls xdpw's `linux_dmabuf` handler with the same
//    format and size. xdpw has no GBM device, so it still offers PipeWire only MemFd (SHM)
//    buffers and copies through wl_shm; the fake event just gets it past the check.
// 2. copy_with_damage -> copy. xdpw asks for every frame with copy_with_damage, which wlroots
//    holds back until the output changes; on a static screen a new session would never get
//    its first frame. The shim sends the plain `copy` request instead, so frames come at
//    xdpw's max_fps whatever the screen does. MINIAV_XDPW_SHIM_DAMAGE=1 keeps
//    copy_with_damage (frames only on change).
//
// Build: gcc -O2 -shared -fPIC -o xdpw_shim.so xdpw_shim.c -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// --- libwayland ABI (wayland-util.h / wayland-client-core.h) ---
struct wl_proxy;
struct wl_message { const char *name, *signature; const void **types; };
struct wl_interface {
  const char *name;
  int version, method_count;
  const struct wl_message *methods;
  int event_count;
  const struct wl_message *events;
};
union wl_argument { int32_t i; uint32_t u; int32_t f; const char *s; void *o; uint32_t n; void *a; int32_t h; };
#define WL_CLOSURE_MAX_ARGS 20
const char *wl_proxy_get_class(struct wl_proxy *proxy);
struct wl_proxy *wl_proxy_marshal_array_flags(struct wl_proxy *proxy, uint32_t opcode,
                                              const struct wl_interface *new_iface, uint32_t version,
                                              uint32_t flags, union wl_argument *args);

// --- wlr-screencopy-unstable-v1, zwlr_screencopy_frame_v1 ---
#define FRAME_CLASS "zwlr_screencopy_frame_v1"
#define REQ_COPY 0
#define REQ_COPY_WITH_DAMAGE 2
typedef void (*event_fn)(void);
// Events in protocol order: buffer, flags, ready, failed, damage, linux_dmabuf, buffer_done.
enum { EV_BUFFER, EV_FLAGS, EV_READY, EV_FAILED, EV_DAMAGE, EV_LINUX_DMABUF, EV_BUFFER_DONE, EV_COUNT };
typedef void (*buffer_event)(void *data, struct wl_proxy *frame, uint32_t shm_format, uint32_t width,
                             uint32_t height, uint32_t stride);
typedef void (*dmabuf_event)(void *data, struct wl_proxy *frame, uint32_t drm_format, uint32_t width,
                             uint32_t height);

static const event_fn *xdpw_listener; // xdpw registers one static listener for all frames
static event_fn our_listener[EV_COUNT];

// wl_shm formats equal DRM fourccs except the two legacy codes 0 and 1.
static uint32_t shm_to_drm(uint32_t format) {
  if (format == 0) return 0x34325241; // ARGB8888 'AR24'
  if (format == 1) return 0x34325258; // XRGB8888 'XR24'
  return format;
}

static void on_buffer(void *data, struct wl_proxy *frame, uint32_t format, uint32_t w, uint32_t h,
                      uint32_t stride) {
  ((buffer_event)xdpw_listener[EV_BUFFER])(data, frame, format, w, h, stride);
  if (!xdpw_listener[EV_LINUX_DMABUF]) return;
  static int logged;
  if (!logged++)
    fprintf(stderr, "miniav xdpw shim: adding linux_dmabuf %ux%u fourcc 0x%08x after wl_shm buffer\n", w, h,
            shm_to_drm(format));
  ((dmabuf_event)xdpw_listener[EV_LINUX_DMABUF])(data, frame, shm_to_drm(format), w, h);
}

int wl_proxy_add_listener(struct wl_proxy *proxy, void (**implementation)(void), void *data) {
  static int (*next)(struct wl_proxy *, void (**)(void), void *);
  if (!next) next = (int (*)(struct wl_proxy *, void (**)(void), void *))dlsym(RTLD_NEXT, "wl_proxy_add_listener");
  const char *cls = wl_proxy_get_class(proxy);
  if (!cls || strcmp(cls, FRAME_CLASS) != 0) return next(proxy, implementation, data);
  if (xdpw_listener != (const event_fn *)implementation) {
    xdpw_listener = (const event_fn *)implementation;
    memcpy(our_listener, implementation, sizeof our_listener);
    our_listener[EV_BUFFER] = (event_fn)on_buffer;
  }
  return next(proxy, our_listener, data);
}

// Every request of xdpw's protocol stubs goes through this variadic call; to change one we
// must re-read the arguments of all (by the request's signature) and pass them on as an array.
struct wl_proxy *wl_proxy_marshal_flags(struct wl_proxy *proxy, uint32_t opcode, const struct wl_interface *new_iface,
                                        uint32_t version, uint32_t flags, ...) {
  // A wl_proxy begins with its wl_object, which begins with the object's interface.
  const struct wl_interface *iface = *(const struct wl_interface *const *)proxy;
  union wl_argument args[WL_CLOSURE_MAX_ARGS];
  int n = 0;
  va_list ap;
  va_start(ap, flags);
  for (const char *s = iface->methods[opcode].signature; *s && n < WL_CLOSURE_MAX_ARGS; s++) {
    switch (*s) {
      case 'i': case 'f': case 'h': args[n++].i = va_arg(ap, int32_t); break;
      case 'u': args[n++].u = va_arg(ap, uint32_t); break;
      case 's': args[n++].s = va_arg(ap, const char *); break;
      case 'o': case 'n': case 'a': args[n++].o = va_arg(ap, void *); break;
      default: break; // a since-version digit or '?' (nullable): no argument
    }
  }
  va_end(ap);
  static int keep_damage = -1;
  if (keep_damage < 0) {
    const char *e = getenv("MINIAV_XDPW_SHIM_DAMAGE");
    keep_damage = e && *e == '1';
  }
  if (!keep_damage && opcode == REQ_COPY_WITH_DAMAGE && strcmp(iface->name, FRAME_CLASS) == 0) {
    static int logged;
    if (!logged++) fprintf(stderr, "miniav xdpw shim: sending screencopy copy instead of copy_with_damage\n");
    opcode = REQ_COPY; // both take one wl_buffer
  }
  return wl_proxy_marshal_array_flags(proxy, opcode, new_iface, version, flags, args);
}
