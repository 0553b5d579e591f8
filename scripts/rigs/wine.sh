#!/usr/bin/env bash
# Wine rig for the Windows build's tests: Wine 8 (Debian, 64-bit) on the project's Xvfb rig
# (GDI sees the whole X screen: root #336699) with the project's PulseAudio rig behind
# Wine's PulseAudio driver (WASAPI capture hears the rig's 660 Hz mic), in a Wine prefix of
# our own set to report Windows 10 (Node refuses Wine's default, Windows 7).
#
#   eval "$(bash scripts/rigs/wine.sh start)"   # exports DISPLAY, PULSE_SERVER, WINEPREFIX ...
#   bash scripts/rigs/wine.sh run X.exe ARGS    # runs a Windows program in the rig (starts it
#                                               # if needed); exit status = the program's
#   bash scripts/rigs/wine.sh stop
#
# What Wine 8 gives each Windows backend (so what the tests can check here): GDI BitBlt
# works (whole X screen); DXGI Desktop Duplication returns E_NOTIMPL; Windows.Graphics.Capture
# does not exist; WASAPI capture works (Pulse sources, and Pulse monitors as capture
# endpoints), WASAPI loopback does not (GetService fails); Media Foundation lists 0 cameras.
# Pitfalls: Debian has no `wine64` on PATH (/usr/lib/wine/wine64 is used); without
# WINEDEBUG=-all Wine prints a "wine32 is missing" hint on every start; the first start makes
# the prefix (~10-20 s), later ones reuse it; a persistent wineserver keeps a run at ~1 s.
# Windows node.exe fails with EBADF when its stdout is a pipe: redirect it to a file.
# Needs Debian's wine, wine64 (scripts/install-test-deps.sh), and what the X11 and Pulse
# rigs need.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RIG_DIR=${MINIAV_RIG_WINE_DIR:-${RIG_DIR:-/tmp/miniav-rig-wine}}
PREFIX=$RIG_DIR/prefix
WINE=/usr/lib/wine/wine64
[[ -x $WINE ]] || WINE=$(command -v wine64 || command -v wine || echo wine)

wine_env() {
  export WINEPREFIX=$PREFIX WINEARCH=win64 WINELOADER=$WINE WINEDEBUG=${WINEDEBUG:--all}
  # No Mono/Gecko install dialogs, no desktop menu entries.
  export WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-"mscoree,mshtml=;winemenubuilder.exe=d"}
}

print_env() {
  cat "$RIG_DIR/x11.env" "$RIG_DIR/pulse.env"
  wine_env
  printf 'export MINIAV_RIG_WINE_DIR=%q WINEPREFIX=%q WINEARCH=win64 WINELOADER=%q WINEDEBUG=%q WINEDLLOVERRIDES=%q\n' \
    "$RIG_DIR" "$WINEPREFIX" "$WINE" "$WINEDEBUG" "$WINEDLLOVERRIDES"
}

running() {
  [[ -f $RIG_DIR/started ]] && kill -0 "$(cat "$RIG_DIR/x11/xvfb.pid" 2>/dev/null)" 2>/dev/null &&
    kill -0 "$(cat "$RIG_DIR/pulse/pulseaudio.pid" 2>/dev/null)" 2>/dev/null
}

start() {
  if running; then print_env; return 0; fi
  command -v wineserver >/dev/null || { echo "wine rig: wine is not installed (scripts/install-test-deps.sh)" >&2; exit 1; }
  mkdir -p "$RIG_DIR"
  local t0=$SECONDS
  RIG_DIR=$RIG_DIR/x11 bash "$HERE/x11.sh" start >"$RIG_DIR/x11.env"
  RIG_DIR=$RIG_DIR/pulse bash "$HERE/pulse.sh" start >"$RIG_DIR/pulse.env"
  # shellcheck disable=SC1091
  source "$RIG_DIR/x11.env"; source "$RIG_DIR/pulse.env"
  wine_env
  if [[ ! -f $PREFIX/system.reg ]]; then
    "$WINE" wineboot --init >"$RIG_DIR/wineboot.log" 2>&1 || { cat "$RIG_DIR/wineboot.log" >&2; exit 1; }
    "$WINE" reg add 'HKCU\Software\Wine' /v Version /d win10 /f >>"$RIG_DIR/wineboot.log" 2>&1
  fi
  wineserver -w 2>/dev/null || true   # let wineboot's services settle
  wake
  touch "$RIG_DIR/started"
  echo "# wine rig ready in $((SECONDS - t0)) s" >&2
  print_env
}

stop() {
  if [[ -d $PREFIX ]]; then (wine_env; timeout 20 wineserver -k 2>/dev/null || true); fi
  RIG_DIR=$RIG_DIR/pulse bash "$HERE/pulse.sh" stop 2>/dev/null || true
  RIG_DIR=$RIG_DIR/x11 bash "$HERE/x11.sh" stop 2>/dev/null || true
  rm -f "$RIG_DIR/started" "$RIG_DIR/x11.env" "$RIG_DIR/pulse.env"
}

# A persistent wineserver and Wine's services (winedevice.exe ...) up, started with no
# inherited stdout: else they keep a caller's pipe open (ctest, $(...)) and it never ends.
wake() {
  wineserver -p </dev/null >/dev/null 2>&1 || true
  "$WINE" cmd /c exit </dev/null >/dev/null 2>&1 || true
}

run() {
  start >/dev/null
  # shellcheck disable=SC1091
  source "$RIG_DIR/x11.env"; source "$RIG_DIR/pulse.env"
  wine_env
  export MINIAV_RIG_WINE_DIR=$RIG_DIR
  pgrep -f "wineserver.* -p" >/dev/null || wake
  exec "$WINE" "$@"
}

case ${1:-} in
  start) start ;;
  env) print_env ;;
  stop) stop ;;
  run) shift; run "$@" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
