#!/usr/bin/env bash
# The WebGPU example's test on a machine with a GPU: Chromium uses the real adapter
# (MINIAV_WEBGPU_ADAPTER=default) instead of SwiftShader. Needs what the web tests need
# (chromium, npm install at the root, packages/web built). Prints the adapter it used.
#   bash packages/web/scripts/webgpu-check.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
[[ -f packages/web/dist/index.js ]] || npx tsc -b packages/web
MINIAV_WEBGPU_ADAPTER=default node --test packages/web/test/webgpu.test.mjs
