// How `unitpool run` writes times, sizes and exit statuses: as systemd does (format_timespan(), format_bytes(),
// exit_status_to_string()), so that its summary reads like systemd-run's.

import { constants as osc } from 'node:os';

/** 31ms, 1.234s, 2min 3.100s, 1h 2min 3s, like systemd's format_timespan() at millisecond accuracy. */
export function formatTimespan(usec: number): string {
  if (!Number.isFinite(usec) || usec < 0) return 'unknown';
  if (usec < 1000) return `${Math.round(usec)}us`;
  if (usec < 1_000_000) return `${Math.round(usec / 1000)}ms`;
  const s = usec / 1_000_000;
  if (s < 60) return `${s.toFixed(3)}s`;
  const h = Math.floor(s / 3600);
  const min = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h ${min}min ${Math.floor(sec)}s`;
  return `${min}min ${sec.toFixed(3)}s`;
}

/** 256.0K, 50.0M, 1.2G (base 1024, one decimal), like systemd's format_bytes(). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return 'unknown';
  const units = ['K', 'M', 'G', 'T', 'P', 'E'];
  if (bytes < 1024) return `${bytes}B`;
  let v = bytes;
  let i = -1;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)}${units[i]}`;
}

/** systemd's own exit statuses for failures before exec (src/basic/exit-status.h). */
export const SYSTEMD_EXIT_STATUS: Readonly<Record<number, string>> = {
  200: 'CHDIR',
  201: 'NICE',
  202: 'FDS',
  203: 'EXEC',
  204: 'MEMORY',
  205: 'LIMITS',
  206: 'OOM_ADJUST',
  207: 'SIGNAL_MASK',
  208: 'STDIN',
  209: 'STDOUT',
  210: 'CHROOT',
  211: 'IOPRIO',
  212: 'TIMERSLACK',
  213: 'SECUREBITS',
  214: 'SETSCHEDULER',
  215: 'CPUAFFINITY',
  216: 'GROUP',
  217: 'USER',
  218: 'CAPABILITIES',
  219: 'CGROUP',
  220: 'SETSID',
  221: 'CONFIRM',
  222: 'STDERR',
  224: 'PAM',
  225: 'NETWORK',
  226: 'NAMESPACE',
  227: 'NO_NEW_PRIVILEGES',
  228: 'SECCOMP',
  229: 'SELINUX_CONTEXT',
  230: 'PERSONALITY',
  231: 'APPARMOR_PROFILE',
  232: 'ADDRESS_FAMILIES',
  233: 'RUNTIME_DIRECTORY',
  235: 'CHOWN',
  236: 'SMACK_PROCESS_LABEL',
  237: 'KEYRING',
  238: 'STATE_DIRECTORY',
  239: 'CACHE_DIRECTORY',
  240: 'LOGS_DIRECTORY',
  241: 'CONFIGURATION_DIRECTORY',
  242: 'NUMA_POLICY',
  243: 'CREDENTIALS',
};

export function signalName(n: number): string {
  const found = Object.entries(osc.signals).find(([, v]) => v === n);
  return found ? found[0].replace(/^SIG/, '') : String(n);
}
