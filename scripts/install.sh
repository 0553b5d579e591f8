#!/usr/bin/env bash
# Installs MiniAV from this checkout: toolchain if missing, npm packages, the native
# addon and the TypeScript packages. Afterwards `npx miniav` works here.
set -euo pipefail
cd "$(dirname "$0")/.."
# The XCB, PulseAudio, PipeWire and D-Bus headers let the build include X11 screen capture,
# PulseAudio audio, PipeWire cameras and Wayland (portal) screen capture; the libraries
# themselves load at run time, when present. V4L2 needs only the kernel headers that come
# with the compiler.
bash scripts/apt-ensure.sh cmake:cmake g++:g++ make:make /usr/include/pulse/pulseaudio.h:libpulse-dev \
  /usr/include/xcb/xcb.h:libxcb1-dev /usr/include/xcb/shm.h:libxcb-shm0-dev \
  /usr/include/xcb/randr.h:libxcb-randr0-dev /usr/include/xcb/xfixes.h:libxcb-xfixes0-dev \
  /usr/include/xcb/damage.h:libxcb-damage0-dev /usr/include/xcb/render.h:libxcb-render0-dev \
  pkg-config:pkg-config /usr/include/pipewire-0.3/pipewire/pipewire.h:libpipewire-0.3-dev \
  /usr/include/spa-0.2/spa/param/video/format-utils.h:libspa-0.2-dev /usr/include/dbus-1.0/dbus/dbus.h:libdbus-1-dev
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
npm run build --silent
