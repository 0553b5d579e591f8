#!/usr/bin/python3
"""Probe of the portal rig: one ScreenCast session over D-Bus, like MiniAV's portal backend.

CreateSession -> SelectSources(types=monitor, cursor_mode=hidden, persist_mode=2 (--persist)
[, restore_token]) -> Start -> OpenPipeWireRemote, then pw_frames.c (built here with gcc)
reads frames from the node through the portal's fd and checks the centre pixel colour.
pw_frames is built into $RIG_DIR (default /tmp/miniav-rig-portal); needs libpipewire-0.3-dev.

  eval "$(bash scripts/rigs/portal.sh start)"
  /usr/bin/python3 scripts/rigs/portal/screencast_probe.py [--frames N] [--restore TOKEN]
      [--persist 0|1|2] [--expect RRGGBB] [--then 'SHELL COMMAND'] [--close] [--watch SECONDS]

  --then CMD   after the first frame, run CMD (e.g. 'kill $(cat $MINIAV_RIG_PORTAL_XDPW_PIDFILE)'
               or "swaymsg output HEADLESS-1 bg '#cc3300' solid_color") and report what the
               client sees for --watch seconds: Session.Closed, stream states, node removal,
               format changes, frames (their colours).
  --close      after the first frame, call Session.Close from the client and watch likewise.
Prints "key: value" lines (restore_token, node, size, ...); exit 0 when every step worked.
Runs with Debian's python3 (python3-dbus, python3-gi), not a pyenv one.
"""
import os
import subprocess
import sys
import time

import dbus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

T0 = time.monotonic()
HERE = os.path.dirname(os.path.abspath(__file__))


def say(key, value):
    print(f"{key}: {value}   [{time.monotonic() - T0:.3f} s]", flush=True)


def arg(name, default=None):
    a = sys.argv[1:]
    return a[a.index(name) + 1] if name in a else default


frames = int(arg("--frames", "10"))
restore = arg("--restore")
persist = int(arg("--persist", "2"))
expect = arg("--expect", os.environ.get("MINIAV_RIG_PORTAL_COLOR", "336699")).lower()
then = arg("--then")
close = "--close" in sys.argv
watch = float(arg("--watch", "3"))

# pw_frames: built once into the rig's directory.
bindir = os.environ.get("RIG_DIR", "/tmp/miniav-rig-portal")
os.makedirs(bindir, exist_ok=True)
probe_bin = os.path.join(bindir, "pw_frames")
src = os.path.join(HERE, "pw_frames.c")
if not os.path.exists(probe_bin) or os.path.getmtime(probe_bin) < os.path.getmtime(src):
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libpipewire-0.3"], check=True,
                           capture_output=True, text=True).stdout.split()
    subprocess.run(["gcc", "-O2", "-o", probe_bin, src, *flags], check=True)

DBusGMainLoop(set_as_default=True)
bus = dbus.SessionBus()
portal = bus.get_object("org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop")
sc = dbus.Interface(portal, "org.freedesktop.portal.ScreenCast")
props = portal.GetAll("org.freedesktop.portal.ScreenCast", dbus_interface="org.freedesktop.DBus.Properties")
say("portal", f"version {int(props['version'])} source types {int(props['AvailableSourceTypes'])} "
    f"cursor modes {int(props['AvailableCursorModes'])}")
loop = GLib.MainLoop()
sender = bus.get_unique_name()[1:].replace(".", "_")
serial = [0]


def call(method, *args, options):
    """A portal method answered by a Request's Response signal; returns its results."""
    serial[0] += 1
    token = f"miniavprobe{os.getpid()}_{serial[0]}"
    options["handle_token"] = token
    path = f"/org/freedesktop/portal/desktop/request/{sender}/{token}"
    answer = {}

    def on_response(code, results):
        answer.update(code=int(code), results=results)
        loop.quit()

    # Subscribe before calling: the Response may come before the call returns.
    match = bus.add_signal_receiver(on_response, "Response", "org.freedesktop.portal.Request", None, path)
    getattr(sc, method)(*args, options)
    timer = GLib.timeout_add_seconds(15, loop.quit)
    loop.run()
    GLib.source_remove(timer)
    match.remove()
    if answer.get("code") != 0:
        say("FAIL", f"{method} response {answer.get('code', 'none in 15 s')}")
        sys.exit(1)
    return answer["results"]


t = time.monotonic()
session = call("CreateSession", options={"session_handle_token": f"miniavsession{os.getpid()}"})["session_handle"]
say("session", session)
closed = []
bus.add_signal_receiver(lambda details: closed.append((time.monotonic() - T0, dict(details))), "Closed",
                        "org.freedesktop.portal.Session", None, session)
select = {"types": dbus.UInt32(1), "multiple": False, "cursor_mode": dbus.UInt32(1),
          "persist_mode": dbus.UInt32(persist)}
if restore:
    select["restore_token"] = restore
call("SelectSources", dbus.ObjectPath(session), options=select)
started = call("Start", dbus.ObjectPath(session), "", options={})
say("start_seconds", f"{time.monotonic() - t:.3f}")
say("start_results", {str(k): v for k, v in started.items() if k != "streams"})
say("restore_token", started.get("restore_token", "(none)"))
streams = started.get("streams", [])
if not streams:
    say("FAIL", "Start returned no streams")
    sys.exit(1)
node = int(streams[0][0])
stream_props = dict(streams[0][1])
say("node", node)
say("stream_props", {str(k): (tuple(int(x) for x in v) if isinstance(v, dbus.Struct) else v)
                     for k, v in stream_props.items()})
fd = sc.OpenPipeWireRemote(dbus.ObjectPath(session), {}).take()
say("pipewire_fd", fd)

ok = True
if not then and not close:
    out = subprocess.run([probe_bin, str(fd), str(node), str(frames), "10"], pass_fds=(fd,),
                         capture_output=True, text=True)
    lines = out.stdout.splitlines()
    colours = {l.split()[2] for l in lines if l.startswith("frame ")}
    for l in lines:
        if not l.startswith("frame "):
            say("pw_frames", l)
    say("colours", " ".join(sorted(colours)))
    ok = out.returncode == 0 and colours == {expect}
    say("frames_ok", ok)
else:
    # Stream in the background, end the session from one side, watch what the client sees.
    p = subprocess.Popen([probe_bin, str(fd), str(node), "100000", str(int(watch + 5))], pass_fds=(fd,),
                         stdout=subprocess.PIPE, text=True)
    first = p.stdout.readline()
    while first and not first.startswith("frame "):
        say("pw_frames", first.strip())
        first = p.stdout.readline()
    say("pw_frames", first.strip())
    if then:
        say("then", then)
        subprocess.run(then, shell=True)
    else:
        say("close", "Session.Close()")
        dbus.Interface(bus.get_object("org.freedesktop.portal.Desktop", session),
                       "org.freedesktop.portal.Session").Close()
    t_end = time.monotonic()
    GLib.timeout_add(int(watch * 1000), loop.quit)
    seen = []

    def read_probe(source, condition):
        line = p.stdout.readline()
        if not line:
            return False
        seen.append((time.monotonic() - t_end, line.strip()))
        return True

    GLib.io_add_watch(p.stdout, GLib.IO_IN | GLib.IO_HUP, read_probe)
    loop.run()
    p.terminate()
    p.wait()
    frames_after = [(dt, l) for dt, l in seen if l.startswith("frame ")]
    say("frames_after_end", f"{len(frames_after)} (last {frames_after[-1][0]:.3f} s after, "
        f"colours {sorted({l.split()[2] for _, l in frames_after})})" if frames_after else "0")
    for dt, l in seen:
        if not l.startswith("frame "):
            say("pw_frames_after", f"+{dt:.3f} s {l}")
    say("session_closed_signal", [(f"+{c[0] - (t_end - T0):.3f} s", c[1]) for c in closed] or "none")
sys.exit(0 if ok else 1)
