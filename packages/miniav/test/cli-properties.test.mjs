// `miniav properties` and `miniav set` against the test pattern, which has no properties
// (the V4L2 side of the property API is tested in packages/node/test/v4l2.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/miniav.js', import.meta.url));

function miniav(args) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60000 });
}

test('properties of a camera without any: a sentence, or [] as JSON', () => {
  const r = miniav(['properties', 'test-pattern']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /camera 'test-pattern' has no properties/);
  const json = miniav(['properties', 'test-pattern', '--json']);
  assert.equal(json.status, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), []);
});

test('set: the library error for a missing property, usage errors for missing arguments', () => {
  const r = miniav(['set', 'test-pattern', 'brightness', '10']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no property 'brightness'.*MINIAV_ERROR_NOT_SUPPORTED/);
  const auto = miniav(['set', 'test-pattern', 'gain', 'auto']);
  assert.equal(auto.status, 1);
  assert.match(auto.stderr, /MINIAV_ERROR_NOT_SUPPORTED/);
  assert.equal(miniav(['set', 'test-pattern', 'brightness']).status, 2);
  assert.equal(miniav(['properties']).status, 2);
  const missing = miniav(['properties', 'no-such-camera']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /MINIAV_ERROR_DEVICE_NOT_FOUND/);
});

test('formats shows a FOURCC column only where the backend has fourccs; capture validates --fourcc', () => {
  const r = miniav(['formats', 'camera', 'test-pattern']);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /FOURCC/);
  const bad = miniav(['capture', 'camera', 'test-pattern', '--fourcc', 'toolong', '--frames', '1', '-o', '/dev/null.raw']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /MINIAV_ERROR_INVALID_ARG/);
});
