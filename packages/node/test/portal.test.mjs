// Wayland screens through the xdg-desktop-portal from JavaScript, against the project's portal
// rig (scripts/rigs/portal.sh: headless sway, one output of a solid known colour).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screen } from '../dist/index.js';
import { closeLater, collect } from './helpers.mjs';

const colour = process.env.MINIAV_RIG_PORTAL_COLOR;
const why = colour ? '' : 'no MINIAV_RIG_PORTAL_COLOR: start scripts/rigs/portal.sh';
if (why && process.env.MINIAV_REQUIRE_PORTAL) throw new Error(`portal rig required: ${why}`);
const portalTest = (name, fn) => test(name, why ? { skip: why } : {}, fn);

function assertBackground(frame) {
  const [w, h] = process.env.MINIAV_RIG_PORTAL_SIZE.split('x').map(Number);
  const rgb = parseInt(colour, 16);
  const { width, height, pixelFormat, planes } = frame.video;
  assert.deepEqual([width, height, pixelFormat], [w, h, 'bgrx']);
  const { data, stride } = planes[0];
  for (let k = 1; k < 8; k++) {
    const at = Math.floor((height * k) / 8) * stride + Math.floor((width * k) / 8) * 4;
    assert.deepEqual([data[at + 2], data[at + 1], data[at]], [(rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255], `pixel ${k}`);
  }
}

portalTest('on a Wayland session the portal shares the screen, and its restore token opens it again', async (t) => {
  const displays = await screen.enumerateDisplays();
  assert.equal(displays[0]?.id, 'portal:monitor');
  assert.equal(displays[0].backend, 'portal');
  const first = closeLater(t, await screen.open('portal:monitor', { pixelFormat: 'bgrx' }));
  await first.start();
  assert.equal(first.backend, 'portal');
  const token = first.restoreToken;
  assert.equal(typeof token, 'string');
  const [frame] = await collect(first, 1, 10000);
  assertBackground(frame);
  frame.release();
  await first.close();

  const again = closeLater(t, await screen.open('portal:monitor', { pixelFormat: 'bgrx', restoreToken: token }));
  await again.start();
  const [next] = await collect(again, 1, 10000);
  assertBackground(next);
  next.release();
});

portalTest('portal misuse gives clear errors', async () => {
  await assert.rejects(screen.open('portal:nothing'), (e) => e.code === 'MINIAV_ERROR_DEVICE_NOT_FOUND');
  await assert.rejects(screen.open({ region: { display: 'portal:monitor', x: 0, y: 0, width: 10, height: 10 } }), (e) => e.code === 'MINIAV_ERROR_NOT_SUPPORTED');
  await assert.rejects(screen.open('portal:monitor', { restoreToken: 42 }), (e) => e.code === 'MINIAV_ERROR_INVALID_ARG');
});
