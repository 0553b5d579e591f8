#!/usr/bin/env bash
# Runs every test: builds the packages, the C tests (plain and under
# AddressSanitizer + UndefinedBehaviorSanitizer), the Node tests against an ASan build
# of the addon, the PulseAudio tests a second time against PipeWire with the PipeWire
# camera tests, the Wayland portal tests on headless sway, the V4L2 tests in a
# VM with the vivid driver (scripts/rigs/vivid-vm.sh), the Windows build (mingw-w64) under
# Wine, the @miniav/web tests in headless Chromium, then the Node tests.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

# Virtual devices: an X server (X11 backend) and a PulseAudio server (audio, loopback).
# Tests that need a rig fail, rather than skip, when it is missing.
export MINIAV_REQUIRE_RIGS=1
x11_rig=$PWD/build/rig-x11
pulse_rig=$PWD/build/rig-pulse
pipewire_rig=$PWD/build/rig-pipewire
portal_rig=/tmp/miniav-rig-portal-$$ # sway runs as `nobody`, who must reach it (not under /root)
trap 'RIG_DIR=$x11_rig bash scripts/rigs/x11.sh stop; RIG_DIR=$pulse_rig bash scripts/rigs/pulse.sh stop; RIG_DIR=$pipewire_rig bash scripts/rigs/pipewire.sh stop; RIG_DIR=$portal_rig bash scripts/rigs/portal.sh stop; rm -rf "$portal_rig"' EXIT
eval "$(RIG_DIR=$x11_rig bash scripts/rigs/x11.sh start)"
eval "$(RIG_DIR=$pulse_rig bash scripts/rigs/pulse.sh start)"

echo "== build"
npm run build --silent

echo "== C tests"
cmake -S miniav_c -B build/c-release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/c-release --parallel "$jobs" >/dev/null
(cd build/c-release && ctest --output-on-failure)

echo "== C tests under AddressSanitizer + UBSan"
cmake -S miniav_c -B build/c-asan -DCMAKE_BUILD_TYPE=Debug -DMINIAV_SANITIZE=ON >/dev/null
cmake --build build/c-asan --parallel "$jobs" >/dev/null
(cd build/c-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure)

echo "== Node addon tests under AddressSanitizer + UBSan"
node packages/node/scripts/build-native.mjs --sanitize >/dev/null
LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" ASAN_OPTIONS=detect_leaks=0 \
  UBSAN_OPTIONS=halt_on_error=1 MINIAV_NATIVE_BINDING=packages/node/build/Sanitize/miniav.node \
  node --test --test-concurrency=1 --test-reporter=dot packages/node/test/*.test.mjs

echo "== PulseAudio tests again, against PipeWire (pipewire-pulse); PipeWire camera tests"
RIG_DIR=$pulse_rig bash scripts/rigs/pulse.sh stop
(
  eval "$(RIG_DIR=$pipewire_rig bash scripts/rigs/pipewire.sh start)"
  export MINIAV_REQUIRE_PIPEWIRE=1
  (cd build/c-release && ctest -R 'test_pulse|test_pipewire_camera' --output-on-failure)
  (cd build/c-asan && ASAN_OPTIONS=detect_leaks=1 ctest -R test_pipewire_camera --output-on-failure)
  node --test --test-concurrency=1 --test-reporter=dot packages/node/test/pulse.test.mjs packages/node/test/pipewire.test.mjs
)
RIG_DIR=$pipewire_rig bash scripts/rigs/pipewire.sh stop
eval "$(RIG_DIR=$pulse_rig bash scripts/rigs/pulse.sh start)"

echo "== Wayland portal screen tests (C, C under ASan/UBSan, Node) on headless sway"
(
  eval "$(RIG_DIR=$portal_rig bash scripts/rigs/portal.sh start)"
  export MINIAV_REQUIRE_PORTAL=1
  (cd build/c-release && ctest -R test_portal --output-on-failure)
  (cd build/c-asan && ASAN_OPTIONS=detect_leaks=1 ctest -R test_portal --output-on-failure)
  node --test --test-concurrency=1 --test-reporter=dot packages/node/test/portal.test.mjs
)
RIG_DIR=$portal_rig bash scripts/rigs/portal.sh stop

echo "== V4L2 tests (C, C under ASan/UBSan, Node) in a VM with the vivid driver"
# Two vivid cameras; the C test ends by unbinding and rebinding the driver, which leaves
# fresh devices for the next test in the same boot.
MINIAV_VIVID_PARAMS='n_devs=2 node_types=0x1,0x1' bash scripts/rigs/vivid-vm.sh '
  rc=0
  build/c-release/test_v4l2 || rc=1
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/c-asan/test_v4l2 || rc=1
  node --test --test-concurrency=1 --test-reporter=dot packages/node/test/v4l2.test.mjs || rc=1
  exit $rc'

echo "== Windows build: C and Node tests under Wine (scripts/test-win.sh)"
bash scripts/test-win.sh

echo "== Web tests (@miniav/web in headless Chromium)"
node --test --test-concurrency=1 --test-reporter=dot packages/web/test/*.test.mjs

echo "== Node tests"
node --test --test-concurrency=1 packages/node/test/*.test.mjs packages/miniav/test/*.test.mjs
