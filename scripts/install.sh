#!/usr/bin/env bash
# Installs MiniAV from this checkout: toolchain if missing, npm packages, the native
# addon and the TypeScript packages. Afterwards `npx miniav` works here.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/apt-ensure.sh cmake:cmake g++:g++ make:make
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
npm run build --silent
