#!/usr/bin/env bash
# Runs every test: builds the packages, the C tests (plain and under
# AddressSanitizer + UndefinedBehaviorSanitizer), the Node tests against an ASan build
# of the addon, the PulseAudio tests a second time against PipeWire, then the Node tests.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

# Virtual devices: an X server (X11 backend) and a PulseAudio server (audio, loopback).
# Tests that need a rig fail, rather than skip, when it is missing.
export MINIAV_REQUIRE_RIGS=1
x11_rig=$PWD/build/rig-x11
pulse_rig=$PWD/build/rig-pulse
pipewire_rig=$PWD/build/rig-pipewire
trap 'RIG_DIR=$x11_rig bash scripts/rigs/x11.sh stop; RIG_DIR=$pulse_rig bash scripts/rigs/pulse.sh stop; RIG_DIR=$pipewire_rig bash scripts/rigs/pipewire.sh stop' EXIT
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

echo "== PulseAudio tests again, against PipeWire (pipewire-pulse)"
RIG_DIR=$pulse_rig bash scripts/rigs/pulse.sh stop
(
  eval "$(RIG_DIR=$pipewire_rig bash scripts/rigs/pipewire.sh start)"
  (cd build/c-release && ctest -R test_pulse --output-on-failure)
  node --test --test-concurrency=1 --test-reporter=dot packages/node/test/pulse.test.mjs
)
RIG_DIR=$pipewire_rig bash scripts/rigs/pipewire.sh stop
eval "$(RIG_DIR=$pulse_rig bash scripts/rigs/pulse.sh start)"

echo "== Node tests"
node --test --test-concurrency=1 packages/*/test/*.test.mjs
