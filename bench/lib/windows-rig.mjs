// The Linux side of bench/windows.mjs: the Wine rig (scripts/rigs/wine.sh: Xvfb 1920x1080
// + PulseAudio + a Wine 8 prefix of its own), and the CPU of the Linux processes that make
// up a Windows capture under Wine, read from /proc/<pid>/stat (all threads, 10 ms ticks):
//   - the case's Windows processes (node.exe, ffmpeg.exe, bench_gdi_raw.exe: under Wine each
//     is one Linux process, the pid spawn() returns for the one started from here);
//   - wineserver (every GDI call that needs a window-system object, synchronisation, ...);
//   - Xvfb (Wine's GDI driver reads the screen from the X server: winex11.drv);
//   - the rig's other Wine processes (services.exe, winedevice.exe, explorer.exe ...).
// The rig's processes are told apart from other Wine prefixes on the machine by
// WINEPREFIX in /proc/<pid>/environ.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { procCpuMs } from './measure.mjs';

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
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
 * Starts the Wine rig in rigDir unless it already runs there; returns its environment (for
 * Wine children), its pids, and stop() (a no-op for a rig this run did not start).
 */
export function startWineRig(repoDir, rigDir) {
  const env = { ...process.env, MINIAV_RIG_WINE_DIR: rigDir };
  const script = join(repoDir, 'scripts/rigs/wine.sh');
  const xvfbPidFile = join(rigDir, 'x11/xvfb.pid');
  const wasRunning = existsSync(join(rigDir, 'started')) && pidAlive(readPid(xvfbPidFile) ?? -1);
  // wine.sh prints `export ...` lines; evaluate them in bash and read the environment back.
  const out = execFileSync('bash', ['-c', 'eval "$(bash "$1" start)" && env -0', 'bash', script], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 180000,
    maxBuffer: 1 << 22,
  });
  const rigEnv = {};
  for (const kv of out.split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) rigEnv[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const rig = {
    env: rigEnv,
    dir: rigDir,
    startedRig: !wasRunning,
    prefix: rigEnv.WINEPREFIX,
    wine: rigEnv.WINELOADER,
    display: rigEnv.DISPLAY,
    xPid: readPid(xvfbPidFile),
    stopped: false,
    stop() {
      if (this.stopped || !this.startedRig) return;
      this.stopped = true;
      try {
        execFileSync('bash', [script, 'stop'], { env, stdio: 'ignore', timeout: 60000 });
      } catch {
        // best effort: the exit path
      }
    },
  };
  return rig;
}

function comm(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  } catch {
    return null;
  }
}

/** Pids of the processes whose WINEPREFIX is this rig's, with their command names. */
export function rigWineProcesses(prefix) {
  const want = `WINEPREFIX=${prefix}`;
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let environ;
    try {
      environ = readFileSync(`/proc/${name}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (!environ.split('\0').includes(want)) continue;
    const c = comm(name);
    if (c !== null) out.push({ pid: Number(name), comm: c });
  }
  return out;
}

/**
 * A CPU sampler for one case: sample() reads every process once; diff(a, b) gives ms per
 * group between two samples. Groups: 'client' (pids given, plus rig processes named in
 * clientNames), 'wineserver', 'xvfb', 'wineOther' (the rig's other Wine processes).
 * Processes found at the first sample are followed; one gone by the second is counted as 0
 * more (its last ticks are lost: it should not happen while a window is open).
 */
export function cpuSampler(rig, { clientPids = [], clientNames = [] } = {}) {
  let procs = null;
  function group(p) {
    if (clientPids.includes(p.pid) || clientNames.includes(p.comm)) return 'client';
    if (p.comm.startsWith('wineserver')) return 'wineserver';
    return 'wineOther';
  }
  return {
    sample() {
      if (!procs) {
        procs = rigWineProcesses(rig.prefix).filter((p) => p.pid !== rig.xPid).map((p) => ({ ...p, group: group(p) }));
        for (const pid of clientPids) if (!procs.some((p) => p.pid === pid)) procs.push({ pid, comm: comm(pid) ?? '?', group: 'client' });
        if (rig.xPid) procs.push({ pid: rig.xPid, comm: 'Xvfb', group: 'xvfb' });
      }
      const s = { t: performance.now(), ms: {} };
      for (const p of procs) {
        try {
          s.ms[p.pid] = procCpuMs(p.pid);
        } catch {
          s.ms[p.pid] = null;
        }
      }
      return s;
    },
    diff(a, b) {
      const out = { wallMs: b.t - a.t, client: 0, wineserver: 0, xvfb: 0, wineOther: 0, byProcess: {}, byName: {} };
      for (const p of procs) {
        const d = a.ms[p.pid] === null || b.ms[p.pid] === null || a.ms[p.pid] === undefined ? 0 : b.ms[p.pid] - a.ms[p.pid];
        out[p.group] += d;
        if (d > 0) out.byProcess[`${p.comm}:${p.pid}`] = Math.round(d);
        out.byName[p.comm] = (out.byName[p.comm] ?? 0) + d;
      }
      return out;
    },
    processes: () => procs,
  };
}
