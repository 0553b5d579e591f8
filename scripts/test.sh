#!/usr/bin/env bash
# Runs every test: builds the packages, the C tests (plain and under
# AddressSanitizer + UndefinedBehaviorSanitizer), then the Node tests.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

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

echo "== Node tests"
node --test --test-concurrency=1 packages/*/test/*.test.mjs
