import { AppError, formatError } from '../../shared/errors.js';

/**
 * Canonical JSON of a value: object keys sorted by UTF-16 code units (recursively), no whitespace,
 * strings and numbers as JSON.stringify writes them, `undefined` members dropped. Hashes over
 * audit records depend on it, so it must never change for a given value (see docs/security-model.md).
 * Throws AUDIT_ERR_INVALID for values JSON cannot represent exactly (NaN, Infinity, bigint, functions, cycles).
 */
export function canonicalJson(value: unknown): string {
  return write(value, new Set());
}

function invalid(what: string): AppError {
  return new AppError('AUDIT_ERR_INVALID', formatError('AUDIT_ERR_INVALID', what));
}

function write(value: unknown, seen: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw invalid('non-finite number');
      // -0 and 0 must hash alike; JSON.stringify(-0) is already '0'.
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw invalid(`a ${typeof value} value`);
  }
  const obj = value as object;
  if (seen.has(obj)) throw invalid('a cyclic value');
  seen.add(obj);
  let out: string;
  if (Array.isArray(obj)) {
    out = `[${obj.map((v: unknown) => (v === undefined ? 'null' : write(v, seen))).join(',')}]`;
  } else {
    const proto: unknown = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) throw invalid('a non-plain object');
    const rec = obj as Record<string, unknown>;
    const keys = Object.keys(rec)
      .filter((k) => rec[k] !== undefined)
      .sort();
    out = `{${keys.map((k) => `${JSON.stringify(k)}:${write(rec[k], seen)}`).join(',')}}`;
  }
  seen.delete(obj);
  return out;
}
