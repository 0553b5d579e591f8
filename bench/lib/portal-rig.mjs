// The portal bench's rig and the CPU of everything around the measured consumer: the
// compositor (sway) and xdg-desktop-portal-wlr, which copy each screen frame on the sending
// side, the PipeWire daemon, the fake camera, and the whole machine (/proc/stat), so a row can
// say how busy the rest of the machine was while it ran.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPid, startRig } from './rig.mjs';
import { processCpuMs } from './v4l2-common.mjs';

export const RIG_DIR = process.env.MINIAV_BENCH_PORTAL_RIG_DIR ?? '/tmp/miniav-bench-portal';

/**
 * Starts scripts/rigs/portal.sh with RIG_DIR (it must be reachable by user nobody, so /tmp),
 * puts its exports into process.env (WAYLAND_DISPLAY, DBUS_SESSION_BUS_ADDRESS,
 * PIPEWIRE_RUNTIME_DIR, MINIAV_RIG_PORTAL_*), and returns stop().
 */
export function startPortalRig(repoDir) {
  return startRig(repoDir, 'portal', RIG_DIR, 'WAYLAND_DISPLAY', 'sway.pid');
}

/** The rig's daemons by role; xdpw's pid is read each time (the bus may have restarted it). */
export function rigPids() {
  return {
    sway: readPid(join(RIG_DIR, 'sway.pid')),
    xdpw: readPid(join(RIG_DIR, 'xdpw.pid')),
    pipewire: readPid(join(RIG_DIR, 'pipewire/pipewire.pid')),
    wireplumber: readPid(join(RIG_DIR, 'pipewire/wireplumber.pid')),
    xdp: readPid(join(RIG_DIR, 'xdp.pid')),
  };
}

function cpuOf(pid) {
  if (!pid || !existsSync(`/proc/${pid}`)) return null;
  try {
    return processCpuMs(pid);
  } catch {
    return null;
  }
}

/** Busy and total jiffies of the whole machine (first line of /proc/stat). */
function machineJiffies() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
  const idle = f[3] + f[4];
  return { busy: total - idle, total };
}

/**
 * A snapshot of the CPU ms of the rig's daemons (and of `extra` pids, e.g. the fake camera)
 * and of the machine; diff two with sourcesDiff().
 * @param {Record<string, number | null>} [extra]
 */
export function sourcesSnapshot(extra = {}) {
  const pids = { ...rigPids(), ...extra };
  const cpu = {};
  for (const [k, pid] of Object.entries(pids)) cpu[k] = { pid, ms: cpuOf(pid) };
  return { cpu, machine: machineJiffies(), at: performance.now() };
}

/** ms of CPU per daemon between two snapshots (null where it was not there both times or changed pid). */
export function sourcesDiff(a, b) {
  const out = {};
  for (const [k, v] of Object.entries(b.cpu)) {
    const w = a.cpu[k];
    out[k] = w && w.pid === v.pid && w.ms !== null && v.ms !== null ? v.ms - w.ms : null;
  }
  // /proc/stat counts in USER_HZ (100 on Linux): jiffies -> ms.
  const machineBusyMs = (b.machine.busy - a.machine.busy) * 10;
  return { ms: out, machineBusyMs, wallMs: b.at - a.at };
}
