/* D3D11 textures and frame delivery shared by dxgi.c, wgc.cpp and mediafoundation.c. */
#define WIN32_LEAN_AND_MEAN
#include "d3d11_frames.h"

#include <stdlib.h>
#include <string.h>
#include <dxgi1_2.h>

/* ------------------------------------------------------------------ shared textures */

/* When the pool is freed, perhaps after the stream, on the thread of the last release,
 * under the core's buffer lock: only releases and frees. */
static void set_free(void *ctx) {
    miniav_d3d11_set *set = ctx;
    for (uint32_t i = 0; i < set->count; i++) {
        if (set->b[i].handle) CloseHandle(set->b[i].handle);
        if (set->b[i].tex) ID3D11Texture2D_Release(set->b[i].tex);
        free(set->b[i].mem);
    }
    free(set);
}

HRESULT miniav_d3d11_share(ID3D11Texture2D *tex, HANDLE *handle) {
    IDXGIResource1 *res = NULL;
    HRESULT hr = ID3D11Texture2D_QueryInterface(tex, &IID_IDXGIResource1, (void **)&res);
    if (SUCCEEDED(hr)) {
        hr = IDXGIResource1_CreateSharedHandle(res, NULL, DXGI_SHARED_RESOURCE_READ | DXGI_SHARED_RESOURCE_WRITE, NULL, handle);
        IDXGIResource1_Release(res);
    }
    return hr;
}

MiniAVResultCode miniav_d3d11_make_pool(miniav_stream *s, ID3D11Device *dev, uint32_t count, uint32_t w, uint32_t h, size_t extra_bytes,
                                        miniav_d3d11_set **out) {
    miniav_d3d11_set *set = calloc(1, sizeof *set + count * sizeof set->b[0]);
    if (!set) return miniav_fail(MINIAV_ERROR_OUT_OF_MEMORY, "out of memory");
    set->b = (miniav_d3d11_buffer *)(set + 1);
    D3D11_TEXTURE2D_DESC d = {.Width = w, .Height = h, .MipLevels = 1, .ArraySize = 1,
                              .Format = DXGI_FORMAT_B8G8R8A8_UNORM, .SampleDesc = {1, 0}, .Usage = D3D11_USAGE_DEFAULT,
                              .BindFlags = D3D11_BIND_SHADER_RESOURCE | D3D11_BIND_RENDER_TARGET,
                              .MiscFlags = D3D11_RESOURCE_MISC_SHARED | D3D11_RESOURCE_MISC_SHARED_NTHANDLE};
    for (uint32_t i = 0; i < count; i++, set->count++) {
        HRESULT hr = ID3D11Device_CreateTexture2D(dev, &d, NULL, &set->b[i].tex);
        if (SUCCEEDED(hr)) hr = miniav_d3d11_share(set->b[i].tex, &set->b[i].handle);
        if (SUCCEEDED(hr) && extra_bytes && !(set->b[i].mem = malloc(extra_bytes))) hr = E_OUTOFMEMORY;
        if (FAILED(hr)) {
            set->count++;
            set_free(set);
            return miniav_fail(hr == E_OUTOFMEMORY ? MINIAV_ERROR_OUT_OF_MEMORY : MINIAV_ERROR_SYSTEM_CALL_FAILED,
                               "cannot create a shared %ux%u texture (0x%08lx); ask for CPU output", w, h, (unsigned long)hr);
        }
    }
    miniav_pool_hooks hooks = {.on_release = NULL, .on_free = set_free, .ctx = set};
    MiniAVResultCode r = miniav_stream_ensure_external_pool(s, count, &hooks);
    if (r) {
        set_free(set);
        return r;
    }
    *out = set;
    return MINIAV_SUCCESS;
}

HRESULT miniav_d3d11_image_texture(ID3D11Device *dev, D3D11_TEXTURE2D_DESC like, bool gpu, ID3D11Texture2D **out) {
    D3D11_TEXTURE2D_DESC d = like;
    if (gpu)
        d.Usage = D3D11_USAGE_DEFAULT, d.BindFlags = D3D11_BIND_SHADER_RESOURCE, d.CPUAccessFlags = 0;
    else
        d.Usage = D3D11_USAGE_STAGING, d.BindFlags = 0, d.CPUAccessFlags = D3D11_CPU_ACCESS_READ;
    d.MipLevels = d.ArraySize = 1, d.MiscFlags = 0;
    return ID3D11Device_CreateTexture2D(dev, &d, NULL, out);
}

/* ------------------------------------------------------------------ GPU copies */

MiniAVResultCode miniav_d3d11_event_query(ID3D11Device *dev, ID3D11Query **out) {
    D3D11_QUERY_DESC qd = {D3D11_QUERY_EVENT, 0};
    HRESULT hr = ID3D11Device_CreateQuery(dev, &qd, out);
    if (FAILED(hr)) return miniav_fail(MINIAV_ERROR_SYSTEM_CALL_FAILED, "cannot create a Direct3D query (0x%08lx)", (unsigned long)hr);
    return MINIAV_SUCCESS;
}

HRESULT miniav_d3d11_wait(ID3D11DeviceContext *ctx, ID3D11Query *query, int64_t timeout_us) {
    ID3D11DeviceContext_End(ctx, (ID3D11Asynchronous *)query);
    ID3D11DeviceContext_Flush(ctx);
    int64_t start = MiniAV_GetTimeUs(), deadline = start + timeout_us;
    HRESULT hr;
    /* A copy is usually done within a millisecond: yield (Sleep(0)) for the first
     * MINIAV_D3D11_SPIN_US, then sleep (Sleep(1)) rather than spin a core until the
     * deadline. The last GetData is asked at or after the deadline, after the last sleep. */
    while ((hr = ID3D11DeviceContext_GetData(ctx, (ID3D11Asynchronous *)query, NULL, 0, 0)) == S_FALSE) {
        int64_t now = MiniAV_GetTimeUs();
        if (now >= deadline) break;
        Sleep(now - start < MINIAV_D3D11_SPIN_US ? 0 : 1);
    }
    return hr;
}

HRESULT miniav_d3d11_device_lost(ID3D11DeviceContext *ctx, HRESULT hr) {
    ID3D11Device *dev = NULL;
    HRESULT reason = S_OK;
    ID3D11DeviceContext_GetDevice(ctx, &dev);
    if (dev) {
        reason = ID3D11Device_GetDeviceRemovedReason(dev);
        ID3D11Device_Release(dev);
    }
    if (FAILED(reason)) return reason;
    if (hr == DXGI_ERROR_DEVICE_REMOVED || hr == DXGI_ERROR_DEVICE_RESET || hr == DXGI_ERROR_DEVICE_HUNG || hr == DXGI_ERROR_DRIVER_INTERNAL_ERROR)
        return hr;
    return S_OK;
}

/* ------------------------------------------------------------------ delivery */

/* A frame that cannot be delivered: the slot back, the frame counted lost, and whether
 * the device is gone (its reason) or this frame only (S_FALSE). */
static HRESULT frame_lost(miniav_stream *s, miniav_slot *slot, ID3D11DeviceContext *ctx, HRESULT hr) {
    miniav_stream_abandon(s, slot);
    miniav_stream_count_lost(s, 1);
    HRESULT lost = miniav_d3d11_device_lost(ctx, hr);
    return FAILED(lost) ? lost : S_FALSE;
}

HRESULT miniav_d3d11_gpu_frame(miniav_stream *s, miniav_slot *slot, ID3D11DeviceContext *ctx, ID3D11Query *done, const miniav_d3d11_set *set,
                               ID3D11Texture2D *image) {
    ID3D11Texture2D *tex = set->b[slot->index].tex;
    ID3D11DeviceContext_CopyResource(ctx, (ID3D11Resource *)tex, (ID3D11Resource *)image);
    HRESULT hr = miniav_d3d11_wait(ctx, done, MINIAV_D3D11_WAIT_US);
    if (hr != S_OK) return frame_lost(s, slot, ctx, hr);
    /* A copy on the GPU, but a copy of the frame all the same: counted, as Media
     * Foundation's GPU path counts its own, so `copies` means the same on every path. */
    atomic_fetch_add(&s->copies, 1);
    MiniAVBuffer *b = &slot->buffer;
    b->content_type = MINIAV_BUFFER_CONTENT_TYPE_GPU_D3D11_HANDLE;
    b->data.video.native_gpu_shared_handle = set->b[slot->index].handle;
    b->data.video.native_gpu_texture_ptr = tex;
    return S_OK;
}

HRESULT miniav_d3d11_map_frame(miniav_stream *s, miniav_slot *slot, ID3D11DeviceContext *ctx, ID3D11Texture2D *staging,
                               D3D11_MAPPED_SUBRESOURCE *m) {
    HRESULT hr = ID3D11DeviceContext_Map(ctx, (ID3D11Resource *)staging, 0, D3D11_MAP_READ, 0, m);
    if (SUCCEEDED(hr)) return S_OK;
    return frame_lost(s, slot, ctx, hr);
}

void miniav_d3d11_cpu_frame(miniav_stream *s, miniav_slot *slot, ID3D11DeviceContext *ctx, ID3D11Texture2D *staging, uint32_t width,
                            size_t frame_bytes) {
    ID3D11DeviceContext_Unmap(ctx, (ID3D11Resource *)staging, 0);
    atomic_fetch_add(&s->copies, 1);
    MiniAVBuffer *b = &slot->buffer;
    b->content_type = MINIAV_BUFFER_CONTENT_TYPE_CPU;
    b->data.video.num_planes = 1;
    b->data.video.planes[0] = slot->mem;
    b->data.video.stride_bytes[0] = width * 4;
    b->data.video.plane_size_bytes[0] = frame_bytes;
    b->data_size_bytes = frame_bytes;
}

void miniav_d3d11_deliver(miniav_stream *s, miniav_slot *slot, int64_t ts, uint32_t width, uint32_t height) {
    MiniAVBuffer *b = &slot->buffer;
    b->type = MINIAV_BUFFER_TYPE_VIDEO;
    b->timestamp_us = ts;
    b->data.video.width = width;
    b->data.video.height = height;
    b->data.video.pixel_format = s->video.pixel_format;
    b->data.video.native_gpu_dmabuf_fd = -1;
    miniav_stream_deliver(s, slot);
}

bool miniav_d3d11_frame_due(miniav_stream *s, bool changed, bool paced, bool skip_unchanged, int64_t *ts, int64_t *last_ts) {
    if (!changed && (!paced || skip_unchanged)) {
        if (paced) atomic_fetch_add(&s->skipped, 1);
        return false;
    }
    if (!changed) *ts = MiniAV_GetTimeUs(); /* the same image again, now */
    if (*ts <= *last_ts) *ts = *last_ts + 1;
    *last_ts = *ts;
    return true;
}

void miniav_d3d11_copy_rows(uint8_t *dst, const uint8_t *src, UINT pitch, uint32_t w, uint32_t h, MiniAVPixelFormat fmt) {
    bool swap = fmt == MINIAV_PIXEL_FORMAT_RGBA32 || fmt == MINIAV_PIXEL_FORMAT_RGBX32;
    for (uint32_t y = 0; y < h; y++) {
        uint32_t *d = (uint32_t *)(dst + (size_t)y * w * 4);
        const uint32_t *row = (const uint32_t *)(src + (size_t)y * pitch);
        if (!swap) {
            memcpy(d, row, (size_t)w * 4);
            if (fmt == MINIAV_PIXEL_FORMAT_BGRA32)
                for (uint32_t x = 0; x < w; x++) d[x] |= 0xff000000u;
            continue;
        }
        for (uint32_t x = 0; x < w; x++) {
            uint32_t v = row[x];
            d[x] = (v & 0x0000ff00u) | ((v >> 16) & 0xffu) | ((v & 0xffu) << 16) | 0xff000000u;
        }
    }
}
