import { createHash, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../../collector/audit/canonical-json.js';
import {
  createEventDigest,
  eventLine,
  GENESIS_HASH,
  recordHash,
  signCheckpoint,
  verifyCheckpoint,
  type ChainedFields,
} from '../../../../collector/audit/chain.js';

const fields: ChainedFields = {
  id: 1,
  ts: '2026-01-01T00:00:00.000Z',
  actor: 'usr_1',
  action: 'user.create',
  target_type: 'user',
  target_id: 'usr_2',
  case_id: null,
  detail: '{"roles":["duty"]}',
};

describe('recordHash', () => {
  it('is sha256 of the previous hash followed by the canonical JSON of the fields', () => {
    const canonical =
      '{"action":"user.create","actor":"usr_1","case_id":null,"detail":"{\\"roles\\":[\\"duty\\"]}","id":1,"target_id":"usr_2","target_type":"user","ts":"2026-01-01T00:00:00.000Z"}';
    const expected = createHash('sha256').update(GENESIS_HASH + canonical).digest('hex');
    expect(recordHash(GENESIS_HASH, fields)).toBe(expected);
  });

  it('changes when any field, the previous hash or a single byte of the detail changes', () => {
    const base = recordHash(GENESIS_HASH, fields);
    const variants: ChainedFields[] = [
      { ...fields, id: 2 },
      { ...fields, ts: '2026-01-01T00:00:00.001Z' },
      { ...fields, actor: 'usr_9' },
      { ...fields, action: 'user.disable' },
      { ...fields, target_type: 'seat' },
      { ...fields, target_id: 'usr_3' },
      { ...fields, case_id: 'ulk_1' },
      { ...fields, detail: '{"roles":["dutz"]}' },
      { ...fields, detail: '{"roles": ["duty"]}' },
    ];
    for (const v of variants) expect(recordHash(GENESIS_HASH, v)).not.toBe(base);
    expect(recordHash('1'.repeat(64), fields)).not.toBe(base);
  });

  it('ignores properties that are not chained fields (a stored row can be passed as is)', () => {
    const row = { ...fields, prev_hash: GENESIS_HASH, hash: 'whatever' };
    expect(recordHash(GENESIS_HASH, row)).toBe(recordHash(GENESIS_HASH, fields));
  });
});

describe('createEventDigest', () => {
  const row = { id: 1, agent_id: 'agt_1', seq: 1, type: 'usb.inserted', ts: 't', received_at: 'r', body: '{"a":1}' };

  it('depends on every column and on the order of rows', () => {
    const digestOf = (rows: (typeof row)[]) => {
      const d = createEventDigest();
      for (const r of rows) d.add(r);
      return d.digest();
    };
    const a = digestOf([row, { ...row, id: 2, seq: 2 }]);
    expect(digestOf([{ ...row, id: 2, seq: 2 }, row])).not.toBe(a);
    expect(digestOf([row, { ...row, id: 2, seq: 2, body: '{"a":2}' }])).not.toBe(a);
    expect(digestOf([row, { ...row, id: 2, seq: 2, agent_id: 'agt_2' }])).not.toBe(a);
    expect(digestOf([row])).not.toBe(a);
  });

  it('counts the rows it hashed', () => {
    const d = createEventDigest();
    d.add(row);
    d.add({ ...row, id: 2 });
    expect(d.count).toBe(2);
  });
});

describe('checkpoint signatures', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const claim = { last_audit_id: 1000, last_hash: 'a'.repeat(64), ts: '2026-01-01T00:00:00.000Z' };

  it('verify with the signing key', () => {
    expect(verifyCheckpoint(publicKey, claim, signCheckpoint(privateKey, claim))).toBe(true);
  });

  it('do not verify for another claim, another key or a damaged signature', () => {
    const sig = signCheckpoint(privateKey, claim);
    expect(verifyCheckpoint(publicKey, { ...claim, last_audit_id: 1001 }, sig)).toBe(false);
    expect(verifyCheckpoint(publicKey, { ...claim, last_hash: 'b'.repeat(64) }, sig)).toBe(false);
    expect(verifyCheckpoint(generateKeyPairSync('ed25519').publicKey, claim, sig)).toBe(false);
    const bytes = Buffer.from(sig, 'base64');
    bytes[0] = bytes[0]! ^ 1;
    expect(verifyCheckpoint(publicKey, claim, bytes.toString('base64'))).toBe(false);
    expect(verifyCheckpoint(publicKey, claim, 'not base64 at all')).toBe(false);
  });
});

describe('eventLine', () => {
  const row = fc.record({
    id: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    agent_id: fc.string({ unit: 'binary' }),
    seq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    type: fc.string({ unit: 'grapheme' }),
    ts: fc.string(),
    received_at: fc.string(),
    // Any text, including lone surrogates, NUL and U+2028: JSON text of hostile bodies.
    body: fc.oneof(fc.string({ unit: 'binary' }), fc.jsonValue().map((v) => JSON.stringify(v))),
  });

  it('writes exactly the canonical JSON of the row for any strings and integers', () => {
    fc.assert(
      fc.property(row, (r) => {
        expect(eventLine(r)).toBe(canonicalJson({ id: r.id, agent_id: r.agent_id, seq: r.seq, type: r.type, ts: r.ts, received_at: r.received_at, body: r.body }));
      }),
      { numRuns: 2000 },
    );
  });

  it('falls back to the canonical writer (and its refusals) for a column that is not text or an integer', () => {
    const r = { id: 1, agent_id: 'a', seq: 1, type: 't', ts: 'x', received_at: 'y', body: null as unknown as string };
    expect(eventLine(r)).toBe(canonicalJson({ ...r }));
    expect(() => eventLine({ ...r, seq: Number.NaN })).toThrow(/non-finite/);
  });
});
