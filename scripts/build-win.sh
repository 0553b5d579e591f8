#!/usr/bin/env bash
# Cross-compiles the C core, its tests and (with --addon) the Node addon for 64-bit Windows
# with mingw-w64, into build/win (C) and packages/node/prebuilds/win32-x64 (addon).
# The tests run under Wine: `ctest --test-dir build/win` uses scripts/rigs/wine.sh as the
# emulator (start the rig first: eval "$(bash scripts/rigs/wine.sh start)").
#
#   bash scripts/build-win.sh [--addon] [--config Release|Debug]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
config=Release addon=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --addon) addon=1 ;;
    --config) config=$2; shift ;;
    *) echo "usage: $0 [--addon] [--config Release|Debug]" >&2; exit 2 ;;
  esac
  shift
done
command -v x86_64-w64-mingw32-gcc-posix >/dev/null || {
  echo "build-win: no mingw-w64 (apt-get install gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64; scripts/install-test-deps.sh does)" >&2
  exit 1
}
cmake -S miniav_c -B build/win -DCMAKE_BUILD_TYPE="$config" \
  -DCMAKE_TOOLCHAIN_FILE="$ROOT/miniav_c/cmake/mingw-w64-x86_64.cmake" \
  -DCMAKE_CROSSCOMPILING_EMULATOR="$ROOT/scripts/rigs/wine.sh;run" >/dev/null
cmake --build build/win -j2
if [[ $addon == 1 ]]; then
  node packages/node/scripts/build-native.mjs --target win32-x64
fi
