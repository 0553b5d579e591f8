#!/usr/bin/env bash
# apt-ensure.sh COMMAND:PACKAGE ... — installs each Debian PACKAGE whose COMMAND is
# missing (apt-get update only when something is). Root or sudo.
set -euo pipefail
need=()
for pair in "$@"; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
[ ${#need[@]} -eq 0 ] && exit 0
echo "apt-ensure: installing ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
