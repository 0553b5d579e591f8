// Camera → WebGPU compute shader (Sobel edge detection) → canvas, with @miniav/web.
// Each camera frame comes as a VideoFrame (output: 'gpu'): no copy to JavaScript memory;
// the GPU reads it through importExternalTexture, and release() closes it once the GPU
// work that reads it has been submitted.
import { camera } from '@miniav/web';

// `external`: the frame imported as it is (zero copy); otherwise a copy of it in a texture.
const shader = (external) => /* wgsl */ `
@group(0) @binding(0) var src: ${external ? 'texture_external' : 'texture_2d<f32>'};
@group(0) @binding(1) var dst: texture_storage_2d<rgba8unorm, write>;

fn luma(p: vec2i, size: vec2i) -> f32 {
  let c = textureLoad(src, clamp(p, vec2i(0), size - 1)${external ? '' : ', 0'}).rgb;
  return dot(c, vec3f(0.299, 0.587, 0.114));
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let size = vec2i(textureDimensions(dst));
  let p = vec2i(id.xy);
  if (p.x >= size.x || p.y >= size.y) { return; }
  let gx = luma(p + vec2i(1, -1), size) + 2.0 * luma(p + vec2i(1, 0), size) + luma(p + vec2i(1, 1), size)
         - luma(p + vec2i(-1, -1), size) - 2.0 * luma(p + vec2i(-1, 0), size) - luma(p + vec2i(-1, 1), size);
  let gy = luma(p + vec2i(-1, 1), size) + 2.0 * luma(p + vec2i(0, 1), size) + luma(p + vec2i(1, 1), size)
         - luma(p + vec2i(-1, -1), size) - 2.0 * luma(p + vec2i(0, -1), size) - luma(p + vec2i(1, -1), size);
  let e = clamp(length(vec2f(gx, gy)), 0.0, 1.0);
  textureStore(dst, p, vec4f(e, e, e, 1.0));
}`;

/**
 * Shows the edges of the camera's picture in `canvas` until `stop()`. Resolves once running;
 * `frames` counts the frames drawn. Throws (with a reason) where WebGPU has no adapter.
 */
export async function startEdges(canvas, { deviceId, width = 640, height = 480 } = {}) {
  if (!navigator.gpu) throw new Error('WebGPU is not available in this browser (navigator.gpu is missing)');
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('WebGPU has no adapter here (no GPU, or the browser blocks it)');
  const device = await adapter.requestDevice();
  const id = deviceId ?? (await camera.enumerateDevices())[0]?.id;
  if (id === undefined) throw new Error('no camera');
  const cam = await camera.open(id, { width, height, output: 'gpu' });
  canvas.width = cam.format.width;
  canvas.height = cam.format.height;
  const context = canvas.getContext('webgpu');
  // Storage writes straight into the canvas texture: rgba8unorm allows it without extensions.
  context.configure({ device, format: 'rgba8unorm', usage: GPUTextureUsage.STORAGE_BINDING, alphaMode: 'opaque' });
  const pipelineFor = (external) => device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code: shader(external) }), entryPoint: 'main' } });
  const pipelines = { true: pipelineFor(true), false: pipelineFor(false) };
  // Where the browser cannot import a frame (a CPU-memory frame on some adapters, e.g.
  // SwiftShader), it is copied into a texture once instead: copyExternalImageToTexture.
  let imported = true;
  let copyTexture = null;
  const source = (frame) => {
    if (imported) {
      try {
        return device.importExternalTexture({ source: frame.videoFrame });
      } catch (e) {
        imported = false;
        state.path = `copyExternalImageToTexture (importExternalTexture failed: ${e.message})`;
      }
    }
    const { width: w, height: h } = frame.video;
    if (!copyTexture || copyTexture.width !== w || copyTexture.height !== h) {
      copyTexture?.destroy();
      copyTexture = device.createTexture({ size: [w, h], format: 'rgba8unorm', usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST | GPUTextureUsage.RENDER_ATTACHMENT });
    }
    device.queue.copyExternalImageToTexture({ source: frame.videoFrame }, { texture: copyTexture }, [w, h]);
    return copyTexture.createView();
  };
  const state = { frames: 0, path: 'importExternalTexture', adapter: adapter.info ? { vendor: adapter.info.vendor, architecture: adapter.info.architecture } : {}, error: null };
  let running = true;
  const loop = (async () => {
    for await (const frame of cam.frames()) {
      if (!running) {
        frame.release();
        break;
      }
      const texture = context.getCurrentTexture();
      if (texture.width !== frame.video.width || texture.height !== frame.video.height) {
        canvas.width = frame.video.width;
        canvas.height = frame.video.height;
      }
      const resource = source(frame);
      const pipeline = pipelines[imported];
      const bind = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource },
          { binding: 1, resource: context.getCurrentTexture().createView() },
        ],
      });
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(Math.ceil(canvas.width / 8), Math.ceil(canvas.height / 8));
      pass.end();
      device.queue.submit([encoder.finish()]);
      frame.release();
      state.frames++;
    }
  })().catch((e) => {
    state.error = String(e);
  });
  return {
    state,
    stream: cam,
    async stop() {
      running = false;
      await cam.close();
      await loop;
    },
  };
}
