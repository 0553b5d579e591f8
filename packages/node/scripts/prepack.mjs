#!/usr/bin/env node
// npm pack/publish: put a copy of the C core beside CMakeLists.txt, so the package
// can build from source outside the monorepo.
import { cpSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const core = resolve(root, '..', '..', 'miniav_c');
const dest = join(root, 'miniav_c');
rmSync(dest, { recursive: true, force: true });
for (const part of ['CMakeLists.txt', 'cmake', 'include', 'src']) cpSync(join(core, part), join(dest, part), { recursive: true });
