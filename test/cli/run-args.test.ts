// `unitpool run`'s command line without systemd: flags, unit-file syntax for -p, and that everything ends in the
// library's own compiler (same values, same OptionError messages).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  buildProperties,
  originOf,
  parsePoolFlags,
  parseRunArgs,
  SAFE_DEFAULTS,
  unitOptionsFromFlags,
} from '../../src/cli/run-args.js';
import { runsNode } from '../../src/cli/run-exe.js';
import { fromUnitFile, splitWords } from '../../src/cli/unit-syntax.js';
import { OptionError, UsageError } from '../../src/errors.js';
import { compileUnitOptions, PROPERTY_NAMES } from '../../src/properties/index.js';
import { join } from 'node:path';
import { CLI, noSystemd, ROOT, run } from './helpers.js';

const built = noSystemd !== 'not built: run npm run build first';

describe('parseRunArgs', () => {
  it('reads flags up to -- (or the first non-option) and keeps the command as given', () => {
    const a = parseRunArgs(
      ['-m', '50M', '-c100%', '--no-network', '-q', '--env', 'HOME', '--env=A=1', '--', 'sh', '-c', 'echo $$'],
      '/srv/p',
    );
    expect(a.command).toEqual(['sh', '-c', 'echo $$']);
    expect(a.quiet).toBe(true);
    expect(a.envNames).toEqual(['HOME']);
    expect(a.envValues).toEqual(['A=1']);
    expect(a.settings.map((s) => [s.flag, s.name, s.value])).toEqual([
      ['-m 50M', 'MemoryMax', '50M'],
      ['-c 100%', 'CPUQuota', '100%'],
      ['--no-network', 'PrivateNetwork', true],
    ]);
    expect(parseRunArgs(['--user', 'ls', '-l']).command).toEqual(['ls', '-l']);
    expect(parseRunArgs(['--user', 'ls']).bus).toBe('user');
  });

  it('takes relative --ro/--rw/--inaccessible paths from the working directory', () => {
    const a = parseRunArgs(['--ro', 'data', '--rw=/abs/out', '--inaccessible', './.env', 'true'], '/srv/p');
    expect(a.settings.map((s) => [s.name, s.value])).toEqual([
      ['BindReadOnlyPaths', ['/srv/p/data']],
      ['BindPaths', ['/abs/out']],
      ['InaccessiblePaths', ['/srv/p/.env']],
    ]);
  });

  it('refuses what it cannot parse', () => {
    expect(() => parseRunArgs([])).toThrow(UsageError);
    expect(() => parseRunArgs(['-m'])).toThrow(/-m needs a value/);
    expect(() => parseRunArgs(['--bogus', 'true'])).toThrow(/unknown option --bogus/);
    expect(() => parseRunArgs(['-p', 'NoEquals', 'true'])).toThrow(/not Name=value/);
    expect(() => parseRunArgs(['--quiet=yes', 'true'])).toThrow(/takes no value/);
    expect(parseRunArgs(['--help']).help).toBe(true);
  });

  it("takes playpen's flags in playpen's value forms", () => {
    const a = parseRunArgs(
      [
        '-m',
        '50M',
        '--memory-limit=1G',
        '--cpu-limit',
        '100%',
        '--private-tmp=false',
        '--private-devices',
        'off',
        '--protect-kernel-tunables=on',
        '--protect-control-groups',
        '--protect-home',
        'read-only',
        '--protect-system=none',
        '--capture-env=true',
        '--capture-path',
        'false',
        '--',
        'date',
      ],
      '/srv/p',
    );
    expect(a.settings.map((s) => [s.flag, s.name, s.value])).toEqual([
      ['-m 50M', 'MemoryMax', '50M'],
      ['--memory-limit 1G', 'MemoryMax', '1G'],
      ['--cpu-limit 100%', 'CPUQuota', '100%'],
      ['--private-tmp=false', 'PrivateTmp', false],
      ['--private-devices=false', 'PrivateDevices', false],
      ['--protect-kernel-tunables=true', 'ProtectKernelTunables', true],
      ['--protect-control-groups=true', 'ProtectControlGroups', true],
      ['--protect-home read-only', 'ProtectHome', 'read-only'],
      ['--protect-system none', 'ProtectSystem', false],
    ]);
    expect([a.captureEnv, a.capturePath, a.command]).toEqual([true, false, ['date']]);
    // A boolean word is the flag's value only when a command follows it: `--private-tmp true` runs true.
    expect(parseRunArgs(['--private-tmp', 'true']).command).toEqual(['true']);
    expect(parseRunArgs(['--capture-env', 'on', 'env']).captureEnv).toBe(true);
    expect(parseRunArgs(['--current-dir-only', '--', 'ls']).presets).toEqual(['currentDirOnly']);
    expect(parseRunArgs(['--current-dir-only', '--current-dir-only=false', 'ls']).presets).toEqual([]);
    expect(parseRunArgs(['-qm300K', 'date'])).toMatchObject({
      quiet: true,
      settings: [{ name: 'MemoryMax', value: '300K' }],
    });
    expect(parseRunArgs(['-V']).version).toBe(true);
    expect(parseRunArgs(['-c', '1.5', 'true']).settings[0]!.value).toBe(1.5);
    expect(() => parseRunArgs(['--private-tmp=maybe', 'true'])).toThrow(
      /--private-tmp: "maybe" is not a boolean; write --private-tmp=true or --private-tmp=false/,
    );
  });

  it('names the nearest known option for an unknown one, whatever its value', () => {
    expect(() => parseRunArgs(['--memroy=50M', 'true'])).toThrow(/^unknown option --memroy; did you mean --memory\?$/);
    expect(() => parseRunArgs(['--private-tpm', 'true'])).toThrow(/did you mean --private-tmp\?/);
    expect(() => parseRunArgs(['--xyzzy', 'true'])).toThrow(/^unknown option --xyzzy$/);
  });

  it("has playpen's safer defaults under everything, each turned off by its flag", () => {
    const props = (argv: string[]) =>
      unitOptionsFromFlags(parseRunArgs(argv, '/srv/p'), '/srv/p').unitOptions.properties!;
    expect(props(['date'])).toMatchObject({
      PrivateTmp: true,
      PrivateDevices: true,
      ProtectKernelTunables: true,
      ProtectControlGroups: true,
      WorkingDirectory: '/srv/p',
    });
    expect(props(['--private-tmp=false', '-p', 'PrivateDevices=no', 'date'])).toMatchObject({
      PrivateTmp: false,
      PrivateDevices: false,
    });
    expect(Object.keys(props(['--user', 'date'])).filter((k) => k in SAFE_DEFAULTS)).toEqual([]);
    const { origins } = unitOptionsFromFlags(parseRunArgs(['date'], '/srv/p'), '/srv/p');
    expect(originOf('properties.PrivateDevices', origins)).toBe(
      'the default --private-devices (turn it off with --private-devices=false)',
    );
  });

  it('passes PATH unless --capture-path=false; --capture-env wins over it', () => {
    const env = { PATH: '/x/bin', LANG: 'C.UTF-8', SECRET: 's' };
    const opts = (argv: string[]) => unitOptionsFromFlags(parseRunArgs(argv, '/'), '/', env).unitOptions;
    expect(opts(['date']).env).toBeUndefined();
    expect(opts(['--capture-path=false', 'date'])).toMatchObject({
      env: 'none',
      properties: { Environment: ['LANG=C.UTF-8'] },
    });
    expect(opts(['--capture-path=false', '--capture-env', 'date']).env).toBe('inherit');
  });

  it('parses the pool flags for another command, with flags of its own', () => {
    const { flags, own, rest } = parsePoolFlags(['-m', '1G', '--watch', '--no-network', 'job.js'], '/srv/p', {
      specs: [{ names: ['--watch'], kind: 'switch', apply: (o: { watch: boolean }) => (o.watch = true) }],
      target: { watch: false },
    });
    expect(flags.settings.map((s) => s.name)).toEqual(['MemoryMax', 'PrivateNetwork']);
    expect(own).toEqual({ watch: true });
    expect(rest).toEqual(['job.js']);
  });
});

describe('the Node floors apply only to Node', () => {
  it('knows node, and scripts that #! run it, from other programs', () => {
    expect(runsNode(process.execPath)).toBe(true);
    expect(runsNode('/bin/sh')).toBe(false);
    expect(runsNode(join(ROOT, 'dist', 'src', 'cli', 'main.js'))).toBe(true);
  });

  it('lets -m 1K through for a program that is not Node, and refuses it for node', () => {
    expect(() =>
      compileUnitOptions({ properties: { MemoryMax: '1K', TasksMax: 2 } }, { readablePaths: [], runsNode: false }),
    ).not.toThrow();
    expect(() => compileUnitOptions({ properties: { MemoryMax: '1K' } }, { readablePaths: [] })).toThrow(
      /every Node process needs about 40 MB/,
    );
  });
});

describe('unit-file syntax for -p', () => {
  it('splits words as unit files do', () => {
    expect(splitWords(`a "b c" 'd e' f\\ g`)).toEqual(['a', 'b c', 'd e', 'f g']);
    expect(splitWords('  ')).toEqual([]);
    expect(() => splitWords('"open')).toThrow(/unterminated/);
  });

  it('reshapes values into the table forms and leaves judging to the compiler', () => {
    expect(fromUnitFile('PrivateNetwork', 'yes')).toBe(true);
    expect(fromUnitFile('PrivateNetwork', 'off')).toBe(false);
    expect(fromUnitFile('PrivateNetwork', 'maybe')).toBe('maybe');
    expect(fromUnitFile('ProtectSystem', 'yes')).toBe(true);
    expect(fromUnitFile('ProtectSystem', 'strict')).toBe('strict');
    expect(fromUnitFile('ProtectHome', 'read-only')).toBe('read-only');
    expect(fromUnitFile('Nice', '-5')).toBe(-5);
    expect(fromUnitFile('TasksMax', '512')).toBe(512);
    expect(fromUnitFile('TasksMax', 'infinity')).toBe('infinity');
    expect(fromUnitFile('CPUWeight', 'idle')).toBe('idle');
    expect(fromUnitFile('LimitNOFILE', '1024:4096')).toBe('1024:4096');
    expect(fromUnitFile('ReadOnlyPaths', '/a "/b c"')).toEqual(['/a', '/b c']);
    expect(fromUnitFile('Environment', 'A=1 "B=two words"')).toEqual(['A=1', 'B=two words']);
    expect(fromUnitFile('RestrictNamespaces', '~user net')).toEqual({ deny: ['user', 'net'] });
    expect(fromUnitFile('RestrictNamespaces', 'no')).toBe(false);
    expect(fromUnitFile('CapabilityBoundingSet', '')).toEqual([]);
    expect(fromUnitFile('MemoryMax', '')).toBeNull();
    expect(fromUnitFile('NotAProperty', 'x')).toBe('x');
  });

  it('applies presets, then flags in order: later wins, lists add up, an empty -p removes', () => {
    const a = parseRunArgs(
      [
        '--preset',
        'currentDirOnly',
        '-m',
        '1G',
        '-p',
        'MemoryMax=2G',
        '--ro',
        '/etc',
        '-p',
        'BindReadOnlyPaths=/usr',
        '-p',
        'PrivateTmp=',
        '--env',
        'X=1',
        'true',
      ],
      '/srv/p',
    );
    const { properties, origins } = buildProperties(a, '/srv/p');
    expect(properties.MemoryMax).toBe('2G');
    expect(properties.BindReadOnlyPaths).toEqual(['/etc', '/usr']);
    expect(properties.BindPaths).toEqual([{ source: '/srv/p' }]);
    expect('PrivateTmp' in properties).toBe(false);
    expect(properties.ProtectSystem).toBe('strict');
    expect(properties.Environment).toEqual(['X=1']);
    expect(originOf('properties.MemoryMax', origins)).toBe('-p MemoryMax=2G');
    expect(originOf('properties.ProtectSystem', origins)).toBe('--preset currentDirOnly');
    expect(originOf('properties.BindReadOnlyPaths[0]', origins)).toBe('--ro /etc');
    expect(originOf('properties.BindReadOnlyPaths[1]', origins)).toBe('-p BindReadOnlyPaths=/usr');
    expect(originOf('properties.BindPaths[0]', origins)).toBe('--preset currentDirOnly');
  });

  it('compiles -p values to what the library compiles from the same properties', () => {
    const a = parseRunArgs(
      [
        '-p',
        'ProtectSystem=strict',
        '-p',
        'LimitNOFILE=1024',
        '-p',
        'PrivateDevices=yes',
        '-p',
        'SystemCallFilter=~@mount @swap',
        'true',
      ],
      '/',
    );
    const { properties } = buildProperties(a, '/');
    const fromCli = compileUnitOptions({ properties }, { readablePaths: [] }).properties;
    const fromLib = compileUnitOptions(
      {
        properties: {
          ProtectSystem: 'strict',
          LimitNOFILE: 1024,
          PrivateDevices: true,
          SystemCallFilter: '~@mount @swap',
        },
      },
      { readablePaths: [] },
    ).properties;
    expect(fromCli).toEqual(fromLib);
  });
});

/** The library's message for properties that it refuses. */
function libraryError(properties: Record<string, unknown>): string {
  try {
    compileUnitOptions({ properties }, { readablePaths: [] });
  } catch (e) {
    if (e instanceof OptionError) return e.message;
    throw e;
  }
  throw new Error(`the library accepted ${JSON.stringify(properties)}`);
}

describe.skipIf(!built)('unitpool run: refusals, before any unit exists', () => {
  it.each([
    [['-p', 'MemoryMx=1G'], '-p MemoryMx=1G', { MemoryMx: '1G' }],
    [['-p', 'ProtectSystem=strcit'], '-p ProtectSystem=strcit', { ProtectSystem: 'strcit' }],
    [['-p', 'PrivateNetwork=maybe'], '-p PrivateNetwork=maybe', { PrivateNetwork: 'maybe' }],
    [['-p', 'ExecStart=/bin/true'], '-p ExecStart=/bin/true', { ExecStart: '/bin/true' }],
    [['-p', 'LimitNOFILE=lots'], '-p LimitNOFILE=lots', { LimitNOFILE: 'lots' }],
    [['-c', '150'], '-c 150', { CPUQuota: 150 }],
    [['-c', '1,5'], '-c 1,5', { CPUQuota: '1,5' }],
    [['-m', '1K', '--', process.execPath, '-e', '0'], '-m 1K', { MemoryMax: '1K' }],
    [['-p', 'TasksMax=4', '--', process.execPath, '-e', '0'], '-p TasksMax=4', { TasksMax: 4 }],
  ])('%j: exit 2 with the OptionError of the library', async (flags, origin, properties) => {
    const r = await run(flags.includes('--') ? flags : [...flags, '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`unitpool run: ${origin}: ${libraryError(properties)}\n`);
  });

  it('says a property name is unknown with a suggestion', async () => {
    const r = await run(['-p', 'privatenetwork=yes', 'true']);
    expect(r.stderr).toMatch(/property names are case-sensitive, as in unit files; did you mean PrivateNetwork\?/);
  });

  it('refuses usage errors with status 2 and a hint', async () => {
    for (const args of [[], ['--bogus', 'true'], ['-p', 'Foo', 'true'], ['-m']]) {
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^unitpool run: .*\nTry 'unitpool run --help'\.\n$/);
    }
  });

  it('exits 127 when the command is not on PATH', async () => {
    const r = await run(['--', 'no-such-command-unitpool']);
    expect(r.code).toBe(127);
    expect(r.stderr).toBe('unitpool run: no-such-command-unitpool: command not found on PATH\n');
  });

  it('--help lists every option and, from the table, every property -p accepts', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '-m, --memory',
      '-c, --cpu',
      '--preset',
      '--current-dir-only',
      '--private-tmp',
      '--protect-home',
      '--capture-path',
      '-V, --version',
      '--ro',
      '--rw',
      '--inaccessible',
      '--no-network',
      '--env',
      '--capture-env',
      '-p, --property',
      '-q, --quiet',
      '--user',
      '-h, --help',
    ]) {
      expect(r.stdout).toContain(flag);
    }
    for (const p of ['untrusted', 'currentDirOnly', 'batch']) expect(r.stdout).toMatch(new RegExp(`^  ${p} `, 'm'));
    for (const name of PROPERTY_NAMES) expect(r.stdout).toMatch(new RegExp(`^  ${name}=`, 'm'));
    const top = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    expect(top.stdout).toMatch(/^ {2}run +run one command/m);
  });
});
