// The example camera → WebGPU compute (Sobel edges) → canvas renders the edges of the Y4M's
// picture, checked on a screenshot. Headless Chromium without a GPU runs WebGPU on
// SwiftShader (--use-webgpu-adapter=swiftshader); MINIAV_WEBGPU_ADAPTER=default uses the
// machine's GPU instead. Where no adapter exists the test says so and skips (fails under
// MINIAV_REQUIRE_RIGS=1 only when the Chromium rig itself is missing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, openPage, serve, bundlePage, PAGE_HTML, writeY4M, tempDir, rigMissing, decodePng } from './helpers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const missing = rigMissing();
const useDefault = process.env.MINIAV_WEBGPU_ADAPTER === 'default';
const GPU_FLAGS = useDefault ? ['--enable-unsafe-webgpu', '--ignore-gpu-blocklist', '--enable-features=Vulkan', '--use-angle=vulkan'] : ['--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-webgpu-adapter=swiftshader', '--use-angle=swiftshader', '--use-gl=angle', '--enable-features=Vulkan', '--use-vulkan=swiftshader'];

test('camera → WebGPU compute shader → canvas shows the edges of the camera picture', { skip: missing ?? false }, async (t) => {
  const dir = tempDir();
  writeY4M(join(dir, 'camera.y4m'));
  const server = await serve({ '/': ['text/html', PAGE_HTML], '/bundle.js': ['text/javascript', await bundlePage(join(here, 'webgpu-entry.js'))] });
  const browser = await launch({ video: join(dir, 'camera.y4m'), extra: GPU_FLAGS });
  try {
    const { page } = await openPage(browser, server.url);
    const r = await page.evaluate(async () => {
      const canvas = document.createElement('canvas');
      canvas.style.cssText = 'position:fixed;left:0;top:0;width:640px;height:480px';
      document.body.style.margin = '0';
      document.body.append(canvas);
      let run;
      try {
        run = await window.startEdges(canvas, { width: 640, height: 480 });
      } catch (e) {
        return { skip: e.message };
      }
      window.edgesRun = run;
      const t0 = performance.now();
      while (run.state.frames < 10 && !run.state.error && performance.now() - t0 < 20000) await new Promise((res) => setTimeout(res, 50));
      return { frames: run.state.frames, error: run.state.error, adapter: run.state.adapter, path: run.state.path, size: [canvas.width, canvas.height] };
    });
    if (r.skip) {
      t.skip(`WebGPU did not start: ${r.skip}`);
      return;
    }
    if (useDefault && r.adapter.architecture === 'swiftshader') {
      t.skip(`MINIAV_WEBGPU_ADAPTER=default, but Chromium offers no GPU adapter here, only SwiftShader (${r.path})`);
      return;
    }
    t.diagnostic(`adapter: ${JSON.stringify(r.adapter)}; frames reach the shader by ${r.path}`);
    assert.equal(r.error, null);
    assert.ok(r.frames >= 10, `${r.frames} frames drawn`);
    assert.deepEqual(r.size, [640, 480]);
    const png = await decodePng(await page.screenshot({ clip: { x: 0, y: 0, width: 640, height: 480 } }));
    const px = (x, y) => png.data[(y * png.width + x) * 4];
    await page.evaluate(() => window.edgesRun.stop());
    // The picture: grey left half, red right half (a vertical edge at x = 320), flat inside.
    for (const y of [100, 240, 400]) {
      assert.ok(Math.max(px(319, y), px(320, y)) > 120, `edge at x=320, y=${y}: ${px(319, y)}, ${px(320, y)}`);
      assert.ok(px(160, y) < 24 && px(480, y) < 24, `flat areas at y=${y}: ${px(160, y)}, ${px(480, y)}`);
    }
  } finally {
    await browser.close();
    await server.close();
  }
});
