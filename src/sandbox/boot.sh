#!/bin/bash
# Boots a private systemd as PID 1 of fresh namespaces. Started by src/sandbox/launcher.ts as
#
#   setpriv --pdeathsig KILL -- unshare --pid --mount --uts --ipc --fork --kill-child=SIGKILL \
#       --propagation private -- /bin/bash boot.sh stage1
#
# stage1 runs as PID 1 of the new pid namespace, in a new (private) mount namespace, still in the
# host's cgroup namespace. It moves itself into the sandbox cgroups the launcher made, builds the
# private file system view, then re-executes itself as stage2 in a new cgroup namespace whose root
# is the sandbox cgroup. stage2 mounts the cgroup hierarchies afresh (their roots are now the
# sandbox cgroups), writes the unit files and executes systemd.
#
# Everything is passed in UNITPOOL_SB_* environment variables (see launcher.ts); nothing here
# writes outside the new mount namespace except the cgroup moves into the launcher's own cgroups.
# Exit status 70 with a line "unitpool-sandbox: ..." on stderr means the sandbox could not be built.
set -Eeuo pipefail
set -f            # no globbing of the paths we are given
IFS=$'\n'

die() {
  echo "unitpool-sandbox: $*" >&2
  exit 70
}
trap 'die "boot.sh ${STAGE:-?} failed at line $LINENO (exit status $?): $BASH_COMMAND"' ERR

STAGE=${1:-}
S=${UNITPOOL_SB_STATE:-/run/unitpool-sandbox}    # private state dir, on the sandbox's own /run
say() { if [ "${UNITPOOL_SB_VERBOSE:-0}" = 1 ]; then echo "unitpool-sandbox[$STAGE]: $*" >&2; fi; return 0; }

# Directories that get a private file system. Paths to keep (the command's cwd, --keep) that lie
# below one of them are bound back after the private mounts.
MASKED=(/run /tmp /var /var/tmp /etc /dev)

# The console reader (see stage1). Perl is in every Debian (perl-base is Essential) and can do the
# two ioctls a pty needs: TIOCSPTLCK (unlock) and TIOCGPTN (its number).
CONSOLE_READER='
use strict; use POSIX ();
$SIG{$_} = "IGNORE" for qw(TSTP TTIN TTOU HUP INT QUIT PIPE TERM);
sysopen(my $m, "/dev/ptmx", POSIX::O_RDWR() | POSIX::O_NOCTTY()) or die "unitpool-sandbox: /dev/ptmx: $!\n";
my $z = pack("i", 0);
ioctl($m, 0x40045431, $z) or die "unitpool-sandbox: unlocking the pty: $!\n";
my $b = pack("i", 0);
ioctl($m, 0x80045430, $b) or die "unitpool-sandbox: pty number: $!\n";
my $n = unpack("i", $b);
sysopen(my $s, "/dev/pts/$n", POSIX::O_RDWR() | POSIX::O_NOCTTY()) or die "unitpool-sandbox: /dev/pts/$n: $!\n";
open(my $f, ">", "$ARGV[0].tmp") or die; print $f "$n\n"; close $f; rename("$ARGV[0].tmp", $ARGV[0]) or die;
while (1) {
  my $r = sysread($m, my $d, 65536);
  if (!defined $r) { next if $!{EINTR} || $!{EAGAIN}; last; }
  last if $r == 0;
  for (my $o = 0; $o < $r;) { my $w = syswrite(STDERR, $d, $r - $o, $o); last unless defined $w; $o += $w; }
}
'

under_masked() {
  local p=$1 m
  for m in "${MASKED[@]}"; do
    case "$p" in "$m"/*) return 0 ;; esac
  done
  return 1
}

# Whether a path to keep lies below $1 (after stage1 step 2 filled KEEP_PATHS).
KEEP_PATHS=()
keep_under() {
  local k
  for k in "${KEEP_PATHS[@]}"; do
    case "$k" in "$1"/*) return 0 ;; esac
  done
  return 1
}

stage1() {
  [ "$$" = 1 ] || die "stage1 must run as PID 1 of a new pid namespace (got pid $$)"

  # This script may itself lie below a directory about to become private (a checkout in /tmp):
  # keep its text, to run stage2 from a copy on the private /run.
  local self_text
  self_text=$(cat -- "$0")

  # 0. Nothing mounted here may ever propagate to the host (unshare --propagation private did
  #    this already; do it again so a change in how we are started cannot undo it).
  mount --make-rprivate /

  # 1. Into the sandbox cgroups, first of all, so every process started below is accounted there.
  local cg
  for cg in ${UNITPOOL_SB_CGROUPS:-}; do
    [ -n "$cg" ] || continue
    echo 0 > "$cg/cgroup.procs" || die "cannot move into cgroup $cg"
  done

  # 2. Open every path to keep on a file descriptor before it gets hidden.
  local keep=() fds=() k fd
  for k in ${UNITPOOL_SB_KEEP:-}; do
    [ -n "$k" ] || continue
    under_masked "$k" || continue
    [ -e "$k" ] || continue
    exec {fd}<"$k"
    keep+=("$k")
    fds+=("$fd")
    KEEP_PATHS+=("$k")
  done

  # 3. A /proc of the new pid namespace. Host-wide kernel settings stay read-only.
  umount --recursive --lazy /proc     # the host's /proc, in this namespace only
  mount -t proc -o nosuid,nodev,noexec proc /proc
  echo "${UNITPOOL_SB_HOSTNAME:-unitpool-sandbox}" > /proc/sys/kernel/hostname   # our own uts namespace
  local p
  for p in /proc/sys /proc/sysrq-trigger /proc/irq /proc/bus /proc/fs /proc/acpi /proc/scsi; do
    [ -e "$p" ] || continue
    mount --bind "$p" "$p"
    mount -o remount,bind,ro,nosuid,nodev,noexec "$p"
  done

  # 4. A fresh, read-only sysfs (its /sys/fs/cgroup is an empty directory until stage2). The
  #    host's /sys (with its cgroup mounts) is detached from this namespace first: the kernel
  #    refuses a second sysfs of the same network namespace on the same mount point.
  umount --recursive --lazy /sys
  mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /sys

  # 5. Private /run, holding our state: unit files, overlay upper layers, the console reader.
  #    (In a sandbox in a sandbox, the outer /run and /tmp are detached first rather than stacked,
  #    unless a path to keep lies below them: its descriptor must stay on an attached mount.)
  if mountpoint -q /run && ! keep_under /run; then umount --recursive --lazy /run; fi
  mount -t tmpfs -o mode=755,nosuid,nodev,size=20% tmpfs /run
  mkdir -p "$S"/units "$S"/empty "$S"/dev "$S"/overlay/etc/upper "$S"/overlay/etc/work \
    "$S"/overlay/var/upper "$S"/overlay/var/work
  mkdir -p /run/lock /run/user
  chmod 1777 /run/lock
  printf '%s\n' "$self_text" > "$S"/boot.sh

  # 6. Private /dev: a tmpfs with the few device nodes a system needs, bound from the host, a
  #    devpts instance of our own, /dev/shm and /dev/mqueue of our own.
  mount -t tmpfs -o mode=755,nosuid,size=4m tmpfs "$S"/dev
  local d
  for d in null zero full random urandom tty kvm fuse net/tun; do
    [ -c /dev/"$d" ] || continue
    mkdir -p "$(dirname "$S/dev/$d")"
    touch "$S/dev/$d"
    mount --bind /dev/"$d" "$S/dev/$d"
  done
  mkdir -m 755 "$S"/dev/pts
  mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5,nosuid,noexec devpts "$S"/dev/pts
  ln -s pts/ptmx "$S"/dev/ptmx
  mkdir -m 1777 "$S"/dev/shm
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$S"/dev/shm
  mkdir "$S"/dev/mqueue
  mount -t mqueue -o nosuid,nodev,noexec mqueue "$S"/dev/mqueue || rmdir "$S"/dev/mqueue
  ln -s /proc/self/fd "$S"/dev/fd
  ln -s /proc/self/fd/0 "$S"/dev/stdin
  ln -s /proc/self/fd/1 "$S"/dev/stdout
  ln -s /proc/self/fd/2 "$S"/dev/stderr
  if ! keep_under /dev; then umount --recursive --lazy /dev; fi   # the host's /dev, in this namespace only
  mount --move "$S"/dev /dev

  # systemd (PID 1) writes its log to /dev/console, which must be a terminal. Give it a pty of our
  # own devpts instance; a small reader copies the other side to our stderr, which the launcher
  # reads (and must keep reading). The reader is named with a leading '@' so that systemd-shutdown
  # spares it (systemd.io/ROOT_STORAGE_DAEMONS), ignores job-control signals, holds the pty's
  # slave side open itself (so it never sees a hangup) and has no job control of its own (script(1)
  # does: it stops itself when its child is stopped, and systemd-shutdown's kill(-1, SIGSTOP) then
  # left it stopped for good, and PID 1 blocked on a full console). Once the reader is gone, writes
  # to the console fail with EIO instead of blocking.
  touch /dev/console
  rm -f "$S"/console.ready
  printf '%s' "$CONSOLE_READER" > "$S"/console-reader.pl
  (exec -a @unitpool-sandbox-console perl "$S"/console-reader.pl "$S"/console.ready </dev/null >&2) &
  local n=0 reader=$!
  until [ -e "$S"/console.ready ]; do
    n=$((n + 1))
    kill -0 "$reader" 2>/dev/null || die "the console reader (perl) failed"
    [ "$n" -lt 500 ] || die "the console pty did not appear"
    sleep 0.01
  done
  mount --bind "/dev/pts/$(cat "$S"/console.ready)" /dev/console

  # 7. Private /tmp; overlays on /etc and /var whose upper layers live on our /run; private /var/tmp.
  if mountpoint -q /tmp && ! keep_under /tmp; then umount --recursive --lazy /tmp; fi
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
  for d in etc var; do
    mount -t overlay -o lowerdir=/$d,upperdir="$S"/overlay/$d/upper,workdir="$S"/overlay/$d/work overlay /$d ||
      die "cannot put an overlay on /$d$( [ "$(findmnt -n -o FSTYPE -M /$d | tail -n 1)" = overlay ] &&
        echo ': it is an overlay already, and overlayfs stacks only two deep, so sandboxes nest only one level (a sandbox in a sandbox)')"
  done
  mkdir -p /var/tmp
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp

  # 8. Bind the kept paths back, from the descriptors opened in step 2.
  local i
  for i in "${!keep[@]}"; do
    k=${keep[$i]}
    fd=${fds[$i]}
    if [ -d "/proc/self/fd/$fd" ]; then mkdir -p "$k"; else mkdir -p "$(dirname "$k")"; [ -e "$k" ] || touch "$k"; fi
    # --no-canonicalize: the kernel must follow the fd's magic link to the hidden original,
    # not the path name it prints (which now names the private copy).
    mount --no-canonicalize --rbind "/proc/self/fd/$fd" "$k"
    say "kept $k"
    exec {fd}<&-
  done

  say "file systems ready; entering a new cgroup namespace"
  exec unshare --cgroup -- /bin/bash "$S"/boot.sh stage2
}

stage2() {
  [ "$$" = 1 ] || die "stage2 must run as PID 1 (got pid $$)"

  # 9. The cgroup hierarchies, mounted afresh: their roots are the sandbox cgroups now.
  #    UNITPOOL_SB_CGMOUNTS lines: "<dir below /sys/fs/cgroup or .> <fstype> <options or ->".
  local line name fstype opts
  if [ "${UNITPOOL_SB_CGMOUNTS%% *}" = "." ]; then
    # Pure cgroup v2: one cgroup2 file system on /sys/fs/cgroup.
    IFS=' '; set -- ${UNITPOOL_SB_CGMOUNTS}; IFS=$'\n'
    opts=$3
    if [ "$opts" = - ]; then opts=; else opts=",$opts"; fi
    mount -t cgroup2 -o "nosuid,nodev,noexec$opts" cgroup2 /sys/fs/cgroup
  else
    mount -t tmpfs -o mode=755,nosuid,nodev,noexec,size=64k tmpfs /sys/fs/cgroup
    for line in ${UNITPOOL_SB_CGMOUNTS:-}; do
      IFS=' '; set -- $line; IFS=$'\n'
      name=$1 fstype=$2 opts=$3
      mkdir -p /sys/fs/cgroup/"$name"
      if [ "$opts" = - ]; then opts=; else opts=",$opts"; fi
      mount -t "$fstype" -o "nosuid,nodev,noexec$opts" "$fstype" /sys/fs/cgroup/"$name"
    done
    for line in ${UNITPOOL_SB_CGLINKS:-}; do
      IFS=' '; set -- $line; IFS=$'\n'
      ln -s "$2" /sys/fs/cgroup/"$1"
    done
    # Read-only, so systemd cannot mount the free v1 controllers (and take hugetlb etc. off the
    # host's cgroup2) next to ours.
    mount -o remount,ro /sys/fs/cgroup
  fi

  # 10. Our own unit directory: nothing from the host's unit files is loaded, so no tmpfiles,
  #     sysctl, sysusers, udev, journald, getty... only dbus and what transient units need.
  local u=$S/units
  unit() { cat > "$u/$1"; }
  stub() { printf '[Unit]\nDescription=%s (unitpool sandbox stand-in)\nDefaultDependencies=no\n' "$1" | unit "$1"; }
  local t
  for t in sysinit.target basic.target sockets.target timers.target paths.target slices.target \
      local-fs.target remote-fs.target network.target network-online.target nss-lookup.target \
      nss-user-lookup.target time-sync.target swap.target; do
    stub "$t"
  done
  unit unitpool-sandbox.target <<'EOF'
[Unit]
Description=unitpool sandbox
Requires=dbus.socket
Wants=dbus.service
After=dbus.socket
AllowIsolate=yes
EOF
  unit shutdown.target <<'EOF'
[Unit]
Description=Shutdown
DefaultDependencies=no
RefuseManualStart=yes
EOF
  unit exit.target <<'EOF'
[Unit]
Description=Exit the sandbox
DefaultDependencies=no
Requires=systemd-exit.service
After=systemd-exit.service
AllowIsolate=yes
EOF
  unit systemd-exit.service <<'EOF'
[Unit]
Description=Exit the sandbox
DefaultDependencies=no

[Service]
Type=oneshot
ExecStart=/bin/systemctl --force exit
EOF
  unit system.slice <<'EOF'
[Unit]
Description=System Slice
DefaultDependencies=no
EOF
  unit dbus.socket <<'EOF'
[Unit]
Description=D-Bus System Message Bus Socket

[Socket]
ListenStream=/run/dbus/system_bus_socket
EOF
  unit dbus.service <<'EOF'
[Unit]
Description=D-Bus System Message Bus
Requires=dbus.socket

[Service]
Type=notify
NotifyAccess=main
ExecStart=/usr/bin/dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only
ExecReload=/usr/bin/dbus-send --print-reply --system --type=method_call --dest=org.freedesktop.DBus / org.freedesktop.DBus.ReloadConfig
OOMScoreAdjust=-900
EOF

  # A user's own manager (user@UID.service, `systemctl start user@$(id -u someone).service`), for rootless
  # pools (bus: 'user'). Debian's units (systemd 252), with two changes: no logind runs here, so nothing would hand the
  # manager its XDG_RUNTIME_DIR (pam_systemd asks logind for it), and no PAMName=, so the host's PAM stack,
  # which would try logind over the bus, stays out of it. The runtime directory is a tmpfs on the private /run.
  unit user.slice <<'EOF'
[Unit]
Description=User and Session Slice
DefaultDependencies=no
EOF
  unit user-runtime-dir@.service <<'EOF'
[Unit]
Description=User Runtime Directory /run/user/%i
After=dbus.service
StopWhenUnneeded=yes
IgnoreOnIsolate=yes

[Service]
ExecStart=/lib/systemd/systemd-user-runtime-dir start %i
ExecStop=/lib/systemd/systemd-user-runtime-dir stop %i
Type=oneshot
RemainAfterExit=yes
Slice=user-%i.slice
EOF
  unit user@.service <<'EOF'
[Unit]
Description=User Manager for UID %i
After=user-runtime-dir@%i.service dbus.service systemd-oomd.service
Requires=user-runtime-dir@%i.service
IgnoreOnIsolate=yes

[Service]
User=%i
Environment=XDG_RUNTIME_DIR=/run/user/%i
Type=notify
ExecStart=/lib/systemd/systemd --user
Slice=user-%i.slice
KillMode=mixed
Delegate=pids memory cpu
TasksMax=infinity
TimeoutStopSec=120s
KeyringMode=inherit
OOMScoreAdjust=100
EOF

  say "booting systemd"
  local level=info
  if [ "${UNITPOOL_SB_VERBOSE:-0}" = 1 ]; then level=debug; fi
  exec env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    container=unitpool-sandbox \
    SYSTEMD_UNIT_PATH="$u" \
    SYSTEMD_GENERATOR_PATH="$S"/empty \
    SYSTEMD_ENVIRONMENT_GENERATOR_PATH="$S"/empty \
    SYSTEMD_PROC_CMDLINE="systemd.hostname=${UNITPOOL_SB_HOSTNAME:-unitpool-sandbox}" \
    "${UNITPOOL_SB_SYSTEMD:-/lib/systemd/systemd}" \
    --unit=unitpool-sandbox.target \
    --log-target=console --log-level="${UNITPOOL_SB_LOG_LEVEL:-$level}" --log-color=no \
    --show-status=no --default-standard-output=null --default-standard-error=inherit
}

case "$STAGE" in
  stage1) stage1 ;;
  stage2) stage2 ;;
  *) die "usage: boot.sh stage1|stage2 (started by the unitpool sandbox launcher)" ;;
esac
