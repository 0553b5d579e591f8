#!/usr/bin/env node
// npm install hook: use a prebuilt binary when one matches this platform, else build
// from source. In the monorepo the build runs later (npm run build), so skip here.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const prebuild = join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'miniav.node');
if (existsSync(prebuild) || existsSync(join(root, 'build', 'Release', 'miniav.node'))) process.exit(0);
if (existsSync(join(root, '..', '..', 'miniav_c')) && !existsSync(join(root, 'miniav_c'))) process.exit(0); // monorepo checkout
const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { stdio: 'inherit' });
process.exit(r.status ?? 1);
