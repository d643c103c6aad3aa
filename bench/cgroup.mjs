// CPU usage of a unit's cgroup, wherever this host keeps it: cgroup2 (/sys/fs/cgroup<cg>/cpu.stat), the
// unified hierarchy of a hybrid host (/sys/fs/cgroup/unified<cg>/cpu.stat), or legacy cpuacct (ns).
import { existsSync, readFileSync } from 'node:fs';

export function cpuUsageReader(controlGroup) {
  const candidates = [
    [`/sys/fs/cgroup${controlGroup}/cpu.stat`, 'cgroup2'],
    [`/sys/fs/cgroup/unified${controlGroup}/cpu.stat`, 'hybrid (unified)'],
  ];
  for (const [path, layout] of candidates) {
    if (existsSync(path)) {
      return { path, layout, read: () => Number(/usage_usec (\d+)/.exec(readFileSync(path, 'utf8'))[1]) };
    }
  }
  for (const dir of ['cpuacct', 'cpu,cpuacct', 'cpuacct,cpu']) {
    const path = `/sys/fs/cgroup/${dir}${controlGroup}/cpuacct.usage`;
    if (existsSync(path)) return { path, layout: 'v1 cpuacct', read: () => Number(readFileSync(path, 'utf8')) / 1000 };
  }
  throw new Error(`no cpu usage file for cgroup ${controlGroup}`);
}

/** Throttling counters of the cpu controller (v1 cpu.stat or v2 cpu.stat), when there are any. */
export function throttleReader(controlGroup) {
  for (const path of [
    `/sys/fs/cgroup${controlGroup}/cpu.stat`,
    `/sys/fs/cgroup/cpu${controlGroup}/cpu.stat`,
    `/sys/fs/cgroup/cpu,cpuacct${controlGroup}/cpu.stat`,
  ]) {
    if (!existsSync(path)) continue;
    const text = readFileSync(path, 'utf8');
    if (!/nr_throttled/.test(text)) continue;
    return () => {
      const t = readFileSync(path, 'utf8');
      return {
        nrThrottled: Number(/nr_throttled (\d+)/.exec(t)?.[1] ?? 0),
        nrPeriods: Number(/nr_periods (\d+)/.exec(t)?.[1] ?? 0),
      };
    };
  }
  return () => undefined;
}
