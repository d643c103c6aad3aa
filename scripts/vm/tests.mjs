// The test files the VM tier runs (scripts/vm/run.mjs), in one place: test/unit/properties-doc.test.ts checks that
// every property the docs call tested on cgroup v2 names a test in one of them.
//
// test/pool: the pool's integration tests, unchanged (the v1 sandbox runs them too); test/vm: what only a pure
// cgroup v2 host with systemd as PID 1 shows; test/properties-enforced/cgroup-v2.test.ts: the properties the v2
// controllers enforce, through the pool (skipped, with the reason, on cgroup v1). The rest of
// test/properties-enforced does not depend on the cgroup version and would take far too long under emulation.
export const VM_TESTS = ['test/pool', 'test/vm', 'test/properties-enforced/cgroup-v2.test.ts'];
