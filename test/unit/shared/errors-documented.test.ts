import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../../shared/errors.js';

const DOC = readFileSync(resolve(import.meta.dirname, '../../../docs/errors.md'), 'utf8');

/** Codes that have a table row of their own: "| `CODE` | explanation |". */
function documentedCodes(): string[] {
  return [...DOC.matchAll(/^\| `([A-Z][A-Z0-9]*_ERR_[A-Z0-9_]+)` \| (.+?) \|$/gm)].filter((m) => (m[2] ?? '').trim().length > 10).map((m) => m[1]!);
}

describe('docs/errors.md', () => {
  it('documents every code of the registry with a line of explanation', () => {
    const documented = new Set(documentedCodes());
    const missing = Object.keys(ERRORS).filter((c) => !documented.has(c));
    expect(missing).toEqual([]);
  });

  it('documents no code that is not in the registry, and none twice', () => {
    const codes = documentedCodes();
    expect(codes.filter((c) => !(c in ERRORS))).toEqual([]);
    expect(codes.filter((c, i) => codes.indexOf(c) !== i)).toEqual([]);
  });
});
