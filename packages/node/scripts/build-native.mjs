#!/usr/bin/env node
// Builds build/Release/miniav.node with CMake, offline.
//   node scripts/build-native.mjs [--debug] [--sanitize] [--target win32-x64]
// --target win32-x64 cross-compiles with mingw-w64 (Debian: gcc-mingw-w64-x86-64
// g++-mingw-w64-x86-64) into prebuilds/win32-x64/miniav.node, the file Windows loads.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdirSync, copyFileSync, renameSync, existsSync } from 'node:fs';

const require = createRequire(import.meta.url);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const debug = process.argv.includes('--debug');
// --sanitize: AddressSanitizer + UBSan build into build/Sanitize (run node with
// LD_PRELOAD=$(gcc -print-file-name=libasan.so) and MINIAV_NATIVE_BINDING pointing at it).
const sanitize = process.argv.includes('--sanitize');
const targetArg = process.argv.indexOf('--target');
const target = targetArg > 0 ? process.argv[targetArg + 1] : '';
if (target && target !== 'win32-x64') {
  console.error(`miniav: --target ${target}: only win32-x64 can be cross-compiled here`);
  process.exit(2);
}
const flavour = sanitize ? 'Sanitize' : 'Release';
const buildDir = join(root, 'build', target ? `cmake-${target}` : sanitize ? 'cmake-sanitize' : 'cmake');
// The C core's toolchain file: beside the package when published, two levels up in the repo.
const toolchain = [join(root, 'miniav_c'), join(root, '..', '..', 'miniav_c')]
  .map((dir) => join(dir, 'cmake', 'mingw-w64-x86_64.cmake')).find((f) => existsSync(f));
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
  `-DNODE_API_INCLUDE_DIR=${headers}`, `-DNODE_ADDON_API_DIR=${addonApi}`, `-DMINIAV_SANITIZE=${sanitize ? 'ON' : 'OFF'}`,
  ...(target ? [`-DCMAKE_TOOLCHAIN_FILE=${toolchain}`] : [])]);
run('cmake', ['--build', buildDir, '--parallel', '2']);
const outDir = target ? join(root, 'prebuilds', target) : join(root, 'build', flavour);
mkdirSync(outDir, { recursive: true });
// Copy beside it, then rename over it: overwriting the file in place would change the code
// under any process that has the addon loaded (a running app or benchmark dies with SIGSEGV).
const out = join(outDir, 'miniav.node');
copyFileSync(join(buildDir, 'miniav.node'), `${out}.${process.pid}.tmp`);
renameSync(`${out}.${process.pid}.tmp`, out);
console.log('miniav: built', out);
