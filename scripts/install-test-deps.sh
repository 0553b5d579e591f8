#!/usr/bin/env bash
# Installs what building and testing MiniAV needs on Debian/Ubuntu: a C/C++ toolchain,
# CMake, ffmpeg (ffprobe checks the CLI's files), and the npm packages.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/apt-ensure.sh cmake:cmake g++:g++ make:make ffprobe:ffmpeg
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
