// Runs the MiniAV case in its own process so the parent can set env vars the
// native module reads at load time (MINIAV_FORCE_COPY=1). Prints one JSON line.
import { measureMiniAV } from './lib/miniav-case.mjs';

const seconds = Number(process.argv[2] ?? 5);
const result = await measureMiniAV(seconds);
process.stdout.write(JSON.stringify(result) + '\n');
