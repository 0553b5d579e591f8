#!/usr/bin/env bash
# Wayland ScreenCast portal rig: a screen that org.freedesktop.portal.ScreenCast shares with
# no dialog, for the tests of MiniAV's portal screen backend. As root, without GPU or systemd:
#
#   PipeWire rig    scripts/rigs/pipewire.sh, RIG_DIR=$RIG_DIR/pipewire: the private session
#                   bus, pipewire, wireplumber, pipewire-pulse. Everything below uses that bus.
#   sway            headless backend, pixman renderer, one output HEADLESS-1 of 1920x1080
#                   filled with solid #336699 (swaybg), nothing else on it; runs as `nobody`.
#   xdpw            xdg-desktop-portal-wlr: chooser_type=none, output HEADLESS-1, max_fps 30,
#                   with scripts/rigs/portal/xdpw_shim.c preloaded (gcc builds it into RIG_DIR).
#   xdp             xdg-desktop-portal, the org.freedesktop.portal.Desktop frontend; with
#                   XDG_CURRENT_DESKTOP=sway it picks wlr.portal for ScreenCast.
#
#   eval "$(bash scripts/rigs/portal.sh start)"   # exports below; timing on stderr
#   bash scripts/rigs/portal.sh env               # print them again
#   bash scripts/rigs/portal.sh stop              # kill what start started (pids in RIG_DIR)
#
# Exports: DBUS_SESSION_BUS_ADDRESS PIPEWIRE_RUNTIME_DIR PULSE_SERVER (+ the pipewire rig's
# MINIAV_RIG_PULSE_*), WAYLAND_DISPLAY (absolute socket path) SWAYSOCK XDG_CURRENT_DESKTOP=sway
# XDG_SESSION_TYPE=wayland MINIAV_RIG_PORTAL_COLOR=336699 MINIAV_RIG_PORTAL_SIZE=1920x1080
# MINIAV_RIG_PORTAL_OUTPUT=HEADLESS-1 MINIAV_RIG_PORTAL_FPS=30 MINIAV_RIG_PORTAL_XDPW_PIDFILE
# MINIAV_RIG_PORTAL_SWAY_PIDFILE.
# What a test can do with them (measured with sway 1.7, xdpw 0.7.0, xdg-desktop-portal 1.16):
#   swaymsg output HEADLESS-1 bg '#cc3300' solid_color  # change the screen: the next frames
#   swaymsg output HEADLESS-1 mode 1280x720             # resize: the stream renegotiates
#                                                       # (param Format 1280x720) in ~0.2 s
#   swaymsg output HEADLESS-1 mode 1920x1080 bg '#336699' solid_color   # back to the start
#   kill "$(cat "$MINIAV_RIG_PORTAL_XDPW_PIDFILE")"     # end the cast from the portal side; the
#                                                       # bus starts a new shimmed xdpw on demand
#   kill "$(cat "$MINIAV_RIG_PORTAL_SWAY_PIDFILE")"     # the compositor dies (restart the rig)
# Ending from the portal side sends NO Session.Closed (xdpw 0.7 never emits it): the client's
# pw_stream goes "paused" and the registry reports the node removed. The client's own
# Session.Close does the same. `swaymsg output HEADLESS-1 disable` does not work here
# (sway logs "Failed to commit output"; the output stays active), nor does it for outputs
# added with `swaymsg create_output`.
# Probe: /usr/bin/python3 scripts/rigs/portal/screencast_probe.py (see its header).
#
# Pitfalls (why the rig looks like this):
# * sway refuses to run as uid 0, so it runs as MINIAV_RIG_PORTAL_USER (nobody) with its own
#   XDG_RUNTIME_DIR under RIG_DIR; RIG_DIR must be reachable by that user (the script checks).
#   Root clients reach its socket by the absolute path in WAYLAND_DISPLAY.
# * xdpw 0.7.0 on a pixman renderer fails every Start ("unable to receive a valid format from
#   wlr_screencopy") and with copy_with_damage a static screen sends no frames: the shim.
# * The session bus would D-Bus-activate a stock xdpw (no shim, no config: a chooser dialog
#   that cannot run) whenever xdg-desktop-portal needs one. An override service file in the
#   bus's XDG_DATA_HOME makes every activation start ours, also after a test killed it.
# * xdg-desktop-portal activates xdg-permission-store (it keeps the restore tokens; its
#   database is wiped at start) and xdg-document-portal (a FUSE mount; the override service
#   file turns it into /bin/false, so xdp.log shows one harmless GLib-GIO-CRITICAL). stop
#   asks the bus for the pids of these helpers and ends them.
# * PID 1 here does not reap orphans: a killed daemon stays a zombie, so stop checks
#   /proc/PID/stat rather than kill -0.
# * Two cores: start waits with short sleeps, no busy loops.
#
# Needs Debian's sway swaybg xdg-desktop-portal xdg-desktop-portal-wlr gcc libc6-dev dbus
# util-linux (setpriv), plus the pipewire rig's packages (see pipewire.sh). The probe needs
# python3-dbus python3-gi gir1.2-glib-2.0 and libpipewire-0.3-dev.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RIG_DIR=${RIG_DIR:-/tmp/miniav-rig-portal}
PW_DIR=$RIG_DIR/pipewire
PW_RUN=$PW_DIR/run # the pipewire rig's XDG_RUNTIME_DIR; its bus socket is $PW_RUN/bus
SWAY_USER=${MINIAV_RIG_PORTAL_USER:-nobody}
SWAY_RUN=$RIG_DIR/sway-run
COLOR=336699
SIZE=1920x1080
OUTPUT=HEADLESS-1
FPS=30
BUS=unix:path=$PW_RUN/bus
XDPW=/usr/libexec/xdg-desktop-portal-wlr
XDP=/usr/libexec/xdg-desktop-portal

say() { echo "portal rig: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

print_env() {
  RIG_DIR="$PW_DIR" bash "$HERE/pipewire.sh" env
  echo "export DBUS_SESSION_BUS_ADDRESS=$BUS"
  echo "export WAYLAND_DISPLAY=$(cat "$RIG_DIR/wayland_display") SWAYSOCK=$(cat "$RIG_DIR/swaysock")"
  echo "export XDG_CURRENT_DESKTOP=sway XDG_SESSION_TYPE=wayland"
  echo "export MINIAV_RIG_PORTAL_COLOR=$COLOR MINIAV_RIG_PORTAL_SIZE=$SIZE MINIAV_RIG_PORTAL_OUTPUT=$OUTPUT MINIAV_RIG_PORTAL_FPS=$FPS"
  echo "export MINIAV_RIG_PORTAL_XDPW_PIDFILE=$RIG_DIR/xdpw.pid MINIAV_RIG_PORTAL_SWAY_PIDFILE=$RIG_DIR/sway.pid"
}

# Names the Debian packages whose programs or headers are missing; fails if any is.
check_packages() {
  local missing=() pair
  for pair in sway:/usr/bin/sway swaymsg:/usr/bin/swaymsg swaybg:/usr/bin/swaybg \
    xdg-desktop-portal:$XDP xdg-desktop-portal-wlr:$XDPW gcc:/usr/bin/gcc libc6-dev:/usr/include/dlfcn.h \
    dbus:/usr/bin/dbus-daemon dbus-bin:/usr/bin/dbus-send util-linux:/usr/bin/setpriv \
    pipewire-bin:/usr/bin/pipewire wireplumber:/usr/bin/wireplumber pipewire-pulse:/usr/bin/pipewire-pulse \
    pulseaudio-utils:/usr/bin/pactl; do
    [[ -x ${pair#*:} || -f ${pair#*:} ]] || missing+=("${pair%%:*}")
  done
  if ((${#missing[@]})); then
    say "missing Debian packages: ${missing[*]} (apt-get install --no-install-recommends ${missing[*]})"
    exit 1
  fi
}


# Gone or a zombie: PID 1 of this machine does not reap orphans, so kill -0 alone would wait.
gone() { [[ ! -r /proc/$1/stat ]] || [[ $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) == Z ]]; }
alive() { [[ -f $RIG_DIR/$1.pid ]] && ! gone "$(cat "$RIG_DIR/$1.pid")"; }

# Runs cmd... in the environment of the rig's root-side processes: the pipewire rig's bus and
# runtime dir, the compositor. A plain command, so `rig_env cmd &` leaves no subshell and
# $! is the daemon's own pid.
rig_env_args() {
  RIG_ENV=(env -u DISPLAY -u PULSE_SERVER HOME="$PW_DIR/home" XDG_RUNTIME_DIR="$PW_RUN" PIPEWIRE_RUNTIME_DIR="$PW_RUN"
    DBUS_SESSION_BUS_ADDRESS="$BUS" WAYLAND_DISPLAY="$(cat "$RIG_DIR/wayland_display" 2>/dev/null || true)"
    SWAYSOCK="$(cat "$RIG_DIR/swaysock" 2>/dev/null || true)" XDG_CURRENT_DESKTOP=sway XDG_SESSION_TYPE=wayland)
}
rig_env() { rig_env_args; "${RIG_ENV[@]}" "$@"; }

wait_for() { # what tries cmd... (one try per 20 ms)
  local what=$1 tries=$2 i; shift 2
  for ((i = 0; i < tries; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.02; done
  say "timeout waiting for $what"
  return 1
}

fail() {
  local log
  say "$*"
  for log in sway xdpw xdp; do
    [[ -s $RIG_DIR/$log.log ]] && { echo "--- $log.log" >&2; tail -20 "$RIG_DIR/$log.log" >&2; }
  done
  stop
  exit 1
}

bus_call() { # method args... on org.freedesktop.DBus
  rig_env dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus "org.freedesktop.DBus.$1" "${@:2}"
}
has_owner() { bus_call NameHasOwner "string:$1" 2>/dev/null | grep -q 'boolean true'; }
owner_pid() { bus_call GetConnectionUnixProcessID "string:$1" 2>/dev/null | awk '/uint32/ { print $2 }'; }
screencast_ready() {
  rig_env dbus-send --session --print-reply --dest=org.freedesktop.portal.Desktop /org/freedesktop/portal/desktop \
    org.freedesktop.DBus.Properties.Get string:org.freedesktop.portal.ScreenCast string:version 2>/dev/null | grep -q uint32
}
sway_output_up() { rig_env swaymsg -t get_outputs 2>/dev/null | grep -q "\"$OUTPUT\""; }

build_shim() {
  local src=$HERE/portal/xdpw_shim.c so=$RIG_DIR/xdpw_shim.so
  [[ -f $so && $so -nt $src ]] && return 0
  gcc -O2 -shared -fPIC -o "$so.tmp" "$src" -ldl || fail "building $src failed"
  mv "$so.tmp" "$so"
}

write_configs() {
  # sway reads its config as $SWAY_USER. No bar, no borders: the whole output is the colour.
  cat >"$RIG_DIR/sway.conf" <<CONF
output $OUTPUT resolution $SIZE position 0,0 scale 1 bg #$COLOR solid_color
default_border none
xwayland disable
seat * hide_cursor 100
CONF
  cat >"$RIG_DIR/xdpw.conf" <<CONF
[screencast]
output_name=$OUTPUT
max_fps=$FPS
chooser_type=none
CONF
  # Whoever starts xdpw (start below, or the bus on demand) goes through this launcher, so it
  # always has the shim, the config, the compositor and a pid file.
  cat >"$RIG_DIR/xdpw-launch.sh" <<CONF
#!/bin/sh
echo \$\$ >"$RIG_DIR/xdpw.pid"
exec env WAYLAND_DISPLAY="\$(cat "$RIG_DIR/wayland_display")" LD_PRELOAD="$RIG_DIR/xdpw_shim.so" \\
  $XDPW -l INFO -c "$RIG_DIR/xdpw.conf" >>"$RIG_DIR/xdpw.log" 2>&1
CONF
  chmod 755 "$RIG_DIR/xdpw-launch.sh"
  # The pipewire rig's bus reads services from its XDG_DATA_HOME before /usr/share.
  local services=$PW_DIR/home/.local/share/dbus-1/services
  mkdir -p "$services"
  printf '[D-BUS Service]\nName=org.freedesktop.impl.portal.desktop.wlr\nExec=%s\n' "$RIG_DIR/xdpw-launch.sh" \
    >"$services/org.freedesktop.impl.portal.desktop.wlr.service"
  # ScreenCast needs no document portal; stock, it FUSE-mounts into the runtime dir.
  printf '[D-BUS Service]\nName=org.freedesktop.portal.Documents\nExec=/bin/false\n' \
    >"$services/org.freedesktop.portal.Documents.service"
  # Restore tokens live in the permission store's database: each start begins with none.
  rm -rf "$PW_DIR/home/.local/share/flatpak"
  : >"$RIG_DIR/xdpw.log"
}

as_sway_user() { setpriv --reuid="$SWAY_USER" --regid="$(id -g "$SWAY_USER")" --clear-groups "$@"; }

start_sway() {
  rm -rf "$SWAY_RUN"
  mkdir -p "$SWAY_RUN"
  chown "$SWAY_USER:" "$SWAY_RUN"
  chmod 700 "$SWAY_RUN"
  chmod 644 "$RIG_DIR/sway.conf"
  # A clean environment: sway must not see root's WAYLAND_DISPLAY/DISPLAY (it would nest).
  env -i PATH=/usr/bin:/bin HOME=/nonexistent XDG_RUNTIME_DIR="$SWAY_RUN" XDG_CACHE_HOME="$SWAY_RUN/cache" \
    WLR_BACKENDS=headless WLR_HEADLESS_OUTPUTS=1 WLR_RENDERER=pixman WLR_LIBINPUT_NO_DEVICES=1 \
    setpriv --reuid="$SWAY_USER" --regid="$(id -g "$SWAY_USER")" --clear-groups sway -c "$RIG_DIR/sway.conf" >"$RIG_DIR/sway.log" 2>&1 &
  echo $! >"$RIG_DIR/sway.pid"
  wait_for "sway's sockets" 500 eval 'compgen -G "$SWAY_RUN/sway-ipc.*.sock" && compgen -G "$SWAY_RUN/wayland-[0-9]"' ||
    fail "sway did not start"
  compgen -G "$SWAY_RUN/sway-ipc.*.sock" | head -1 >"$RIG_DIR/swaysock"
  compgen -G "$SWAY_RUN/wayland-[0-9]" | head -1 >"$RIG_DIR/wayland_display"
  wait_for "output $OUTPUT" 500 sway_output_up || fail "sway has no output $OUTPUT"
}

start() {
  if alive sway && alive xdp && screencast_ready; then print_env; return; fi
  check_packages
  stop
  local t0 t
  t0=$(now)
  mkdir -p "$RIG_DIR"
  chmod 755 "$RIG_DIR"
  as_sway_user test -x "$RIG_DIR" ||
    fail "user $SWAY_USER cannot enter $RIG_DIR: put RIG_DIR where that user can reach it (e.g. under /tmp)"
  build_shim
  write_configs
  say "shim $(since "$t0") s"

  t=$(now)
  RIG_DIR="$PW_DIR" bash "$HERE/pipewire.sh" start >/dev/null || fail "the pipewire rig did not start"
  say "pipewire rig $(since "$t") s"

  t=$(now)
  start_sway
  say "sway $(since "$t") s"

  t=$(now)
  # xdpw first: xdg-desktop-portal looks for its backends when it starts.
  bus_call StartServiceByName string:org.freedesktop.impl.portal.desktop.wlr uint32:0 >/dev/null ||
    fail "xdg-desktop-portal-wlr did not start"
  wait_for "xdpw's bus name" 250 has_owner org.freedesktop.impl.portal.desktop.wlr || fail "xdpw is not on the bus"
  rig_env_args
  "${RIG_ENV[@]}" "$XDP" >"$RIG_DIR/xdp.log" 2>&1 &
  echo $! >"$RIG_DIR/xdp.pid"
  wait_for "the ScreenCast portal" 500 screencast_ready || fail "xdg-desktop-portal offers no ScreenCast"
  say "portals $(since "$t") s; ready in $(since "$t0") s"
  print_env
}


kill_pid() { # pid: TERM, wait up to 5 s, KILL
  local pid=$1
  [[ -n $pid ]] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do gone "$pid" && return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

stop_pid() { # name: the process whose pid is in RIG_DIR/name.pid
  [[ -f $RIG_DIR/$1.pid ]] || return 0
  kill_pid "$(cat "$RIG_DIR/$1.pid")"
  rm -f "$RIG_DIR/$1.pid"
}

stop() {
  local name
  stop_pid xdp # first: it is what makes the bus start helpers
  # Helpers the bus started for xdg-desktop-portal: their pids from the bus while it runs.
  if [[ -S $PW_RUN/bus ]]; then
    for name in org.freedesktop.impl.portal.PermissionStore org.freedesktop.portal.Documents; do
      kill_pid "$(owner_pid "$name")"
    done
  fi
  stop_pid xdpw
  stop_pid sway
  # swaybg is sway's child (as $SWAY_USER) and exits with the compositor.
  [[ -d $PW_DIR ]] && RIG_DIR="$PW_DIR" bash "$HERE/pipewire.sh" stop
  rm -rf "$SWAY_RUN"
  rm -f "$RIG_DIR/wayland_display" "$RIG_DIR/swaysock"
}

case ${1:-} in
  start) start ;;
  env) print_env ;;
  stop) stop ;;
  *) echo "usage: $0 start|env|stop" >&2; exit 2 ;;
esac
