// The PulseAudio server the audio bench records from: the one at PULSE_SERVER, or
// the project's rig (scripts/rigs/pulse.sh, RIG_DIR=/tmp/miniav-bench-pulse) started
// for the run and stopped at its end. Also finds the server's pid (its CPU is
// reported next to each row) when the rig was started here.
import { execFileSync } from 'node:child_process';
import { startRig } from './rig.mjs';

const RIG_DIR = process.env.MINIAV_BENCH_PULSE_RIG_DIR ?? '/tmp/miniav-bench-pulse';

/**
 * @returns {{ server: string, startedRig: boolean, serverPid: number | null, mic: string, micHz: number, stop: () => void }}
 */
export function ensurePulseServer(repoDir) {
  const rig = process.env.PULSE_SERVER ? null : startRig(repoDir, 'pulse', RIG_DIR, 'PULSE_SERVER', 'pulseaudio.pid');
  return {
    server: process.env.PULSE_SERVER,
    startedRig: rig !== null,
    serverPid: rig ? rig.pid : null,
    mic: process.env.MINIAV_RIG_PULSE_MIC || 'miniav_mic',
    micHz: Number(process.env.MINIAV_RIG_PULSE_MIC_HZ || 660),
    micAmplitude: Number(process.env.MINIAV_RIG_PULSE_MIC_AMPLITUDE || 0.5),
    stop: () => rig?.stop(),
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
