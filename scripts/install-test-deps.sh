#!/usr/bin/env bash
# Installs what building and testing MiniAV needs on Debian/Ubuntu: a C/C++ toolchain,
# CMake, the XCB, PulseAudio, PipeWire and D-Bus headers, Xvfb, PulseAudio, PipeWire and headless sway with
# xdg-desktop-portal(-wlr) for the rigs, QEMU +
# Debian's kernel + static busybox for the V4L2 rig (a VM with the vivid driver) and
# v4l-utils (v4l2-ctl, the tests' reference), mingw-w64 + Wine for the Windows build and its
# tests (and Windows node.exe from npm), Chromium for the @miniav/web tests (driven by
# playwright-core from npm, never a browser download), ffmpeg (ffprobe checks the CLI's files, and
# the benchmarks compare against it), and the npm packages.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/apt-ensure.sh cmake:cmake g++:g++ make:make ffprobe:ffmpeg Xvfb:xvfb xsetroot:x11-xserver-utils \
  pulseaudio:pulseaudio pactl:pulseaudio-utils /usr/include/pulse/pulseaudio.h:libpulse-dev \
  pipewire:pipewire-bin pipewire-pulse:pipewire-pulse wireplumber:wireplumber dbus-daemon:dbus \
  /usr/include/xcb/xcb.h:libxcb1-dev /usr/include/xcb/shm.h:libxcb-shm0-dev \
  /usr/include/xcb/randr.h:libxcb-randr0-dev /usr/include/xcb/xfixes.h:libxcb-xfixes0-dev \
  /usr/include/xcb/damage.h:libxcb-damage0-dev /usr/include/xcb/render.h:libxcb-render0-dev \
  pkg-config:pkg-config /usr/include/pipewire-0.3/pipewire/pipewire.h:libpipewire-0.3-dev \
  /usr/include/spa-0.2/spa/param/video/format-utils.h:libspa-0.2-dev /usr/include/dbus-1.0/dbus/dbus.h:libdbus-1-dev \
  sway:sway swaybg:swaybg /usr/libexec/xdg-desktop-portal:xdg-desktop-portal \
  /usr/libexec/xdg-desktop-portal-wlr:xdg-desktop-portal-wlr dbus-send:dbus-bin setpriv:util-linux \
  qemu-system-x86_64:qemu-system-x86 /bin/busybox:busybox-static cpio:cpio v4l2-ctl:v4l-utils \
  chromium:chromium xprop:x11-utils \
  x86_64-w64-mingw32-gcc-posix:gcc-mingw-w64-x86-64 x86_64-w64-mingw32-g++-posix:g++-mingw-w64-x86-64 \
  /usr/share/mingw-w64/include/audioclient.h:mingw-w64-x86-64-dev /usr/lib/wine/wine64:wine64 wineserver:wine \
  /usr/lib/x86_64-linux-gnu/dri/swrast_dri.so:libgl1-mesa-dri
# The VM boots the distribution's own kernel (any installed one with the vivid module will do).
compgen -G '/boot/vmlinuz-*' >/dev/null || bash scripts/apt-ensure.sh /boot/vmlinuz:linux-image-amd64
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
# Windows Node for the Windows addon's tests under Wine (scripts/test-win.sh).
bash scripts/fetch-node-win.sh
