// The PulseAudio server the audio bench records from: the one at PULSE_SERVER, or
// the project's rig (scripts/rigs/pulse.sh, RIG_DIR=/tmp/miniav-bench-pulse) started
// for the run and stopped at its end. Also finds the server's pid (its CPU is
// reported next to each row) when the rig was started here.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const RIG_DIR = process.env.MINIAV_BENCH_PULSE_RIG_DIR ?? '/tmp/miniav-bench-pulse';

/**
 * @returns {{ server: string, startedRig: boolean, serverPid: number | null, mic: string, micHz: number, stop: () => void }}
 */
export function ensurePulseServer(repoDir) {
  const script = join(repoDir, 'scripts/rigs/pulse.sh');
  let startedRig = false;
  let serverPid = null;
  if (!process.env.PULSE_SERVER) {
    const out = execFileSync('bash', [script, 'start'], {
      env: { ...process.env, RIG_DIR },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30000,
    });
    for (const line of out.split('\n')) applyExports(line);
    if (!process.env.PULSE_SERVER) throw new Error(`pulse rig printed no PULSE_SERVER: ${out}`);
    startedRig = true;
    serverPid = readPid(join(RIG_DIR, 'pulseaudio.pid'));
  }
  let stopped = false;
  return {
    server: process.env.PULSE_SERVER,
    startedRig,
    serverPid,
    mic: process.env.MINIAV_RIG_PULSE_MIC || 'miniav_mic',
    micHz: Number(process.env.MINIAV_RIG_PULSE_MIC_HZ || 660),
    micAmplitude: Number(process.env.MINIAV_RIG_PULSE_MIC_AMPLITUDE || 0.5),
    /** Synchronous, so it can run from an 'exit' handler. */
    stop() {
      if (!startedRig || stopped) return;
      stopped = true;
      try {
        execFileSync('bash', [script, 'stop'], { env: { ...process.env, RIG_DIR }, stdio: 'ignore', timeout: 15000 });
      } catch {
        if (serverPid) {
          try {
            process.kill(serverPid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      }
    },
  };
}

/** The server's name and version from `pactl info` ("pulseaudio 16.1", "PulseAudio (on PipeWire 0.3.65) 15.0.0"). */
export function serverName() {
  try {
    const info = execFileSync('pactl', ['info'], { encoding: 'utf8', timeout: 5000, env: { ...process.env, LC_ALL: 'C' } });
    const name = /^Server Name:\s*(.*)$/m.exec(info)?.[1] ?? '?';
    const version = /^Server Version:\s*(.*)$/m.exec(info)?.[1] ?? '?';
    return `${name} ${version}`;
  } catch {
    return 'unknown';
  }
}

// Lines like: export PULSE_SERVER=unix:/x  /  export A=1 B=2
function applyExports(line) {
  const m = /^export\s+(.*)$/.exec(line.trim());
  if (!m) return;
  for (const pair of m[1].split(/\s+/)) {
    const eq = pair.indexOf('=');
    if (eq > 0) process.env[pair.slice(0, eq)] = pair.slice(eq + 1).replace(/^"|"$/g, '');
  }
}

function readPid(file) {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || null;
  } catch {
    return null;
  }
}
