#!/usr/bin/env bash
# Installs what building and testing MiniAV needs on Debian/Ubuntu: a C/C++ toolchain,
# CMake, the XCB and PulseAudio headers, Xvfb, PulseAudio and PipeWire for the rigs, ffmpeg (ffprobe checks the
# CLI's files, and the benchmarks compare against it), and the npm packages.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/apt-ensure.sh cmake:cmake g++:g++ make:make ffprobe:ffmpeg Xvfb:xvfb xsetroot:x11-xserver-utils \
  pulseaudio:pulseaudio pactl:pulseaudio-utils /usr/include/pulse/pulseaudio.h:libpulse-dev \
  pipewire:pipewire-bin pipewire-pulse:pipewire-pulse wireplumber:wireplumber dbus-daemon:dbus \
  /usr/include/xcb/xcb.h:libxcb1-dev /usr/include/xcb/shm.h:libxcb-shm0-dev \
  /usr/include/xcb/randr.h:libxcb-randr0-dev /usr/include/xcb/xfixes.h:libxcb-xfixes0-dev \
  /usr/include/xcb/damage.h:libxcb-damage0-dev
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
