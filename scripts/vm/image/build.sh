#!/usr/bin/env bash
# Builds the VM test tier's guest: a Debian 12 (bookworm) root filesystem made by mmdebstrap, as an
# ext4 disk image (mkfs.ext4 -d: no loop mount), plus the kernel for direct boot (an uncompressed
# vmlinux extracted from the package's vmlinuz: under software emulation the guest decompressing
# its own kernel costs seconds) and a small initrd (virtio + ext4 modules only).
#
#   scripts/vm/image/build.sh OUT_DIR
#
# Writes OUT_DIR/{rootfs.img,vmlinux,initrd.img,manifest.json} atomically (built in OUT_DIR.tmp-PID,
# then renamed). Needs root, mmdebstrap, e2fsprogs, xz-utils and network access to the Debian mirror
# ($UNITPOOL_VM_MIRROR, default http://deb.debian.org/debian). The runner (scripts/vm/run.mjs) calls
# it under a lock, with OUT_DIR named by a hash of every file in this directory (this script, the
# package list, the guest files) and the mirror: change any of them and the image is rebuilt.
#
# Also used as mmdebstrap's hook: build.sh --hook essential|customize ROOTFS.
set -euo pipefail

BUILD_VERSION=1
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SUITE=bookworm
MIRROR="${UNITPOOL_VM_MIRROR:-http://deb.debian.org/debian}"

# ---- mmdebstrap hooks (run on the host, $1 = the root filesystem being built) ----------------------
hook_essential() {
  local root="$1"
  # Before linux-image-amd64 is installed: keep the initrd that initramfs-tools builds for it small
  # and quick to make (MODULES=list: nothing but what we name). The VM boots with our own initrd
  # (below), not that one: initramfs-tools starts udev in the initrd, which alone costs ~10 s under
  # software emulation.
  mkdir -p "$root/etc/initramfs-tools/conf.d"
  printf 'MODULES=list\n' > "$root/etc/initramfs-tools/conf.d/unitpool-vm"
}

# The VM's initrd: static busybox, the virtio-pci/virtio-blk/ext4 modules in dependency order, and an
# /init that loads them, mounts /dev/vda and switches to it. No udev: devtmpfs makes /dev/vda.
make_initrd() {
  local root="$1" out="$2"
  chroot "$root" /bin/sh -eu <<'CHROOT'
KVER="$(ls /lib/modules | sort -V | tail -n1)"
D=/tmp/unitpool-initrd
rm -rf "$D"
mkdir -p "$D/bin" "$D/dev" "$D/proc" "$D/sys" "$D/newroot" "$D/modules"
cp /bin/busybox "$D/bin/busybox"
modprobe -a -S "$KVER" --show-depends virtio_pci virtio_blk crc32c_generic ext4 \
  | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' > "$D/modules/paths"
while read -r m; do cp "$m" "$D/modules/"; basename "$m" >> "$D/modules/order"; done < "$D/modules/paths"
rm "$D/modules/paths"
cat > "$D/init" <<'INIT'
#!/bin/busybox sh
bb=/bin/busybox
$bb mount -t devtmpfs devtmpfs /dev
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
for m in $($bb cat /modules/order); do $bb insmod "/modules/$m" 2>/dev/null; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do $bb sleep 0.1; i=$((i + 1)); done
if ! $bb mount -t ext4 -o rw,noatime /dev/vda /newroot; then
  echo "unitpool-vm initrd: cannot mount /dev/vda; modules: $($bb cat /proc/modules | $bb cut -d' ' -f1 | $bb tr '\n' ' ')"
  $bb poweroff -f
fi
$bb umount /proc /sys
$bb mount --move /dev /newroot/dev
exec $bb switch_root /newroot /sbin/init "$@"
INIT
chmod 0755 "$D/init"
cd "$D" && find . | busybox cpio -o -H newc > /tmp/unitpool-initrd.cpio 2>/dev/null
rm -rf "$D"
CHROOT
  mv "$root/tmp/unitpool-initrd.cpio" "$out"
}

hook_customize() {
  local root="$1"
  echo unitpool-vm > "$root/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 unitpool-vm\n::1 localhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
  printf '/dev/vda / ext4 rw,noatime 0 0\n' > "$root/etc/fstab"
  # A fixed machine id: every run starts from the same image (a throw-away overlay), and an empty one
  # would make each boot a "first boot" (presets, firstboot prompts).
  echo 2f6a3c1e9b8d4e7f8a1b2c3d4e5f6a7b > "$root/etc/machine-id"
  mkdir -p "$root/etc/systemd/journald.conf.d"
  printf '[Journal]\nStorage=volatile\nForwardToConsole=no\n' > "$root/etc/systemd/journald.conf.d/unitpool-vm.conf"
  # Loaded by systemd-modules-load early in the boot, in parallel with the rest, for the command unit.
  printf '9pnet_virtio\n9p\noverlay\n' > "$root/etc/modules-load.d/unitpool-vm.conf"
  install -m 0755 "$HERE/guest/unitpool-vm-command" "$root/usr/local/sbin/unitpool-vm-command"
  install -m 0644 "$HERE/guest/unitpool-vm-command.service" "$root/etc/systemd/system/unitpool-vm-command.service"
  systemctl --root="$root" enable unitpool-vm-command.service
  # Nothing logs in, nothing is maintained, the root file system is mounted read-write by the initrd,
  # and the journal is volatile: mask what only costs boot time under emulation. udevd still runs, but
  # without the coldplug "trigger" (10 s of CPU under TCG, on the critical path to sysinit.target):
  # nothing here needs udev's view of the boot-time devices (the command unit loads the 9p and overlay
  # modules itself and finds the IO test disk in /sys; systemd takes IO limits by device node).
  systemctl --root="$root" mask \
    getty@tty1.service serial-getty@ttyS0.service console-getty.service \
    apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service \
    fstrim.timer systemd-timesyncd.service \
    modprobe@drm.service modprobe@efi_pstore.service modprobe@fuse.service modprobe@loop.service \
    modprobe@dm_mod.service modprobe@configfs.service \
    dev-hugepages.mount sys-kernel-debug.mount sys-kernel-tracing.mount sys-fs-fuse-connections.mount \
    sys-kernel-config.mount proc-sys-fs-binfmt_misc.automount systemd-binfmt.service \
    kmod-static-nodes.service systemd-remount-fs.service systemd-random-seed.service systemd-pstore.service \
    systemd-journal-flush.service systemd-hwdb-update.service ldconfig.service systemd-firstboot.service \
    systemd-machine-id-commit.service systemd-sysusers.service \
    systemd-update-utmp.service systemd-update-utmp-runlevel.service dev-mqueue.mount \
    systemd-udev-trigger.service >/dev/null 2>&1
  systemctl --root="$root" set-default multi-user.target
  make_initrd "$root" "$root/.unitpool-initrd"
}

if [ "${1:-}" = --hook ]; then
  case "$2" in
    essential) hook_essential "$3" ;;
    customize) hook_customize "$3" ;;
    *) echo "build.sh: unknown hook $2" >&2; exit 2 ;;
  esac
  exit 0
fi

# ---- the build --------------------------------------------------------------------------------------
OUT="${1:?usage: build.sh OUT_DIR}"
[ "$(id -u)" = 0 ] || { echo "build.sh: building the VM image needs root (mmdebstrap in root mode, file ownership in the image)" >&2; exit 1; }
for tool in mmdebstrap mkfs.ext4 xz; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool is missing: apt-get install mmdebstrap e2fsprogs xz-utils" >&2; exit 1; }
done

if [ -f "$OUT/manifest.json" ]; then echo "build.sh: $OUT is already built"; exit 0; fi
START=$(date +%s.%N)
TMP="$OUT.tmp-$$"
CACHE="${UNITPOOL_VM_APT_CACHE:-$(dirname "$OUT")/apt-archives}" # .deb files kept between builds: a rebuild downloads only what changed
rm -rf "$TMP"
mkdir -p "$TMP" "$CACHE"
trap 'rm -rf "$TMP"' EXIT

PACKAGES="$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$HERE/packages.txt" | grep -v '^$' | paste -sd, -)"
echo "build.sh: mmdebstrap $SUITE ($PACKAGES) from $MIRROR"
mmdebstrap --variant=minbase --mode=root --quiet \
  --include="$PACKAGES" \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --skip=essential/unlink \
  --setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
  --setup-hook="sync-in '$CACHE' /var/cache/apt/archives" \
  --essential-hook="'$HERE/build.sh' --hook essential \"\$1\"" \
  --customize-hook="'$HERE/build.sh' --hook customize \"\$1\"" \
  --customize-hook="sync-out /var/cache/apt/archives '$CACHE'" \
  --customize-hook='chroot "$1" dpkg-query -W -f "\${Package} \${Version}\n" > "$1/.packages"' \
  "$SUITE" "$TMP/rootfs" "$MIRROR"
AFTER_DEBOOTSTRAP=$(date +%s.%N)

ROOT="$TMP/rootfs"
KVER="$(basename "$(ls "$ROOT"/boot/vmlinuz-* | sort -V | tail -n1)" | sed 's/^vmlinuz-//')"
mv "$ROOT/.unitpool-initrd" "$TMP/initrd.img"

# vmlinuz is a bzImage whose payload is an xz (or gzip/zstd) stream: find its start and decompress it
# (what the kernel's scripts/extract-vmlinux does). qemu boots the ELF through its PVH entry point.
extract_vmlinux() {
  local img="$1" out="$2" magic tool off
  for pair in '\xfd7zXZ\x00:xz -dc' '\x1f\x8b\x08:gzip -dc' '\x28\xb5\x2f\xfd:zstd -dc'; do
    magic="${pair%%:*}" tool="${pair#*:}"
    command -v "${tool%% *}" >/dev/null || continue
    for off in $(LC_ALL=C grep -obUaP "$magic" "$img" | cut -d: -f1); do
      tail -c +"$((off + 1))" "$img" | $tool > "$out" 2>/dev/null || true
      if [ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then return 0; fi
    done
  done
  return 1
}
extract_vmlinux "$ROOT/boot/vmlinuz-$KVER" "$TMP/vmlinux" || { echo "build.sh: could not extract an ELF vmlinux from vmlinuz-$KVER" >&2; exit 1; }

mv "$ROOT/.packages" "$TMP/packages.installed"
USED_MB=$(du -sm "$ROOT" | cut -f1)
SIZE_MB=$(( USED_MB + 1024 > 2048 ? USED_MB + 1024 : 2048 ))
mkfs.ext4 -q -F -L unitpool-vm -E root_owner=0:0 -d "$ROOT" "$TMP/rootfs.img" "${SIZE_MB}M"
rm -rf "$ROOT"
END=$(date +%s.%N)

cat > "$TMP/manifest.json" <<JSON
{
  "buildVersion": $BUILD_VERSION,
  "suite": "$SUITE",
  "mirror": "$MIRROR",
  "kernel": "$KVER",
  "rootfsUsedMB": $USED_MB,
  "diskMB": $SIZE_MB,
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "mmdebstrapSeconds": $(awk "BEGIN{printf \"%.1f\", $AFTER_DEBOOTSTRAP - $START}"),
  "buildSeconds": $(awk "BEGIN{printf \"%.1f\", $END - $START}")
}
JSON
rm -rf "$OUT"
mv "$TMP" "$OUT"
trap - EXIT
echo "build.sh: image ready in $OUT ($(awk "BEGIN{printf \"%.0f\", $END - $START}") s; kernel $KVER; ${USED_MB} MB used of a ${SIZE_MB} MB disk)"
