// What the host must provide for the properties actually requested: the table's needs (table.ts), resolved by the
// value asked for. The capability check (src/unit/capabilities.ts) judges them against the host.

import { type HostNeeds, PROPERTY_NAMES, type PropertyName, TABLE, type UnitProperties } from './table.js';

/** What the host must provide for one requested property. */
export interface Requirement {
  readonly property: PropertyName;
  readonly needs: HostNeeds;
}

/** Values that restrict nothing, so need nothing from the host. */
function restrictsNothing(name: PropertyName, value: unknown): boolean {
  if (value === false) return true;
  if (value === 'infinity') return true;
  if (name === 'ProtectProc' && value === 'default') return true;
  if (name === 'ProcSubset' && value === 'all') return true;
  // The pool sets OOMPolicy=continue itself: asking for it changes nothing.
  if (name === 'OOMPolicy' && value === 'continue') return true;
  return false;
}

/**
 * The host requirements of the properties actually requested, resolved by value: false booleans and
 * 'infinity' need nothing; Nice below 0 and OOMScoreAdjust below 0 need the system manager.
 */
export function hostRequirements(props: UnitProperties): Requirement[] {
  const out: Requirement[] = [];
  for (const name of PROPERTY_NAMES) {
    const value = (props as Record<string, unknown>)[name];
    if (value === undefined || restrictsNothing(name, value)) continue;
    let needs: HostNeeds = TABLE[name].needs;
    if ((name === 'Nice' || name === 'OOMScoreAdjust') && typeof value === 'number') {
      const { root: _drop, ...rest } = needs;
      needs = value < 0 ? { ...rest, root: 'always' } : name === 'Nice' ? rest : needs;
    }
    out.push({ property: name, needs });
  }
  return out;
}
