#!/usr/bin/env bash
# V4L2 test rig: boots Debian's own kernel in QEMU with the vivid virtual video driver
# loaded and runs ONE command in it, passing back its stdout, stderr and exit status.
#
#   bash scripts/rigs/vivid-vm.sh 'cd build/c-release && ./test_v4l2'   # one arg: bash -c
#   bash scripts/rigs/vivid-vm.sh node --test packages/node/test/v4l2.test.mjs   # argv
#   bash scripts/rigs/vivid-vm.sh --check       # says what is missing; exit 0 = usable
#
# The guest sees the host's whole filesystem read-only (virtio-9p) under an overlayfs with a
# tmpfs upper layer: every host binary, library and node_modules works, and writes anywhere
# (build/, /tmp, ...) succeed but are thrown away at power-off. Only results that must come
# back need a writable share:
#   MINIAV_VIVID_OUT    host dir writable from the guest, exported to the command. Default:
#                       a fresh dir per run, deleted afterwards (disk-backed scratch space;
#                       the overlay's writes live in guest RAM). Set it to keep the outputs.
#   MINIAV_VIVID_RW     more host dirs writable from the guest, comma-separated (same path).
# The command runs as root in the host's current directory, stdin /dev/null, stdout/stderr
# pipes, with the host's environment minus host services (DISPLAY, WAYLAND_DISPLAY,
# XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS, PULSE_SERVER, PIPEWIRE_*), plus
# MINIAV_IN_VIVID_VM=1. Fresh /proc /sys /dev /dev/pts /dev/shm /run; no network, no udev.
# Before it: `modprobe vivid $MINIAV_VIVID_PARAMS` and a wait for /dev/video0.
# What it leaves running in the background is killed when it exits.
#
# Settings (env):
#   MINIAV_VIVID_PARAMS   vivid options; default 'n_devs=1 node_types=0x1': one capture-only
#                         device, /dev/video0. Set but empty = the driver's defaults (video0
#                         capture, video1 output, vbi, radio, sdr, meta, touch nodes).
#                         'n_devs=2 node_types=0x1,0x1' gives two cameras, video0 + video1.
#   MINIAV_VIVID_TIMEOUT  seconds for the whole run (600)      MINIAV_VIVID_MEM   MiB (1024)
#   MINIAV_VIVID_SMP      virtual CPUs (2)                      MINIAV_VIVID_KEEP=1 keep run dir
#   MINIAV_VIVID_VERBOSE=1  timings and the console log tail on stderr
#   MINIAV_VIVID_BASE     cached initramfs + run dirs (/tmp/miniav-vivid-vm); parallel runs
#                         each get their own run dir
#
# Exit status: the command's; 124 timeout; 125 rig failure (console log tail printed);
# 126 vivid did not load; 2 usage.
#
# Needs Debian's qemu-system-x86 busybox-static cpio linux-image-amd64 (any kernel whose
# /boot/vmlinuz-V and /lib/modules/V with vivid are installed; the newest is used).
#
# Why it is built this way:
# - TCG (software emulation), not KVM: the KVM of some cloud VMs (e.g. Firecracker with
#   KVM-PVM) only runs guest kernels built for it; Debian's hangs right after real mode.
#   TCG boots to vivid-ready in a few seconds anyway.
# - -cpu max,smap=off: QEMU 7.2's TCG faults a user-mode iretq when SMAP is on (seen as an
#   oops killing wine processes in the guest).
# - stdout/stderr travel on their own serial ports (ttyS1/ttyS2) through QEMU pipe chardevs
#   (fifos here), so the guest's kernel console (ttyS0, a log file) never mixes in; the
#   exit status comes back as a file in the run dir.
# - The initramfs holds only a static busybox, vivid/init and the virtio/9p/overlay
#   modules (load order from the kernel's modules.dep); vivid itself is modprobe'd from the
#   host's /lib/modules once the host root is mounted.
# - The kernel boots from the ELF vmlinux unpacked out of /boot/vmlinuz (PVH entry), cached
#   with the initramfs: the bzImage's own xz unpacking costs ~2.5 s per boot under TCG.
# Measured on a 2-core cloud VM: `true` ~3.5-4 s in all (vivid ready at ~3.3 s of guest
# uptime); the first run adds ~1 s to build the caches. Serial output runs at ~0.5 MB/s:
# write big outputs to MINIAV_VIVID_OUT.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BASE=${MINIAV_VIVID_BASE:-/tmp/miniav-vivid-vm}
PARAMS=${MINIAV_VIVID_PARAMS-n_devs=1 node_types=0x1}
TIMEOUT=${MINIAV_VIVID_TIMEOUT:-600}
VERBOSE=${MINIAV_VIVID_VERBOSE:-0}
PACKAGES='qemu-system-x86 busybox-static cpio linux-image-amd64'
export PATH=$PATH:/usr/sbin:/sbin   # modprobe, for non-root users too

vivid_module() { find "/lib/modules/$1/kernel/drivers/media" -name 'vivid.ko*' -print -quit 2>/dev/null; }

# newest kernel that has a readable vmlinuz, modules.dep and the vivid module
kernel_version() {
  local v best=
  for v in $(ls /lib/modules 2>/dev/null | sort -V); do
    [[ -r /boot/vmlinuz-$v && -f /lib/modules/$v/modules.dep && -n $(vivid_module "$v") ]] && best=$v
  done
  echo "$best"
}
KVER=$(kernel_version)

missing() { # one line per missing piece
  command -v qemu-system-x86_64 >/dev/null || echo "qemu-system-x86_64 (qemu-system-x86)"
  # ldd fails on a static binary; a dynamic busybox would not run in the bare initramfs
  if [[ ! -x /bin/busybox ]] || ldd /bin/busybox >/dev/null 2>&1; then
    echo "a static /bin/busybox (busybox-static)"
  fi
  command -v cpio >/dev/null || echo "cpio (cpio)"
  [[ -n $KVER ]] || echo "a readable /boot/vmlinuz-* with its vivid module (linux-image-amd64)"
}

if [[ ${1:-} == --check ]]; then
  gaps=$(missing)
  if [[ -z $gaps ]]; then echo "vivid-vm: ok (kernel $KVER)"; exit 0; fi
  echo "vivid-vm: missing:"; sed 's/^/  /' <<<"$gaps"
  echo "  install: apt-get install --no-install-recommends $PACKAGES"
  exit 1
fi
if [[ $# == 0 || $1 == -h || $1 == --help ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2
fi
gaps=$(missing)
if [[ -n $gaps ]]; then
  echo "vivid-vm: cannot run, missing: $(paste -sd';' <<<"$gaps" | sed 's/;/; /g')" >&2
  echo "vivid-vm: apt-get install --no-install-recommends $PACKAGES" >&2
  exit 125
fi
[[ $BASE == /* && $BASE != *[[:space:]]* ]] || { echo "vivid-vm: MINIAV_VIVID_BASE must be an absolute path without spaces" >&2; exit 125; }
mkdir -p "$BASE"

# Cached per kernel + init script + busybox; built aside and renamed, so parallel runs that
# build at the same time just produce the same file.
initramfs() {
  local key img tmp f m
  key=$( { echo "$KVER"; stat -c '%s %Y' "/boot/vmlinuz-$KVER" "/lib/modules/$KVER/modules.dep" /bin/busybox
           cat "$HERE/vivid/init"; } | sha256sum | cut -c1-16)
  img=$BASE/initramfs-$KVER-$key.cpio.gz
  [[ -s $img ]] && { echo "$img"; return; }
  tmp=$(mktemp -d "$BASE/initramfs.XXXXXX")
  mkdir -p "$tmp"/{bin,dev,proc,sys,mod}
  cp /bin/busybox "$tmp/bin/"
  cp "$HERE/vivid/init" "$tmp/init"; chmod 755 "$tmp/init"
  # "insmod PATH" lines in load order; built-in modules print "builtin NAME" and are skipped
  modprobe -S "$KVER" --show-depends -a virtio_pci 9pnet_virtio 9p overlay |
    awk '$1 == "insmod" && !seen[$2]++ { print $2 }' >"$tmp/list"
  [[ -s $tmp/list ]] || { echo "vivid-vm: modprobe --show-depends listed no modules" >&2; return 1; }
  while read -r f; do
    m=$(basename "$f"); m=${m%%.ko*}
    case $f in
      *.xz) xz -dc "$f" ;; *.zst) zstd -qdc "$f" ;; *.gz) gzip -dc "$f" ;; *) cat "$f" ;;
    esac >"$tmp/mod/$m.ko"
    echo "$m" >>"$tmp/mod/order"
  done <"$tmp/list"
  rm "$tmp/list"
  (cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) >"$tmp.cpio.gz" || return 1
  mv "$tmp.cpio.gz" "$img"
  rm -rf "$tmp"
  echo "$img"
}

# The bzImage unpacks itself (xz), which takes ~2.5 s under TCG: boot the ELF vmlinux inside
# it instead, through its PVH entry point, unpacked here once per kernel.
kernel_image() {
  local vmlinuz=/boot/vmlinuz-$KVER elf off
  elf=$BASE/vmlinux-$KVER-$(stat -c '%s %Y' "$vmlinuz" | sha256sum | cut -c1-16)
  [[ -s $elf ]] && { echo "$elf"; return; }
  if grep -qx 'CONFIG_PVH=y' "/boot/config-$KVER" 2>/dev/null; then
    # the first xz magic may be a false match: take the first offset that unpacks to an ELF
    for off in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | cut -d: -f1 | head -n 3); do
      tail -c +$((off + 1)) "$vmlinuz" | xz -dcq >"$elf.$$" 2>/dev/null   # trailing data: xz fails, output is whole
      if [[ $(head -c 4 "$elf.$$") == $'\x7fELF' ]]; then mv "$elf.$$" "$elf"; echo "$elf"; return; fi
    done
    rm -f "$elf.$$"
  fi
  echo "$vmlinuz"   # cannot unpack it: boot the bzImage, just slower
}
IMG=$(initramfs) || { echo "vivid-vm: building the initramfs failed" >&2; exit 125; }
KERNEL=$(kernel_image)
# files of older kernels / init scripts (unless a run may still be starting with one)
find "$BASE" -maxdepth 1 \( -name 'initramfs-*' -o -name 'vmlinux-*' \) \
  ! -name "${IMG##*/}" ! -name "${KERNEL##*/}" -mmin +60 -delete

RUN=$(mktemp -d "$BASE/run.XXXXXX")
qemu_pid= relays=()
cleanup() {
  [[ -n $qemu_pid ]] && kill "$qemu_pid" 2>/dev/null
  if [[ ${MINIAV_VIVID_KEEP:-0} == 1 ]]; then echo "vivid-vm: run dir kept: $RUN" >&2; else rm -rf "$RUN"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Writable shares: the run dir (tag "run", rc/timings/guest.sh), MINIAV_VIVID_OUT and
# MINIAV_VIVID_RW; the guest's init mounts the ones listed in $RUN/mounts.
OUT=${MINIAV_VIVID_OUT:-$RUN/out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd -P)
shares=(-virtfs "local,path=$RUN,mount_tag=run,security_model=none,multidevs=remap")
IFS=, read -r -a rw_dirs <<<"${MINIAV_VIVID_RW:-}"
[[ $OUT == "$RUN"/* ]] || rw_dirs+=("$OUT")
n=0
: >"$RUN/mounts"
for d in "${rw_dirs[@]}"; do
  [[ -n $d ]] || continue
  [[ -d $d ]] || { echo "vivid-vm: MINIAV_VIVID_RW: $d is not a directory" >&2; exit 125; }
  d=$(cd "$d" && pwd -P)
  shares+=(-virtfs "local,path=$d,mount_tag=rw$n,security_model=none,multidevs=remap")
  echo "rw$n $d" >>"$RUN/mounts"
  n=$((n + 1))
done

# The script the guest runs (chrooted into the host's filesystem): environment, vivid, command.
{
  echo '#!/bin/bash'
  for v in $(compgen -e); do
    case $v in
      DISPLAY | WAYLAND_DISPLAY | XDG_RUNTIME_DIR | DBUS_SESSION_BUS_ADDRESS | PULSE_SERVER | PIPEWIRE_* | \
        PWD | OLDPWD | SHLVL | _ | BASHOPTS | SHELLOPTS | MINIAV_VIVID_OUT) continue ;;
    esac
    [[ -v $v ]] && printf 'export %s=%q\n' "$v" "${!v}"
  done
  printf 'export MINIAV_IN_VIVID_VM=1 MINIAV_VIVID_OUT=%q\n' "$OUT"
  read -r -a words <<<"$PARAMS"
  printf 'if ! modprobe vivid'; [[ ${#words[@]} == 0 ]] || printf ' %q' "${words[@]}"; printf '; then\n'
  echo '  echo "vivid-vm: modprobe vivid failed" >&2; dmesg | tail -n 20 >&2; exit 126; fi'
  echo 'for _ in $(seq 100); do [[ -c /dev/video0 ]] && break; sleep 0.05; done'
  echo '[[ -c /dev/video0 ]] || { echo "vivid-vm: no /dev/video0 after loading vivid" >&2; dmesg | tail -n 20 >&2; exit 126; }'
  printf 'echo "ready=$(cut -d" " -f1 /proc/uptime)" >>%q\n' "$RUN/timings"
  printf 'cd %q || exit 125\n' "$PWD"
  if [[ $# == 1 ]]; then printf 'exec bash -c %q\n' "$1"; else printf 'exec'; printf ' %q' "$@"; echo; fi
} >"$RUN/guest.sh"

# Guest stdout/stderr: QEMU writes NAME.out (and would read NAME.in); cats relay them here.
for s in out err; do mkfifo "$RUN/$s.in" "$RUN/$s.out"; done
cat "$RUN/out.out" & relays+=($!)
cat "$RUN/err.out" >&2 & relays+=($!)

t0=$EPOCHREALTIME
# mitigations=off: speculative-execution workarounds only slow an emulated CPU down
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 \
  -accel tcg -cpu max,smap=off -m "${MINIAV_VIVID_MEM:-1024}" -smp "${MINIAV_VIVID_SMP:-2}" \
  -nodefaults -display none -monitor none -nic none -no-reboot \
  -kernel "$KERNEL" -initrd "$IMG" \
  -append "console=ttyS0 loglevel=4 panic=-1 mitigations=off miniav.run=$RUN" \
  -serial "file:$RUN/console.log" \
  -chardev "pipe,id=out,path=$RUN/out" -serial chardev:out \
  -chardev "pipe,id=err,path=$RUN/err" -serial chardev:err \
  -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
  "${shares[@]}" </dev/null >"$RUN/qemu.log" 2>&1 &
qemu_pid=$!
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=
t1=$EPOCHREALTIME
# QEMU is gone, so the relays get EOF - unless QEMU died before opening the fifos: an
# O_RDWR open never blocks and lets a relay still stuck in open() through to EOF.
for _ in $(seq 50); do
  alive=0
  for p in "${relays[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
  [[ $alive == 1 ]] || break
  for s in out err; do : <>"$RUN/$s.out"; done
  sleep 0.02
done
wait "${relays[@]}" 2>/dev/null || true

console_tail() {
  [[ -s $RUN/console.log ]] || return 0
  echo "---- vivid-vm: console log (tail) ----"; tail -n "$1" "$RUN/console.log"
} >&2
if [[ -s $RUN/rc ]]; then
  rc=$(<"$RUN/rc")
elif [[ $qemu_rc == 124 || $qemu_rc == 137 ]]; then
  rc=124; echo "vivid-vm: timed out after ${TIMEOUT}s" >&2
else
  rc=125; echo "vivid-vm: the guest reported no exit status (qemu exit $qemu_rc)" >&2
  cat "$RUN/qemu.log" >&2
fi
if [[ $VERBOSE == 1 ]]; then
  echo "vivid-vm: kernel ${KERNEL##*/}, wall $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s," \
    "guest uptime at: $(tr '\n' ' ' <"$RUN/timings" 2>/dev/null)" >&2
  console_tail 15
elif [[ $rc == 124 || $rc == 125 || $rc == 126 ]]; then
  console_tail 30
fi
exit "$rc"
