/* D3D11 frames for the Windows backends that capture into GPU textures (dxgi.c, wgc.cpp;
 * mediafoundation.c for its shared textures and copy waits): the kept-image texture, the
 * pool of shared textures for GPU output, the event-query wait for a GPU copy, and a
 * frame's delivery from either. C, callable from C++ (wgc.cpp includes
 * miniav_internal.h itself first, in an extern "C" block, with its atomic types).
 *
 * GPU output: every buffer is a texture made with D3D11_RESOURCE_MISC_SHARED |
 * SHARED_NTHANDLE whose NT handle goes to the application; it is not written again until
 * the buffer is released. No keyed mutex: every copy is finished on the GPU (an event
 * query) before the buffer is delivered, so a consumer on any device may open the handle
 * and read without a synchronisation protocol. */
#ifndef MINIAV_D3D11_FRAMES_H
#define MINIAV_D3D11_FRAMES_H

#include "miniav_internal.h"

#include <windows.h>
#include <d3d11.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The longest wait for a GPU copy before its frame is dropped. */
#define MINIAV_D3D11_WAIT_US 200000
/* How long that wait only yields (Sleep(0)) between polls before it sleeps (Sleep(1)). */
#define MINIAV_D3D11_SPIN_US 2000

typedef struct {
    ID3D11Texture2D *tex;
    HANDLE handle; /* NT handle of tex, for the application's OpenSharedResource1 */
    uint8_t *mem;  /* extra_bytes of CPU memory per buffer (dxgi: the cursor image), or NULL */
} miniav_d3d11_buffer;

typedef struct {
    uint32_t count;
    miniav_d3d11_buffer *b; /* follows the struct in the same allocation */
} miniav_d3d11_set;

/* The stream's pool for GPU output: `count` shared B8G8R8A8 textures of w x h (and
 * extra_bytes of memory each when not 0), freed with the pool, perhaps after the stream.
 * *out is set only on success (the old set belongs to the old pool, freed with it). */
MiniAVResultCode miniav_d3d11_make_pool(miniav_stream *s, ID3D11Device *dev, uint32_t count, uint32_t w, uint32_t h, size_t extra_bytes,
                                        miniav_d3d11_set **out);
/* An NT handle (read + write) for a texture made with SHARED | SHARED_NTHANDLE. */
HRESULT miniav_d3d11_share(ID3D11Texture2D *tex, HANDLE *handle);
/* The texture an image is kept in between deliveries: `like`'s size and format, one mip,
 * a default texture for GPU output (copied into the shared ones), else a staging texture
 * that maps for reading. */
HRESULT miniav_d3d11_image_texture(ID3D11Device *dev, D3D11_TEXTURE2D_DESC like, bool gpu, ID3D11Texture2D **out);
/* An event query for miniav_d3d11_wait (fails naming it). */
MiniAVResultCode miniav_d3d11_event_query(ID3D11Device *dev, ID3D11Query **out);
/* Ends `query` after what ctx has queued, flushes, and waits at most timeout_us for the
 * GPU to get there (yielding for the first MINIAV_D3D11_SPIN_US, then sleeping 1 ms
 * between polls). S_OK: done; S_FALSE: not in time; a failure: the device's (removed). */
HRESULT miniav_d3d11_wait(ID3D11DeviceContext *ctx, ID3D11Query *query, int64_t timeout_us);
/* Whether ctx's device is gone (removed, reset, hung: a driver update or reset, a GPU
 * unplugged), given hr, a failure from a call on it: the reason (a failure), else S_OK.
 * Nothing on that device works again; the capture must make a new one. */
HRESULT miniav_d3d11_device_lost(ID3D11DeviceContext *ctx, HRESULT hr);

/* A delivery from the kept image, on a slot from miniav_stream_acquire (its buffer
 * cleared): miniav_d3d11_gpu_frame (GPU output) or miniav_d3d11_map_frame, the backend's
 * copy of the rows, miniav_d3d11_cpu_frame (CPU output); then miniav_d3d11_deliver.
 * Their answer: S_OK, go on; otherwise the slot was abandoned and the frame counted lost,
 * and S_FALSE means this frame only (the copy was late, a transient failure) while a
 * failure means the device is gone (miniav_d3d11_device_lost's reason): the capture loop
 * should say so (MINIAV_ERROR_DEVICE_LOST) and end. */
/* Copies `image` into the slot's shared texture, waits for the copy, fills the GPU fields. */
HRESULT miniav_d3d11_gpu_frame(miniav_stream *s, miniav_slot *slot, ID3D11DeviceContext *ctx, ID3D11Query *done, const miniav_d3d11_set *set,
                               ID3D11Texture2D *image);
/* Maps the staging texture for reading. */
HRESULT miniav_d3d11_map_frame(miniav_stream *s, miniav_slot *slot, ID3D11DeviceContext *ctx, ID3D11Texture2D *staging,
                               D3D11_MAPPED_SUBRESOURCE *m);
/* Unmaps it, counts the copy, fills the CPU fields of a one-plane frame `width` wide. */
void miniav_d3d11_cpu_frame(miniav_stream *s, miniav_slot *slot, ID3D11DeviceContext *ctx, ID3D11Texture2D *staging, uint32_t width,
                            size_t frame_bytes);
/* The video fields every frame has, then to the application. */
void miniav_d3d11_deliver(miniav_stream *s, miniav_slot *slot, int64_t ts, uint32_t width, uint32_t height);

/* The capture loops' rule for a tick (or a wake-up, unpaced) with an image kept: a
 * changed image is delivered at *ts; an unchanged one only at a fixed rate without
 * skip_unchanged, at the time now (false otherwise: counted as skipped when paced).
 * Timestamps keep rising: *ts is at least *last_ts + 1, and becomes the new *last_ts. */
bool miniav_d3d11_frame_due(miniav_stream *s, bool changed, bool paced, bool skip_unchanged, int64_t *ts, int64_t *last_ts);

/* w x h B8G8R8A8 pixels from a mapped image (rows `pitch` bytes apart) into a packed frame
 * of `fmt` (bgra, bgrx, rgba, rgbx): channel order and opaque alpha in the one pass the
 * copy is anyway. */
void miniav_d3d11_copy_rows(uint8_t *dst, const uint8_t *src, UINT pitch, uint32_t w, uint32_t h, MiniAVPixelFormat fmt);

#ifdef __cplusplus
}
#endif

#endif
