import {
  PASSWORD_FIELDS,
  type BiosInfo,
  type FirmwareReading,
  type FirmwareSourceReading,
  type PasswordField,
  type PasswordState,
} from '../platform/sensors.js';

export interface ResolvedField {
  state: PasswordState;
  /** Name of the deciding source; "none" when no source spoke about the field. */
  source: string;
}

export interface Disagreement {
  field: PasswordField;
  chosenSource: string;
  chosenState: PasswordState;
  otherSource: string;
  otherState: PasswordState;
}

/** The firmware state after resolving the sources; what the sensor reports and compares. */
export interface ResolvedFirmware {
  fields: Record<PasswordField, ResolvedField>;
  disagreements: Disagreement[];
  sources: FirmwareSourceReading[];
  bios: BiosInfo;
}

const RANK: Record<FirmwareSourceReading['authority'], number> = { vendor: 0, smbios: 1 };

const decisive = (s: PasswordState) => s !== 'unknown';

function resolveField(field: PasswordField, sources: FirmwareSourceReading[]): { resolved: ResolvedField; disagreements: Disagreement[] } {
  const speakers = sources
    .filter((s) => s.available && s.fields[field] !== undefined)
    .map((s, i) => ({ name: s.name, rank: RANK[s.authority], state: s.fields[field] as PasswordState, i }))
    .sort((a, b) => a.rank - b.rank || a.i - b.i);
  const top = speakers[0];
  if (!top) return { resolved: { state: 'unknown', source: 'none' }, disagreements: [] };

  // The most authoritative tier decides, even when it says "unknown": a weaker source never
  // overrides a vendor interface (SMBIOS type 24 is often a static value the firmware never updates).
  const tier = speakers.filter((s) => s.rank === top.rank);
  const tierStates = new Set(tier.filter((s) => decisive(s.state)).map((s) => s.state));
  let resolved: ResolvedField;
  if (tierStates.size > 1) {
    // Equally authoritative sources contradict each other: never guess.
    resolved = { state: 'unknown', source: tier.map((s) => s.name).join('+') };
  } else {
    const chosen = tier.find((s) => decisive(s.state)) ?? top;
    resolved = { state: chosen.state, source: chosen.name };
  }

  const disagreements: Disagreement[] = [];
  for (const s of speakers) {
    if (s.name === resolved.source || !decisive(s.state)) continue;
    if (s.state === resolved.state) continue;
    disagreements.push({ field, chosenSource: resolved.source, chosenState: resolved.state, otherSource: s.name, otherState: s.state });
  }
  return { resolved, disagreements };
}

/**
 * Resolves the sources of one reading into one state per field. Vendor interfaces outrank SMBIOS;
 * every contradiction between sources that both know is kept in `disagreements`. Pure.
 */
export function resolveFirmware(reading: FirmwareReading): ResolvedFirmware {
  const fields = {} as Record<PasswordField, ResolvedField>;
  const disagreements: Disagreement[] = [];
  for (const f of PASSWORD_FIELDS) {
    const r = resolveField(f, reading.sources);
    fields[f] = r.resolved;
    disagreements.push(...r.disagreements);
  }
  return { fields, disagreements, sources: reading.sources, bios: reading.bios };
}

/** What the sensor keeps across restarts to notice changes made while the agent was down (reboot into setup). */
export interface FirmwareBaseline {
  fields: Record<PasswordField, PasswordState>;
  bios: { vendor: string | null; version: string | null; date: string | null };
}

export function baselineOf(r: ResolvedFirmware): FirmwareBaseline {
  const fields = {} as Record<PasswordField, PasswordState>;
  for (const f of PASSWORD_FIELDS) fields[f] = r.fields[f].state;
  return { fields, bios: { vendor: r.bios.vendor, version: r.bios.version, date: r.bios.date } };
}

export interface FirmwareChanges {
  /** Fields that went from set to not_set. */
  removed: PasswordField[];
  /** True when a known BIOS identity changed to another known identity. */
  biosChanged: boolean;
  /** Any difference at all in fields or BIOS identity. */
  any: boolean;
}

/** Compares two baselines. An unknown value is never read as a change of BIOS (it is a different state). */
export function diffFirmware(prev: FirmwareBaseline, cur: FirmwareBaseline): FirmwareChanges {
  const removed = PASSWORD_FIELDS.filter((f) => prev.fields[f] === 'set' && cur.fields[f] === 'not_set');
  const fieldsChanged = PASSWORD_FIELDS.some((f) => prev.fields[f] !== cur.fields[f]);
  const keys = ['vendor', 'version', 'date'] as const;
  const biosChanged = keys.some((k) => prev.bios[k] !== null && cur.bios[k] !== null && prev.bios[k] !== cur.bios[k]);
  const biosDiff = keys.some((k) => prev.bios[k] !== cur.bios[k]);
  return { removed, biosChanged, any: fieldsChanged || biosDiff };
}
