// `miniav` in a bundler: the "browser" export condition selects @miniav/web, and nothing of
// Node (built-ins, the addon, @miniav/node) leaks into a browser bundle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { repoRoot } from './helpers.mjs';

let esbuild = null;
try {
  esbuild = await import('esbuild');
} catch {
  if (process.env.MINIAV_REQUIRE_RIGS) throw new Error('esbuild is required (npm install at the repository root)');
}

async function bundle(source, platform) {
  const r = await esbuild.build({
    stdin: { contents: source, resolveDir: new URL('.', import.meta.url).pathname, loader: 'js' },
    absWorkingDir: repoRoot, bundle: true, format: 'esm', platform, write: false, metafile: true, logLevel: 'silent',
  });
  return { text: r.outputFiles[0].text, inputs: Object.keys(r.metafile.inputs) };
}

test("a browser bundle of 'miniav' is @miniav/web, with no Node built-ins", { skip: esbuild ? false : 'esbuild is missing' }, async () => {
  const { text, inputs } = await bundle("import miniav, { camera, MiniAVError } from 'miniav';\nwindow.x = [miniav, camera, MiniAVError];\n", 'browser');
  assert.ok(inputs.some((i) => i.includes('packages/web/dist/')), 'the web implementation is in');
  assert.ok(!inputs.some((i) => i.includes('packages/node/')), `no @miniav/node: ${inputs.filter((i) => i.includes('packages/node/'))}`);
  assert.doesNotMatch(text, /\bfrom\s*["']node:|require\(["'](node:)?(fs|path|os|module|child_process|worker_threads)["']\)|process\.versions|\.node["']/);
  assert.match(text, /getUserMedia/);
});

test("in Node, 'miniav' still resolves to @miniav/node", { skip: esbuild ? false : 'esbuild is missing' }, async () => {
  const r = await esbuild.build({
    stdin: { contents: "export * from 'miniav';", resolveDir: new URL('.', import.meta.url).pathname, loader: 'js' },
    absWorkingDir: repoRoot, bundle: true, platform: 'node', format: 'esm', write: false, metafile: true, logLevel: 'silent', external: ['@miniav/node', '@miniav/web'],
  });
  const inputs = Object.keys(r.metafile.inputs);
  assert.ok(inputs.some((i) => i.includes('packages/miniav/dist/index.js')), inputs.join(', '));
  assert.match(r.outputFiles[0].text, /@miniav\/node/);
  assert.doesNotMatch(r.outputFiles[0].text, /@miniav\/web/);
});
