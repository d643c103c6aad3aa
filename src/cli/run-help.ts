// The words of `unitpool run`: its --help (the options, the presets and every property -p takes, from the
// table) and its --version.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot, PRESET_DOCS, PRESET_NAMES, propertiesHelpLines } from '../properties/index.js';

export const RUN_USAGE = `Usage: unitpool run [options] [--] command [args...]

Runs one command in a systemd transient service, confined with the same properties, validation and
environment policy as the UnitPool library, with stdin, stdout and stderr passed through (it works in
pipelines). On stderr it prints the unit's name at the start and, at the end, its result, runtime, CPU
time and memory peak. It exits with the command's status.

Options (BOOL is true|false|on|off|yes|no, after = or as the next word; alone it means true):
  -m, --memory, --memory-limit SIZE
                           memory cap (MemoryMax): 300K, 512M, 2G, or a share of RAM like 25%;
                           past it the kernel's OOM killer kills the command
  -c, --cpu, --cpu-limit PERCENT
                           CPU cap (CPUQuota): 100% is one CPU, 250% (or 2.5) two and a half
  --preset NAME            start from a preset (see below); may be repeated, applied in order
  --current-dir-only[=BOOL]
                           playpen's preset (--preset currentDirOnly): write only in the current
                           directory, home directories empty, the system read-only
  --ro PATH                bind PATH into the unit read-only (BindReadOnlyPaths); it stays
                           visible even where ProtectHome, PrivateTmp or a preset hides its parent
  --rw PATH                bind PATH into the unit writable (BindPaths), even under ProtectSystem=strict
  --inaccessible PATH      make PATH inaccessible (InaccessiblePaths)
  --private-tmp[=BOOL]     a private /tmp and /var/tmp (PrivateTmp; default true)
  --private-devices[=BOOL] a private /dev without physical devices (PrivateDevices; default true)
  --protect-kernel-tunables[=BOOL]
                           /proc/sys, /sys... read-only (ProtectKernelTunables; default true)
  --protect-control-groups[=BOOL]
                           /sys/fs/cgroup read-only (ProtectControlGroups; default true)
  --protect-home MODE      none, yes, read-only or tmpfs (ProtectHome; default none)
  --protect-system MODE    none, yes, full or strict (ProtectSystem; default none)
  --no-network             no network, only a loopback device (PrivateNetwork=yes)
  --env NAME               pass the variable NAME from this environment; may be repeated
  --env NAME=VALUE         set NAME to VALUE in the command's environment
  --capture-env[=BOOL]     pass nearly this whole environment (default false: only PATH, the
                           locale variables and TZ pass)
  --capture-path[=BOOL]    pass PATH (default true; false: systemd's own PATH)
  -p, --property NAME=VALUE
                           set any property listed below, in unit-file syntax
                           (-p ProtectSystem=strict -p LimitNOFILE=1024); may be repeated
  -q, --quiet              print nothing but the command's own output (and unitpool's errors)
  --user                   use your own user manager (systemctl --user) instead of the system one;
                           the four defaults above are then off (it cannot set up namespaces)
  -h, --help               this text
  -V, --version            unitpool's version

The command is looked up on PATH here; it runs in the current directory (unless
-p WorkingDirectory=...). Presets come first, then the flags in the order given: a later
one wins, paths and binds add up, and -p Name= (empty) removes a property.

Exit status: the command's, or 128+N if signal N killed it (137 after an OOM kill, which
is also named on stderr); 2 for a usage error or a refused option; 125 if the unit could
not be run; 126 if the command could not be executed; 127 if it was not found.`;

export function runHelp(): string {
  const presets = PRESET_NAMES.map((n) => `  ${n.padEnd(16)}${PRESET_DOCS[n].summary}`);
  return [
    RUN_USAGE,
    '',
    'Presets (--preset NAME):',
    ...presets,
    '',
    'Properties (-p NAME=VALUE; the example shows the syntax):',
    ...propertiesHelpLines(),
  ].join('\n');
}

/** unitpool's version, from its package.json. */
export function packageVersion(): string {
  try {
    return (
      (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ??
      'unknown'
    );
  } catch {
    return 'unknown';
  }
}
