#!/usr/bin/env bash
# PulseAudio rig for the tests: a private daemon (no hardware, no session bus) on a unix
# socket under RIG_DIR, with known devices:
#
#   miniav_sink          null sink, 48 kHz stereo, the default sink; its monitor
#                        (miniav_sink.monitor) hears whatever plays into it.
#   miniav_mic           the default source: a paced "microphone" playing a sine of
#                        MINIAV_RIG_PULSE_MIC_HZ (660 Hz), amplitude 0.5, 48 kHz mono.
#                        module-sine into the null sink miniav_mic_feed, remapped from its
#                        monitor (module-sine-source would be bursty: 2 s blocks at once).
#
#   eval "$(bash scripts/rigs/pulse.sh start)"   # exports PULSE_SERVER and MINIAV_RIG_PULSE_*
#   bash scripts/rigs/pulse.sh stop
#
# Needs Debian's pulseaudio and pulseaudio-utils (scripts/install-test-deps.sh).
set -euo pipefail
RIG_DIR=${RIG_DIR:-/tmp/miniav-rig-pulse}
MIC_HZ=${MINIAV_RIG_PULSE_MIC_HZ:-660}
SOCKET=$RIG_DIR/native

print_env() {
  echo "export PULSE_SERVER=unix:$SOCKET"
  echo "export MINIAV_RIG_PULSE_MIC=miniav_mic MINIAV_RIG_PULSE_MIC_HZ=$MIC_HZ MINIAV_RIG_PULSE_MIC_AMPLITUDE=0.5"
  echo "export MINIAV_RIG_PULSE_SINK=miniav_sink MINIAV_RIG_PULSE_MIC_FEED=miniav_mic_feed.monitor"
}

running() { [[ -f $RIG_DIR/pulseaudio.pid ]] && kill -0 "$(cat "$RIG_DIR/pulseaudio.pid")" 2>/dev/null; }

# Runs a PulseAudio client against the rig only (never a user's daemon, never autospawn).
client() { env -u DISPLAY PULSE_SERVER="unix:$SOCKET" HOME="$RIG_DIR/home" XDG_RUNTIME_DIR="$RIG_DIR/run" "$@"; }

start() {
  if running; then print_env; return; fi
  mkdir -p "$RIG_DIR/run" "$RIG_DIR/home/.config"
  chmod 700 "$RIG_DIR/run"
  rm -f "$SOCKET"
  # -n: no default.pa, so no ALSA/udev/dbus/X11 modules; every device is loaded here.
  # env -u DISPLAY: with DISPLAY set pulseaudio would start X11 modules and a dbus-daemon.
  # HOME/XDG_*: as root without a login session, the daemon's state goes under RIG_DIR.
  # auth-anonymous: the test clients have no cookie.
  env -u DISPLAY -u DBUS_SESSION_BUS_ADDRESS \
    HOME="$RIG_DIR/home" XDG_RUNTIME_DIR="$RIG_DIR/run" XDG_CONFIG_HOME="$RIG_DIR/home/.config" \
    pulseaudio -n --daemonize=no --exit-idle-time=-1 --disallow-exit --use-pid-file=no \
      --log-target=stderr --log-level=warn \
      -L "module-native-protocol-unix socket=$SOCKET auth-anonymous=1" \
      -L "module-null-sink sink_name=miniav_sink rate=48000 channels=2 sink_properties=device.description=MiniAV-Rig-Speakers" \
      -L "module-null-sink sink_name=miniav_mic_feed rate=48000 channels=1 sink_properties=device.description=MiniAV-Rig-Mic-Feed" \
      -L "module-sine sink=miniav_mic_feed frequency=$MIC_HZ rate=48000" \
      -L "module-remap-source master=miniav_mic_feed.monitor source_name=miniav_mic source_properties=device.description=MiniAV-Rig-Microphone" \
      >"$RIG_DIR/pulseaudio.log" 2>&1 &
  echo $! >"$RIG_DIR/pulseaudio.pid"
  local ok=0
  for _ in $(seq 500); do
    if client pactl info >/dev/null 2>&1; then ok=1; break; fi
    running || break
    sleep 0.02
  done
  if [[ $ok != 1 ]]; then
    echo "pulse rig: pulseaudio did not start:" >&2; cat "$RIG_DIR/pulseaudio.log" >&2; stop; exit 1
  fi
  client pactl set-default-sink miniav_sink
  client pactl set-default-source miniav_mic
  # Keep-alive readers at 10 ms latency: an idle null sink renders in 2 s blocks, so a new
  # recorder would wait up to 2 s for its first data. Suspend/resume restarts the sinks'
  # timers at the new latency.
  local i=1 device
  for device in miniav_sink.monitor miniav_mic_feed.monitor; do
    client parec --latency-msec=10 --raw -d "$device" >/dev/null 2>&1 &
    echo $! >"$RIG_DIR/keepalive$i.pid"
    i=$((i + 1))
  done
  for _ in $(seq 250); do
    [[ $(client pactl list short source-outputs | wc -l) -ge 2 ]] && break
    sleep 0.02
  done
  local sink
  for sink in miniav_sink miniav_mic_feed; do client pactl suspend-sink $sink 1; client pactl suspend-sink $sink 0; done
  print_env
}

stop() {
  local name pid
  for name in keepalive1 keepalive2 pulseaudio; do
    [[ -f $RIG_DIR/$name.pid ]] || continue
    pid=$(cat "$RIG_DIR/$name.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$RIG_DIR/$name.pid"
  done
  rm -f "$SOCKET"
}

case ${1:-} in
  start) start ;;
  env) print_env ;;
  stop) stop ;;
  *) echo "usage: $0 start|env|stop" >&2; exit 2 ;;
esac
