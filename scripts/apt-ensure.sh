#!/usr/bin/env bash
# apt-ensure.sh WHAT:PACKAGE ... — installs each Debian PACKAGE whose WHAT is missing:
# WHAT is a command name, or an absolute path of a file the package provides.
# apt-get update runs only when something is missing. Root or sudo.
set -euo pipefail
need=()
for pair in "$@"; do
  what=${pair%%:*}
  if [[ $what == /* ]]; then [[ -e $what ]] || need+=("${pair#*:}")
  else command -v "$what" >/dev/null || need+=("${pair#*:}"); fi
done
[ ${#need[@]} -eq 0 ] && exit 0
echo "apt-ensure: installing ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
