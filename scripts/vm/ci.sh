#!/usr/bin/env bash
# CI's VM tier (called by .ci/run after the v1 suite): the systemd integration tests inside a Debian 12 VM
# with systemd as PID 1 on pure cgroup v2. Installs qemu-system-x86, qemu-utils and mmdebstrap when missing
# (as root), runs `npm run test:vm`, and ends with the vitest summary of the VM run and a plain
# "vm: N passed, N failed, N skipped" line. Exits with the tier's status.
#
# Budget: under 15 minutes on a 2-core machine, image build included (about 2 minutes cold; cached in
# .vm-cache/ between runs on the same machine). See docs/vm.md.
set -uo pipefail
cd "$(dirname "$0")/../.."

export DEBIAN_FRONTEND=noninteractive
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v qemu-img >/dev/null || missing+=(qemu-utils)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "vm-ci: missing ${missing[*]} and not root: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 2
  fi
  echo "vm-ci: installing ${missing[*]}"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" || { echo "vm-ci: apt-get install failed" >&2; exit 2; }
fi

mkdir -p .vm-cache
log=.vm-cache/ci-last.log
start=$(date +%s)
# --install: whatever else the image build needs (e2fsprogs, xz-utils) comes too.
npm run --silent test:vm -- --install 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# A VM that hung under software emulation (the guest stopped answering: 124, killed at the deadline, with no test
# failed) gets one more boot; a test that failed is never run again. Seen once in four runs on 2026-12-04: the
# guest froze with no output for ten minutes, and the same build passed the next boot in 230 s.
if [ "$status" = 124 ] && ! sed -e 's/\x1b\[[0-9;]*m//g' "$log" | grep -qE '^ *(×|FAIL) '; then
  echo "vm-ci: the VM hung (status 124, no test failed); booting it once more"
  cp "$log" .vm-cache/ci-hung.log
  npm run --silent test:vm -- --no-build 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
fi
echo "== VM tier (Debian 12, systemd PID 1, cgroup v2): status $status in $(( $(date +%s) - start )) s"
# The vitest summary of the run inside the VM (without colours), then the plain closing line.
sed -e 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ *(Test Files|Tests|Duration) ' || echo "vm-ci: no vitest summary (the VM did not get that far; see above)"
grep -E '^vm: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n1
# Every test that docs/properties.md and the README call tested on v2 ran in the VM and passed.
echo "== VM tier: the docs' v2 claims against the run's report"
if UNITPOOL_TIER=v2 UNITPOOL_TIER_REPORT=.vm-cache/last-vitest.json npx vitest run test/unit/tier-claims.test.ts >.vm-cache/ci-claims.log 2>&1; then
  sed -e 's/\x1b\[[0-9;]*m//g' .vm-cache/ci-claims.log | grep -E '^ *Tests ' || true
else
  cat .vm-cache/ci-claims.log
  [ "$status" != 0 ] || status=1
fi
exit "$status"
