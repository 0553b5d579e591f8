// The X server the X11 bench captures: the one at DISPLAY, or a private Xvfb
// (scripts/rigs/x11.sh, 1920x1080x24, solid root) started for the run and
// stopped at its end. Also finds the X server's pid, because in X11 capture the
// server does the pixel copy and its CPU belongs to every row.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { readPid, startRig } from './rig.mjs';

const RIG_DIR = process.env.MINIAV_BENCH_X11_RIG_DIR ?? '/tmp/miniav-bench-x11';

/**
 * Uses DISPLAY when set; otherwise starts the rig and exports its environment into
 * process.env (the native addon and ffmpeg read DISPLAY from there).
 * @returns {{ display: string, startedRig: boolean, xPid: number | null, stop: () => void }}
 */
export function ensureXServer(repoDir) {
  const rig = process.env.DISPLAY ? null : startRig(repoDir, 'x11', RIG_DIR, 'DISPLAY', 'xvfb.pid');
  return {
    display: process.env.DISPLAY,
    startedRig: rig !== null,
    xPid: rig ? rig.pid : localServerPid(process.env.DISPLAY),
    stop: () => rig?.stop(),
  };
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
