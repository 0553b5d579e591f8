// GStreamer's pipewiresrc reading the same sources as MiniAV:
//  - the portal screen: a small python3-dbus helper (HELPER below, the flow of
//    scripts/rigs/portal/screencast_probe.py) runs its own ScreenCast session (CreateSession,
//    SelectSources monitor, Start, OpenPipeWireRemote), then spawns gst-launch-1.0 with the
//    portal's fd inherited (pipewiresrc fd=<fd> path=<node>) and waits for it; the session
//    lives as long as the helper's D-Bus connection.
//  - a PipeWire camera node: gst-launch-1.0 pipewiresrc target-object=<node name> directly.
// Two sinks:
//  - 'lines': `fakesink silent=false -v` prints one "last-message = chain" line per buffer
//    (stdout line-buffered with stdbuf -oL); the bench counts them as they arrive.
//    CPU: gst-launch only (/proc/<pid>/task/*/schedstat); the bench's reading of the lines is
//    recorded apart (extra.readerCpuMsPerFrame).
//  - 'pipe': `fdsink fd=1`: the raw frames through a pipe into this Node process, re-assembled
//    and touched like MiniAV's. CPU: gst-launch + this process (the reader).
// The helper itself waits in wait() and is in no row.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { GapRecorder, percentileOfSorted, touch, round, selfCpuMs } from './measure.mjs';
import { processCpuMs } from './v4l2-common.mjs';
import { sourcesDiff, sourcesSnapshot } from './portal-rig.mjs';
import { frameReader, lineReader } from './pipes.mjs';

const PYTHON = process.env.MINIAV_BENCH_PYTHON ?? '/usr/bin/python3';
const GST_LAUNCH = process.env.GST_LAUNCH ?? 'gst-launch-1.0';
const FIRST_FRAME_TIMEOUT_MS = 20000;
const EXIT_GRACE_MS = 3000;

// argv[1]: JSON list, the command to spawn; @FD@ and @NODE@ are replaced by the portal's
// PipeWire fd and node id. Reports on stderr as "PORTALHELPER {json}" lines.
const HELPER = String.raw`
import json, os, signal, subprocess, sys, time
import dbus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib
T0 = time.monotonic()
def emit(**kw):
    kw["ms"] = round((time.monotonic() - T0) * 1000, 1)
    sys.stderr.write("PORTALHELPER " + json.dumps(kw) + "\n")
    sys.stderr.flush()
cmd = json.loads(sys.argv[1])
DBusGMainLoop(set_as_default=True)
bus = dbus.SessionBus()
portal = bus.get_object("org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop")
sc = dbus.Interface(portal, "org.freedesktop.portal.ScreenCast")
loop = GLib.MainLoop()
sender = bus.get_unique_name()[1:].replace(".", "_")
serial = [0]
def call(method, *args, options):
    serial[0] += 1
    token = "miniavbench%d_%d" % (os.getpid(), serial[0])
    options["handle_token"] = token
    path = "/org/freedesktop/portal/desktop/request/%s/%s" % (sender, token)
    answer = {}
    def on_response(code, results):
        answer.update(code=int(code), results=results)
        loop.quit()
    match = bus.add_signal_receiver(on_response, "Response", "org.freedesktop.portal.Request", None, path)
    getattr(sc, method)(*args, options)
    timer = GLib.timeout_add_seconds(15, loop.quit)
    loop.run()
    GLib.source_remove(timer)
    match.remove()
    if answer.get("code") != 0:
        emit(error="%s: response %s" % (method, answer.get("code", "none in 15 s")))
        sys.exit(3)
    return answer["results"]
session = call("CreateSession", options={"session_handle_token": "miniavbench%d" % os.getpid()})["session_handle"]
call("SelectSources", dbus.ObjectPath(session), options={"types": dbus.UInt32(1), "multiple": False, "cursor_mode": dbus.UInt32(1)})
started = call("Start", dbus.ObjectPath(session), "", options={})
streams = started.get("streams", [])
if not streams:
    emit(error="Start returned no streams")
    sys.exit(3)
node = int(streams[0][0])
fd = sc.OpenPipeWireRemote(dbus.ObjectPath(session), {}).take()
emit(session=str(session), node=node)
argv = [a.replace("@FD@", str(fd)).replace("@NODE@", str(node)) for a in cmd]
p = subprocess.Popen(argv, pass_fds=(fd,))
os.close(fd)
emit(pid=p.pid, argv=argv)
def forward(sig, frame):
    try:
        p.send_signal(sig)
    except ProcessLookupError:
        pass
signal.signal(signal.SIGTERM, forward)
signal.signal(signal.SIGINT, forward)
rc = p.wait()
emit(exit=rc)
sys.exit(rc if rc >= 0 else 128 - rc)
`;

/** Null when gst-launch-1.0 with pipewiresrc (and, for the portal, python3-dbus) can run; else why not. */
export function gstMissing({ portal }) {
  const quiet = { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000 };
  try {
    execFileSync('gst-inspect-1.0', ['pipewiresrc'], quiet);
  } catch {
    return 'gst-launch-1.0 with pipewiresrc not found: apt-get install --no-install-recommends gstreamer1.0-tools gstreamer1.0-pipewire';
  }
  try {
    execFileSync('stdbuf', ['--version'], quiet);
  } catch {
    return 'stdbuf (coreutils) not found';
  }
  if (portal) {
    if (!existsSync(PYTHON)) return `${PYTHON} not found (Debian's python3 with python3-dbus python3-gi; MINIAV_BENCH_PYTHON=/path)`;
    try {
      execFileSync(PYTHON, ['-c', 'import dbus, dbus.mainloop.glib; from gi.repository import GLib'], quiet);
    } catch {
      return `${PYTHON} lacks python3-dbus / python3-gi (apt-get install python3-dbus python3-gi)`;
    }
  }
  return null;
}

/** gst-launch-1.0 arguments: source element args, caps, and the sink of the mode. */
export function gstArgs({ source, caps, mode }) {
  const sink =
    mode === 'pipe'
      ? ['fdsink', 'fd=1', 'sync=false']
      : ['fakesink', 'silent=false', 'sync=false'];
  return [...(mode === 'pipe' ? ['-q'] : ['-v']), 'pipewiresrc', ...source, 'do-timestamp=true', '!', caps, '!', ...sink];
}

function killPid(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

/**
 * @param {object} o
 * @param {boolean} o.portal through the ScreenCast helper (else gst-launch directly)
 * @param {'lines' | 'pipe'} o.mode
 * @param {string[]} o.gstArgs from gstArgs()
 * @param {number} o.frameBytes bytes of one frame (pipe mode)
 * @param {number} o.stride bytes per row (pipe mode, for touch())
 * @param {number} o.seconds
 * @param {number} o.warmupS
 * @param {Record<string, number>} [o.extraPids] more source-side processes to account (camera)
 * @param {Set} o.children
 * @param {Set<number>} o.pids gst pids the bench must kill at exit (the helper's child)
 */
export function measureGst(o) {
  return new Promise((resolve, reject) => {
    const gstCmd = ['stdbuf', '-oL', GST_LAUNCH, ...o.gstArgs];
    const t0 = performance.now();
    const child = o.portal
      ? spawn(PYTHON, ['-c', HELPER, JSON.stringify(gstCmd)], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(gstCmd[0], gstCmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    o.children.add(child);
    let gstPid = o.portal ? null : child.pid;
    if (gstPid) o.pids.add(gstPid);
    const helper = {};
    let state = 'waiting'; // waiting -> warmup -> measuring -> draining
    let firstFrameMs = null;
    let frames = 0;
    let allFrames = 0;
    const gaps = new GapRecorder();
    const ptsGapsUs = [];
    let lastPtsUs = null;
    let win0 = null;
    let result = null;
    let stderr = '';
    let killTimer = null;

    const gstCpu = () => {
      try {
        return processCpuMs(gstPid);
      } catch {
        return null; // gst-launch is gone
      }
    };
    const snapshot = () => ({
      t: performance.now(),
      gst: gstCpu(),
      self: selfCpuMs(),
      sources: sourcesSnapshot(o.extraPids),
    });

    function onFrame(t, ptsUs) {
      allFrames++;
      if (state === 'waiting') {
        firstFrameMs = t - t0;
        clearTimeout(firstTimer);
        state = 'warmup';
        setTimeout(() => {
          win0 = snapshot();
          state = 'measuring';
          setTimeout(finish, o.seconds * 1000);
        }, o.warmupS * 1000);
      }
      if (state === 'measuring') {
        frames++;
        gaps.mark(t * 1000);
        if (ptsUs !== null && lastPtsUs !== null) ptsGapsUs.push(ptsUs - lastPtsUs);
      }
      lastPtsUs = ptsUs;
    }

    // 'lines': one fakesink "chain" line per buffer; pts (do-timestamp: when pipewiresrc got it).
    let chunkTime = 0; // every line of a chunk arrived when the chunk did
    const chainLines = lineReader((line) => {
      if (!line.includes('last-message = chain')) return;
      const m = /pts: (\d+):(\d+):(\d+)\.(\d+)/.exec(line);
      const ptsUs = m ? ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1e6 + Number(m[4].slice(0, 6).padEnd(6, '0')) : null;
      onFrame(chunkTime, ptsUs);
    });
    function onLines(chunk) {
      chunkTime = performance.now();
      chainLines(chunk);
    }

    // 'pipe': whole frames re-assembled from the pipe.
    const frame = o.mode === 'pipe' ? Buffer.allocUnsafe(o.frameBytes) : null;
    const onBytes =
      frame &&
      frameReader(frame, () => {
        touch(frame, o.stride);
        onFrame(performance.now(), null);
      });

    child.stdout.on('data', (chunk) => {
      if (state === 'draining') return;
      if (o.mode === 'pipe') onBytes(chunk);
      else onLines(chunk.toString('latin1'));
    });
    let errPartial = '';
    child.stderr.on('data', (d) => {
      const lines = (errPartial + d).split('\n');
      errPartial = lines.pop();
      for (const line of lines) {
        if (line.startsWith('PORTALHELPER ')) {
          const m = JSON.parse(line.slice('PORTALHELPER '.length));
          if (m.node !== undefined) helper.sessionMs = m.ms;
          if (m.pid) {
            gstPid = m.pid;
            o.pids.add(gstPid);
            helper.gstSpawnedMs = m.ms;
            helper.node = m.node;
            helper.argv = m.argv?.slice(2).join(' ');
          }
          if (m.error) helper.error = m.error;
        } else stderr += line + '\n';
      }
      if (stderr.length > 20000) stderr = stderr.slice(-10000);
    });

    let closed = false;
    function finish() {
      if (closed || state === 'draining') return;
      const w1 = snapshot();
      if (w1.gst === null || win0.gst === null) {
        state = 'draining';
        child.kill('SIGKILL');
        if (gstPid) killPid(gstPid, 'SIGKILL');
        return; // 'close' rejects: no result
      }
      state = 'draining';
      const wallMs = w1.t - win0.t;
      const gstMs = w1.gst - win0.gst;
      const readerMs = w1.self - win0.self;
      const ownMs = o.mode === 'pipe' ? gstMs + readerMs : gstMs;
      const src = sourcesDiff(win0.sources, w1.sources);
      const perFrame = (ms) => (frames ? round(ms / frames, 3) : null);
      const sortedPts = Float64Array.from(ptsGapsUs).sort();
      const ptsPct = (p) => (sortedPts.length ? round(percentileOfSorted(sortedPts, p) / 1000, 2) : null);
      result = {
        frames,
        fps: round(frames / (wallMs / 1000), 2),
        cpuMsPerFrame: perFrame(ownMs),
        cpuPercent: round((ownMs * 100) / wallMs, 1),
        parts: o.mode === 'pipe' ? { gst: perFrame(gstMs), 'node reader': perFrame(readerMs) } : { gst: perFrame(gstMs) },
        sources: src.ms,
        otherLoadPercent: null,
        machineBusyMs: src.machineBusyMs,
        ownCpuMs: ownMs,
        gapP50Ms: round(gaps.percentileMs(50), 2),
        gapP99Ms: round(gaps.percentileMs(99), 2),
        gapMaxMs: round(gaps.maxMs(), 2),
        firstFrameMs: round(firstFrameMs, 1),
        dropped: null,
        wallS: round(wallMs / 1000, 2),
        extra: {
          command: `${GST_LAUNCH} ${o.gstArgs.join(' ')}`,
          viaPortalHelper: o.portal,
          helper: o.portal ? helper : undefined,
          gstCpuMsPerFrame: perFrame(gstMs),
          // Reading fakesink's lines costs the bench this much; not in the row ('lines' mode).
          readerCpuMsPerFrame: perFrame(readerMs),
          // Between pipewiresrc's own timestamps (do-timestamp: its arrival), 'lines' mode only.
          ptsGapMs: o.mode === 'lines' ? { p50: ptsPct(50), p99: ptsPct(99), max: ptsPct(100) } : undefined,
          framesIncludingWarmup: allFrames,
          sourceCpuMs: Object.fromEntries(Object.entries(src.ms).map(([k, v]) => [k, round(v, 1)])),
        },
      };
      for (const sig of ['SIGTERM']) {
        child.kill(sig);
        if (gstPid) killPid(gstPid, sig);
      }
      killTimer = setTimeout(() => {
        child.kill('SIGKILL');
        if (gstPid) killPid(gstPid, 'SIGKILL');
      }, EXIT_GRACE_MS);
    }

    const firstTimer = setTimeout(() => {
      state = 'draining';
      child.kill('SIGKILL');
      if (gstPid) killPid(gstPid, 'SIGKILL');
      reject(new Error(`no frame within ${FIRST_FRAME_TIMEOUT_MS} ms: ${helper.error ?? ''} ${stderr.trim().slice(-400)}`));
    }, FIRST_FRAME_TIMEOUT_MS);

    child.on('error', (e) => {
      clearTimeout(firstTimer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      closed = true;
      clearTimeout(killTimer);
      clearTimeout(firstTimer);
      o.children.delete(child);
      if (gstPid) o.pids.delete(gstPid);
      if (!result) {
        reject(new Error(`${o.portal ? 'portal helper' : 'gst-launch-1.0'} exited early (code ${code}, signal ${signal}): ${helper.error ?? ''} ${stderr.trim().slice(-500)}`));
        return;
      }
      resolve(result);
    });
  });
}
