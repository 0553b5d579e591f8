#!/usr/bin/env node
// Builds build/Release/miniav.node with CMake, offline.
//   node scripts/build-native.mjs [--debug] [--sanitize]
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdirSync, copyFileSync, renameSync } from 'node:fs';

const require = createRequire(import.meta.url);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const debug = process.argv.includes('--debug');
// --sanitize: AddressSanitizer + UBSan build into build/Sanitize (run node with
// LD_PRELOAD=$(gcc -print-file-name=libasan.so) and MINIAV_NATIVE_BINDING pointing at it).
const sanitize = process.argv.includes('--sanitize');
const flavour = sanitize ? 'Sanitize' : 'Release';
const buildDir = join(root, 'build', sanitize ? 'cmake-sanitize' : 'cmake');
const headers = require('node-api-headers').include_dir;
const addonApi = dirname(require.resolve('node-addon-api/package.json'));

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.error?.code === 'ENOENT') {
    console.error(`miniav: '${cmd}' was not found. Building @miniav/node from source needs CMake >= 3.16 and a C/C++ compiler ` +
      `(Debian/Ubuntu: apt-get install cmake g++).`);
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
}

mkdirSync(buildDir, { recursive: true });
run('cmake', ['-S', root, '-B', buildDir, `-DCMAKE_BUILD_TYPE=${debug || sanitize ? 'Debug' : 'Release'}`,
  `-DNODE_API_INCLUDE_DIR=${headers}`, `-DNODE_ADDON_API_DIR=${addonApi}`, `-DMINIAV_SANITIZE=${sanitize ? 'ON' : 'OFF'}`]);
run('cmake', ['--build', buildDir, '--parallel', '2']);
mkdirSync(join(root, 'build', flavour), { recursive: true });
// Copy beside it, then rename over it: overwriting the file in place would change the code
// under any process that has the addon loaded (a running app or benchmark dies with SIGSEGV).
const target = join(root, 'build', flavour, 'miniav.node');
copyFileSync(join(buildDir, 'miniav.node'), `${target}.${process.pid}.tmp`);
renameSync(`${target}.${process.pid}.tmp`, target);
console.log('miniav: built', target);
