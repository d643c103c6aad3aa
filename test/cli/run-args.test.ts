// `unitpool run`'s command line without systemd: flags, unit-file syntax for -p, and that everything ends in the
// library's own compiler (same values, same OptionError messages).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildProperties, originOf, parseRunArgs, UsageError } from '../../src/cli/run-args.js';
import { fromUnitFile, splitWords } from '../../src/cli/unit-syntax.js';
import { OptionError } from '../../src/errors.js';
import { compileUnitOptions, PROPERTY_NAMES } from '../../src/properties/index.js';
import { CLI, noSystemd, run } from './helpers.js';

const built = noSystemd !== 'not built: run npm run build first';

describe('parseRunArgs', () => {
  it('reads flags up to -- (or the first non-option) and keeps the command as given', () => {
    const a = parseRunArgs(['-m', '50M', '-c100%', '--no-network', '-q', '--env', 'HOME', '--env=A=1', '--', 'sh', '-c', 'echo $$'], '/srv/p');
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
      ['--preset', 'currentDirOnly', '-m', '1G', '-p', 'MemoryMax=2G', '--ro', '/etc', '-p', 'BindReadOnlyPaths=/usr', '-p', 'PrivateTmp=', '--env', 'X=1', 'true'],
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
    const a = parseRunArgs(['-p', 'ProtectSystem=strict', '-p', 'LimitNOFILE=1024', '-p', 'PrivateDevices=yes', '-p', 'SystemCallFilter=~@mount @swap', 'true'], '/');
    const { properties } = buildProperties(a, '/');
    const fromCli = compileUnitOptions({ properties }, { readablePaths: [] }).properties;
    const fromLib = compileUnitOptions(
      { properties: { ProtectSystem: 'strict', LimitNOFILE: 1024, PrivateDevices: true, SystemCallFilter: '~@mount @swap' } },
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
    [['-p', 'MemoryMax=1K'], '-p MemoryMax=1K', { MemoryMax: '1K' }],
    [['-m', '1K'], '-m 1K', { MemoryMax: '1K' }],
    [['-p', 'MemoryMx=1G'], '-p MemoryMx=1G', { MemoryMx: '1G' }],
    [['-p', 'ProtectSystem=strcit'], '-p ProtectSystem=strcit', { ProtectSystem: 'strcit' }],
    [['-p', 'PrivateNetwork=maybe'], '-p PrivateNetwork=maybe', { PrivateNetwork: 'maybe' }],
    [['-p', 'ExecStart=/bin/true'], '-p ExecStart=/bin/true', { ExecStart: '/bin/true' }],
    [['-p', 'LimitNOFILE=lots'], '-p LimitNOFILE=lots', { LimitNOFILE: 'lots' }],
    [['-c', '2'], '-c 2', { CPUQuota: '2' }],
    [['-p', 'TasksMax=4'], '-p TasksMax=4', { TasksMax: 4 }],
  ])('%j: exit 2 with the OptionError of the library', async (flags, origin, properties) => {
    const r = await run([...flags, '--', 'true']);
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
    for (const flag of ['-m, --memory', '-c, --cpu', '--preset', '--ro', '--rw', '--inaccessible', '--no-network', '--env', '--capture-env', '-p, --property', '-q, --quiet', '--user', '-h, --help']) {
      expect(r.stdout).toContain(flag);
    }
    for (const p of ['untrusted', 'currentDirOnly', 'batch']) expect(r.stdout).toMatch(new RegExp(`^  ${p} `, 'm'));
    for (const name of PROPERTY_NAMES) expect(r.stdout).toMatch(new RegExp(`^  ${name}=`, 'm'));
    const top = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    expect(top.stdout).toMatch(/^  run +run one command/m);
  });
});
