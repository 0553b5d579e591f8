#!/usr/bin/env bash
# PipeWire rig for the PulseAudio tests: the same devices, names and exports as
# scripts/rigs/pulse.sh, served by PipeWire through pipewire-pulse, so test_pulse and
# pulse.test.mjs run unchanged against a second server. As root, without systemd: a
# private session bus + pipewire + wireplumber + pipewire-pulse, all under RIG_DIR.
#
#   miniav_sink          null sink, 48 kHz stereo, the default sink; its monitor
#                        (miniav_sink.monitor) hears whatever plays into it.
#   miniav_mic           the default source: a paced "microphone" playing a sine of
#                        MINIAV_RIG_PULSE_MIC_HZ (660 Hz), amplitude 0.5, 48 kHz mono.
#                        pipewire-pulse (0.3.65) has no module-sine, so `pacat` plays a
#                        generated one-second sine (a whole number of periods, so it loops
#                        without a click) into the null sink miniav_mic_feed, and
#                        module-remap-source makes miniav_mic from its monitor. The null
#                        sink's timer paces it (10 ms buffers arrive every 10 ms).
#
#   eval "$(bash scripts/rigs/pipewire.sh start)"   # exports PULSE_SERVER and MINIAV_RIG_PULSE_*
#   bash scripts/rigs/pipewire.sh stop
#
# Native PipeWire clients (MiniAV's PipeWire camera backend, pw-top, pw_fake_camera) find
# the rig through the exported PIPEWIRE_RUNTIME_DIR.
#
# Pitfalls:
# * wireplumber exits at once without a session bus ("Cannot autolaunch D-Bus without X11
#   $DISPLAY"): a private dbus-daemon, its socket under RIG_DIR.
# * pipewire-pulse implements a subset of PulseAudio's modules: no module-sine (tests that
#   play tones with `pactl load-module module-sine` fail here), no module-sine-source.
# * Unset DISPLAY: with it libdbus clients autolaunch stray dbus-daemons.
#
# Needs Debian's pipewire pipewire-bin pipewire-pulse wireplumber dbus, and pactl/pacat
# (pulseaudio-utils) and perl (to write the sine).
set -euo pipefail
RIG_DIR=${RIG_DIR:-/tmp/miniav-rig-pipewire}
MIC_HZ=${MINIAV_RIG_PULSE_MIC_HZ:-660}
RUN=$RIG_DIR/run
SOCKET=$RUN/pulse/native

print_env() {
  echo "export PULSE_SERVER=unix:$SOCKET PIPEWIRE_RUNTIME_DIR=$RUN"
  echo "export MINIAV_RIG_PULSE_MIC=miniav_mic MINIAV_RIG_PULSE_MIC_HZ=$MIC_HZ MINIAV_RIG_PULSE_MIC_AMPLITUDE=0.5"
  echo "export MINIAV_RIG_PULSE_SINK=miniav_sink MINIAV_RIG_PULSE_MIC_FEED=miniav_mic_feed.monitor"
}

alive() { [[ -f $RIG_DIR/$1.pid ]] && alive_pid "$(cat "$RIG_DIR/$1.pid")"; }
alive_pid() { kill -0 "$1" 2>/dev/null && [[ $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) != Z ]]; }

# Starts `name cmd...` in the background with the rig's environment; saves its pid.
bg() {
  local name=$1; shift
  env -u DISPLAY -u WAYLAND_DISPLAY -u PULSE_SERVER \
    HOME="$RIG_DIR/home" XDG_RUNTIME_DIR="$RUN" PIPEWIRE_RUNTIME_DIR="$RUN" \
    XDG_CONFIG_HOME="$RIG_DIR/home/.config" XDG_STATE_HOME="$RIG_DIR/home/.local/state" \
    XDG_DATA_HOME="$RIG_DIR/home/.local/share" DBUS_SESSION_BUS_ADDRESS="unix:path=$RUN/bus" \
    "$@" >"$RIG_DIR/$name.log" 2>&1 &
  echo $! >"$RIG_DIR/$name.pid"
}

# A PulseAudio client against the rig only.
client() { env -u DISPLAY PULSE_SERVER="unix:$SOCKET" HOME="$RIG_DIR/home" "$@"; }

wait_for() { # what tries cmd...
  local what=$1 tries=$2 i; shift 2
  for ((i = 0; i < tries; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.02; done
  echo "pipewire rig: timeout waiting for $what" >&2
  return 1
}

fail() {
  local name
  for name in dbus pipewire wireplumber pipewire-pulse mic-feed; do
    [[ -s $RIG_DIR/$name.log ]] && { echo "--- $name.log" >&2; tail -20 "$RIG_DIR/$name.log" >&2; }
  done
  stop
  exit 1
}

wp_connected() { env PIPEWIRE_RUNTIME_DIR="$RUN" XDG_RUNTIME_DIR="$RUN" pw-cli ls Client 2>/dev/null | grep -q 'WirePlumber'; }
sink_exists() { client pactl list short sinks | awk '{ print $2 }' | grep -qx "$1"; }

start() {
  if alive pipewire-pulse && client pactl info >/dev/null 2>&1; then print_env; return; fi
  stop
  mkdir -p "$RUN" "$RIG_DIR/home/.config" "$RIG_DIR/home/.local/state" "$RIG_DIR/home/.local/share"
  chmod 700 "$RUN"
  # One second of the sine, s16le mono 48 kHz: a whole number of periods when MIC_HZ is an
  # integer, so it loops seamlessly.
  perl -e 'my ($hz) = @ARGV; binmode STDOUT;
           print pack("s<*", map { int(16384 * sin(2 * 3.14159265358979 * $hz * $_ / 48000) + ($_ < 0 ? -0.5 : 0.5)) } 0 .. 47999);' \
    "$MIC_HZ" >"$RIG_DIR/sine.raw"

  bg dbus dbus-daemon --session --nofork --nopidfile --address="unix:path=$RUN/bus"
  wait_for "dbus" 500 test -S "$RUN/bus" || fail
  bg pipewire pipewire
  wait_for "pipewire" 500 test -S "$RUN/pipewire-0" || fail
  bg wireplumber wireplumber
  bg pipewire-pulse pipewire-pulse
  wait_for "wireplumber" 500 wp_connected || fail
  wait_for "pipewire-pulse" 500 client pactl info || fail

  client pactl load-module module-null-sink sink_name=miniav_sink rate=48000 channels=2 \
    sink_properties=device.description=MiniAV-Rig-Speakers >/dev/null || fail
  client pactl load-module module-null-sink sink_name=miniav_mic_feed rate=48000 channels=1 \
    sink_properties=device.description=MiniAV-Rig-Mic-Feed >/dev/null || fail
  wait_for "miniav_mic_feed" 250 sink_exists miniav_mic_feed || fail
  client pactl load-module module-remap-source master=miniav_mic_feed.monitor source_name=miniav_mic channels=1 channel_map=mono \
    source_properties=device.description=MiniAV-Rig-Microphone >/dev/null || fail
  # The feed: the sine in a loop (cat fails once pacat is gone, which ends the loop).
  bg mic-feed bash -c 'while cat "$1"; do :; done | PULSE_SERVER="unix:$2" pacat --raw --format=s16le --rate=48000 --channels=1 \
      --latency-msec=20 --client-name=miniav-rig-mic-feed --stream-name=sine -d miniav_mic_feed' _ "$RIG_DIR/sine.raw" "$SOCKET"
  wait_for "miniav_mic_feed playing" 250 eval '[[ $(client pactl list short sink-inputs | wc -l) -ge 1 ]]' || fail
  client pactl set-default-sink miniav_sink
  client pactl set-default-source miniav_mic
  print_env
}

stop() {
  local name pid
  for name in mic-feed pipewire-pulse wireplumber pipewire dbus; do
    [[ -f $RIG_DIR/$name.pid ]] || continue
    pid=$(cat "$RIG_DIR/$name.pid")
    if [[ $name == mic-feed ]]; then pkill -P "$pid" 2>/dev/null || true; fi # its pipeline (pacat, cat), by parent pid
    kill "$pid" 2>/dev/null || true
    # A zombie counts as gone: where PID 1 does not reap orphans, kill -0 keeps succeeding.
    for _ in $(seq 50); do alive_pid "$pid" || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$RIG_DIR/$name.pid"
  done
  rm -rf "$RUN"
}

case ${1:-} in
  start) start ;;
  env) print_env ;;
  stop) stop ;;
  *) echo "usage: $0 start|env|stop" >&2; exit 2 ;;
esac
