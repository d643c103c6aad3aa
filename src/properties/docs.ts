// The table rendered for people: a Markdown table for the README, and help lines for `unitpool run --help`.

import { formatExample } from './names.js';
import { preset, PRESET_DOCS, PRESET_NAMES } from './presets.js';
import { CATEGORY_TITLES, type Category, type HostNeeds, PROPERTY_NAMES, TABLE } from './table.js';

/** A value in unit-file syntax (what `--property Name=...` would take): yes/no, space-separated lists. */
export function unitFileForm(value: unknown): string {
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return value.map(unitFileForm).join(' ');
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (Array.isArray(o.drop)) return `~${unitFileForm(o.drop)}`;
    if (Array.isArray(o.deny)) return `~${unitFileForm(o.deny)}`;
    if (Array.isArray(o.allow)) return unitFileForm(o.allow);
    if (typeof o.source === 'string')
      return typeof o.destination === 'string' && o.destination ? `${o.source}:${o.destination}` : o.source;
    if (typeof o.path === 'string') return o.options ? `${o.path}:${unitFileForm(o.options)}` : o.path;
    if (typeof o.profile === 'string') return o.profile;
    return Object.entries(o)
      .map(([k, v]) => (typeof v === 'string' && k.startsWith('/') ? `${k} ${v}` : `${k}=${unitFileForm(v)}`))
      .join(' ');
  }
  return String(value);
}

/** "cgroup memory (v2 only); root; seccomp" — what the host must provide. */
export function describeNeeds(needs: HostNeeds): string {
  const parts: string[] = [];
  if (needs.cgroup) parts.push(`cgroup ${needs.cgroup}${needs.cgroupV2Only ? ' (v2 only)' : ''}`);
  else if (needs.cgroupV2Only) parts.push('cgroup v2');
  if (needs.root === 'always') parts.push('system manager');
  if (needs.root === 'to-raise') parts.push('a privileged manager to raise');
  if (needs.namespaces?.length) parts.push(`${needs.namespaces.join('+')} namespace`);
  if (needs.seccomp) parts.push('seccomp');
  if (needs.bpf) parts.push('BPF (cgroup2: v2 or hybrid)');
  if (needs.proportionalIo) parts.push('BFQ or io.cost');
  if (needs.apparmor) parts.push('AppArmor');
  if (needs.selinux) parts.push('SELinux');
  return parts.join('; ') || '-';
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export interface MarkdownOptions {
  /** Add a column with the D-Bus properties and signatures (default false). */
  dbus?: boolean;
  /** Add a column with what the host must provide (default true). */
  needs?: boolean;
  /** Heading level of the per-category headings (default 3). */
  headingLevel?: number;
}

/** The properties as Markdown: one table per category (property, what it does, unit, example, host needs). */
export function propertiesMarkdown(options: MarkdownOptions = {}): string {
  const { dbus = false, needs = true, headingLevel = 3 } = options;
  const out: string[] = [];
  const cats = Object.keys(CATEGORY_TITLES) as Category[];
  for (const cat of cats) {
    const names = PROPERTY_NAMES.filter((n) => TABLE[n].category === cat);
    if (names.length === 0) continue;
    out.push(`${'#'.repeat(headingLevel)} ${CATEGORY_TITLES[cat]}`, '');
    const head = ['Property', 'What it does', 'Unit', 'Example'];
    if (needs) head.push('Host needs');
    if (dbus) head.push('D-Bus');
    out.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
    for (const n of names) {
      const s = TABLE[n];
      const doc = 'note' in s && s.note ? `${s.doc} ${s.note}` : s.doc;
      const row = [`\`${n}\``, cell(doc), cell(s.unit), `\`${cell(formatExample(s.example))}\``];
      if (needs) row.push(cell(describeNeeds(s.needs)));
      if (dbus) row.push(s.dbus.map(([d, sig]) => `\`${d}\` \`${sig}\``).join(', '));
      out.push(`| ${row.join(' | ')} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** One help line per property, grouped by category: `  CPUQuota=50%   Caps the CPU time ... [percent of one CPU]`. */
export function propertiesHelpLines(width = 34): string[] {
  const lines: string[] = [];
  const cats = Object.keys(CATEGORY_TITLES) as Category[];
  for (const cat of cats) {
    const names = PROPERTY_NAMES.filter((n) => TABLE[n].category === cat);
    if (names.length === 0) continue;
    lines.push(`${CATEGORY_TITLES[cat]}:`);
    for (const n of names) {
      const s = TABLE[n];
      const left = `  ${n}=${unitFileForm(s.example)}`;
      if (left.length < width) lines.push(`${left.padEnd(width)}${s.doc} [${s.unit}]`);
      else lines.push(left, `${' '.repeat(width)}${s.doc} [${s.unit}]`);
    }
  }
  return lines;
}

/** The presets as Markdown: what each is for, what it blocks and keeps, and its properties. */
export function presetsMarkdown(headingLevel = 3): string {
  const out: string[] = [];
  for (const name of PRESET_NAMES) {
    const doc = PRESET_DOCS[name];
    const props = preset(name, { cwd: '/path/to/project', cpus: 8 });
    out.push(`${'#'.repeat(headingLevel)} \`${name}\``, '', doc.summary, '', 'Blocks:', '');
    for (const b of doc.blocks) out.push(`- ${b}`);
    out.push('', 'Keeps:', '');
    for (const k of doc.keeps) out.push(`- ${k}`);
    out.push('', '```ini');
    for (const [k, v] of Object.entries(props)) {
      // { allow, deny } is two assignments in a unit file: the allow-list, then the deny-list applied after it.
      const o = v as { allow?: unknown; deny?: unknown };
      if (Array.isArray(o.allow) && Array.isArray(o.deny))
        out.push(`${k}=${unitFileForm(o.allow)}`, `${k}=~${unitFileForm(o.deny)}`);
      else out.push(`${k}=${unitFileForm(v)}`);
    }
    out.push('```', '');
  }
  return out.join('\n');
}
