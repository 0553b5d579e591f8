#!/usr/bin/env bash
# X11 rig for the tests: a virtual 1920x1080x24 X server (Xvfb) with a solid root of a
# known colour. Tests create their own windows (miniav_c/tests/x11_test_window.c).
#
#   eval "$(bash scripts/rigs/x11.sh start)"   # exports DISPLAY and MINIAV_RIG_X11_*
#   bash scripts/rigs/x11.sh stop
#
# Xvfb picks a free display number itself (-displayfd), so several rigs can run at once
# (RIG_DIR apart). Needs Debian's xvfb and x11-xserver-utils (scripts/install-test-deps.sh).
set -euo pipefail
RIG_DIR=${RIG_DIR:-/tmp/miniav-rig-x11}
ROOT_COLOR=${MINIAV_RIG_X11_ROOT:-336699}

print_env() {
  echo "export DISPLAY=$(cat "$RIG_DIR/display")"
  echo "export MINIAV_RIG_X11_ROOT=$ROOT_COLOR MINIAV_RIG_X11_SIZE=1920x1080"
  # With DISPLAY set and no session bus, libdbus clients would each autolaunch a bus.
  echo 'export DBUS_SESSION_BUS_ADDRESS="${DBUS_SESSION_BUS_ADDRESS:-disabled:}"'
}

running() { [[ -f $RIG_DIR/xvfb.pid ]] && kill -0 "$(cat "$RIG_DIR/xvfb.pid")" 2>/dev/null; }

start() {
  if running; then print_env; return; fi
  mkdir -p "$RIG_DIR"
  local fifo=$RIG_DIR/displayfd num
  rm -f "$fifo"; mkfifo "$fifo"
  # +extension RANDR: monitors are enumerated through RandR 1.5.
  Xvfb -displayfd 3 -screen 0 1920x1080x24 -nolisten tcp -noreset +extension RANDR 3>"$fifo" >"$RIG_DIR/xvfb.log" 2>&1 &
  echo $! >"$RIG_DIR/xvfb.pid"
  if ! read -r -t 15 num <"$fifo"; then
    echo "x11 rig: Xvfb did not start:" >&2; cat "$RIG_DIR/xvfb.log" >&2; stop; exit 1
  fi
  rm -f "$fifo"
  echo ":$num" >"$RIG_DIR/display"
  DISPLAY=":$num" xsetroot -solid "#$ROOT_COLOR"
  print_env
}

stop() {
  if [[ -f $RIG_DIR/xvfb.pid ]]; then kill "$(cat "$RIG_DIR/xvfb.pid")" 2>/dev/null || true; fi
  rm -f "$RIG_DIR/xvfb.pid" "$RIG_DIR/display"
}

case ${1:-} in
  start) start ;;
  env) print_env ;;
  stop) stop ;;
  *) echo "usage: $0 start|env|stop" >&2; exit 2 ;;
esac
