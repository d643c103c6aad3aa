#!/bin/sh
# Cleans up after a sandbox whose launcher died. Started by the launcher (detached, in its own
# session, in the launcher's own cgroups) as
#
#   sh watchdog.sh <cgroup dir>...
#
# with stdin a pipe whose write end only the launcher holds. It blocks until EOF on stdin: that is
# the launcher closing it after its own cleanup (then there is nothing left to do), or the launcher
# dying (SIGKILL included). Then it waits for the sandbox's processes to be gone (the kernel kills
# them with the sandbox's PID 1, which dies with the launcher through PR_SET_PDEATHSIG), kills any
# that remain (they can only be the sandbox's own: nothing else can enter those cgroups), and removes
# the cgroup trees bottom-up, writing memory.force_empty first on v1 memory cgroups.
cat > /dev/null 2>&1 || true

remove_tree() {
  top=$1
  [ -d "$top" ] || return 0
  # deepest first
  find "$top" -depth -type d 2>/dev/null | while IFS= read -r d; do
    i=0
    while [ "$i" -lt 200 ]; do
      pids=$(cat "$d/cgroup.procs" 2>/dev/null || true)
      if [ -z "$pids" ]; then
        [ -e "$d/memory.force_empty" ] && { echo 0 > "$d/memory.force_empty"; } 2>/dev/null
        rmdir "$d" 2>/dev/null && break
        [ -d "$d" ] || break
      else
        # after the first second, kill what is still there
        [ "$i" -ge 20 ] && for p in $pids; do kill -9 "$p" 2>/dev/null; done
      fi
      i=$((i + 1))
      sleep 0.05
    done
  done
}

for dir in "$@"; do
  remove_tree "$dir"
done
exit 0
