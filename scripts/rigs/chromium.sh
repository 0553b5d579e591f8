#!/usr/bin/env bash
# Chromium rig for the @miniav/web tests and benchmark: Debian's chromium driven by
# playwright-core from the project's own devDependencies (npm install at the root; never a
# browser download), plus, for getDisplayMedia, an Xvfb screen (scripts/rigs/x11.sh) with
# the X atoms Chromium's X11 screen capturer needs.
#
#   eval "$(bash scripts/rigs/chromium.sh start)"   # exports CHROMIUM_PATH, DISPLAY, MINIAV_RIG_X11_*
#   bash scripts/rigs/chromium.sh check              # exit 0 when chromium + playwright-core are usable
#   bash scripts/rigs/chromium.sh stop
#
# Pitfalls (each met while writing the tests):
# * Chromium's X11 capturer asks for WM_STATE, _ICC_PROFILE and _NET_WM_WINDOW_TYPE[_NORMAL]
#   "only if exists"; on a WM-less Xvfb they do not exist, the lookup returns atom 0 and the
#   browser dies with "X Error: BadAtom ... X_GetProperty". We intern them (set and remove a
#   root property: atoms live as long as the server).
# * The fake camera runs at 20 fps unless --use-fake-device-for-media-stream=fps=30.
# * --use-fake-ui-for-media-stream auto-accepts prompts, but for getDisplayMedia it picks a fake
#   screen; the real X screen needs --auto-select-desktop-capture-source=<title> without it
#   (camera/microphone permissions are then granted with context.grantPermissions).
# * The tests pass --headless=new themselves with playwright's headless:false (playwright's own
#   headless adds the old flags and --mute-audio).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
export RIG_DIR=${RIG_DIR:-/tmp/miniav-rig-chromium}

check() {
  [[ -x $CHROMIUM ]] || { echo "chromium rig: $CHROMIUM is missing (apt-get install chromium)" >&2; return 1; }
  [[ -f $ROOT/node_modules/playwright-core/package.json ]] || { echo "chromium rig: playwright-core is missing (npm install at the repository root)" >&2; return 1; }
}

start() {
  check
  local env; env=$(bash "$ROOT/scripts/rigs/x11.sh" start)
  eval "$env"
  local a
  for a in WM_STATE _ICC_PROFILE _NET_WM_WINDOW_TYPE _NET_WM_WINDOW_TYPE_NORMAL; do
    xprop -root -f "$a" 32c -set "$a" 0 && xprop -root -remove "$a"
  done
  echo "$env"
  echo "export CHROMIUM_PATH=$CHROMIUM"
}

stop() {
  bash "$ROOT/scripts/rigs/x11.sh" stop
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  check) check ;;
  *) echo "usage: $0 start|stop|check" >&2; exit 2 ;;
esac
