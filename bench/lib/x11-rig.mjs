// The X server the X11 bench captures: the one at DISPLAY, or a private Xvfb
// (scripts/rigs/x11.sh, 1920x1080x24, solid root) started for the run and
// stopped at its end. Also finds the X server's pid, because in X11 capture the
// server does the pixel copy and its CPU belongs to every row.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

const RIG_DIR = process.env.MINIAV_BENCH_X11_RIG_DIR ?? '/tmp/miniav-bench-x11';

/**
 * Uses DISPLAY when set; otherwise starts the rig and exports its environment into
 * process.env (the native addon and ffmpeg read DISPLAY from there).
 * @returns {{ display: string, startedRig: boolean, xPid: number | null, stop: () => void }}
 */
export function ensureXServer(repoDir) {
  const script = join(repoDir, 'scripts/rigs/x11.sh');
  let startedRig = false;
  let xPid = null;
  if (!process.env.DISPLAY) {
    const out = execFileSync('bash', [script, 'start'], {
      env: { ...process.env, RIG_DIR },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30000,
    });
    for (const line of out.split('\n')) applyExports(line);
    if (!process.env.DISPLAY) throw new Error(`x11 rig printed no DISPLAY: ${out}`);
    startedRig = true;
    xPid = readPid(join(RIG_DIR, 'xvfb.pid'));
  } else {
    xPid = localServerPid(process.env.DISPLAY);
  }
  let stopped = false;
  return {
    display: process.env.DISPLAY,
    startedRig,
    xPid,
    /** Synchronous, so it can run from an 'exit' handler. */
    stop() {
      if (!startedRig || stopped) return;
      stopped = true;
      try {
        execFileSync('bash', [script, 'stop'], { env: { ...process.env, RIG_DIR }, stdio: 'ignore', timeout: 10000 });
      } catch {
        if (xPid) {
          try {
            process.kill(xPid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      }
    },
  };
}

// Lines like: export DISPLAY=:1  /  export A=1 B=2  /  export X="${X:-disabled:}"
function applyExports(line) {
  const m = /^export\s+(.*)$/.exec(line.trim());
  if (!m) return;
  for (const assign of m[1].split(/\s+(?=[A-Z_][A-Z0-9_]*=)/)) {
    const eq = assign.indexOf('=');
    if (eq < 0) continue;
    const name = assign.slice(0, eq);
    let value = assign.slice(eq + 1).replace(/^"|"$/g, '');
    const dflt = /^\$\{(\w+):-(.*)\}$/.exec(value);
    if (dflt) value = process.env[dflt[1]] || dflt[2];
    process.env[name] = value;
  }
}

function readPid(file) {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * The pid of a local X server: from its lock file (/tmp/.X<n>-lock), else the process
 * holding its listening socket (/tmp/.X11-unix/X<n>, Xvfb -displayfd writes no lock
 * file). Null when neither works (remote display, another user's server).
 */
function localServerPid(display) {
  const m = /^(?:unix)?:(\d+)(?:\.\d+)?$/.exec(display);
  if (!m) return null;
  const fromLock = readPid(`/tmp/.X${m[1]}-lock`);
  if (fromLock) return fromLock;
  try {
    const path = `/tmp/.X11-unix/X${m[1]}`;
    const inodes = new Set();
    for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // Num RefCount Protocol Flags Type St Inode Path; flags 00010000 = listening
      if (f.length >= 8 && (f[7] === path || f[7] === `@${path}`) && f[3] === '00010000') inodes.add(`socket:[${f[6]}]`);
    }
    if (inodes.size === 0) return null;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let fds;
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        try {
          if (inodes.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return Number(pid);
        } catch {
          /* gone or not ours */
        }
      }
    }
  } catch {
    /* no /proc/net/unix */
  }
  return null;
}
