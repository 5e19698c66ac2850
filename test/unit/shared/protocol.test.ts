import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_ERROR_CODES } from '../../../shared/protocol/codes.js';
import { decodeAgentMessage, decodeCollectorMessage, validateOutgoing } from '../../../shared/protocol/decode.js';
import { agentControlMessage, collectorMessage } from '../../../shared/protocol/encode.js';
import { AGENT_EVENT_MESSAGES, AGENT_MESSAGES, COLLECTOR_MESSAGES, type CollectorMessageType } from '../../../shared/protocol/messages.js';
import { MAX_FRAME_BYTES } from '../../../shared/protocol/version.js';

const FIXTURES = resolve(import.meta.dirname, '../../fixtures/protocol');
type Json = Record<string, unknown>;

function loadDir(dir: string): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const f of readdirSync(join(FIXTURES, dir)).filter((n) => n.endsWith('.json')).sort()) {
    out.set(f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(FIXTURES, dir, f), 'utf8')) as Json);
  }
  return out;
}

const good = loadDir('good');
const bad = loadDir('bad');
const agentTypes = Object.keys(AGENT_MESSAGES);
const collectorTypes = Object.keys(COLLECTOR_MESSAGES);
const clone = <T>(v: T): T => structuredClone(v);

function decodeFor(type: string, raw: string) {
  return agentTypes.includes(type) ? decodeAgentMessage(raw) : decodeCollectorMessage(raw);
}

describe('protocol golden samples', () => {
  it('has exactly one good sample per message type, named after the type', () => {
    expect([...good.keys()].sort()).toEqual([...agentTypes, ...collectorTypes].sort());
    for (const [name, msg] of good) expect(msg.type).toBe(name);
  });

  it.each([...good.keys()])('%s: the golden sample decodes to itself', (type) => {
    const sample = good.get(type)!;
    const d = decodeFor(type, JSON.stringify(sample));
    expect(d).toEqual({ ok: true, msg: sample });
    expect(validateOutgoing(sample as { type: string })).toBeNull();
  });

  it.each([...good.keys()])('%s: encode → decode → deep equal', (type) => {
    const sample = good.get(type)!;
    let raw: string;
    if (collectorTypes.includes(type)) {
      raw = collectorMessage(type as CollectorMessageType, sample.body as never, Date.parse(String(sample.ts)));
    } else if (type in AGENT_EVENT_MESSAGES) {
      // Events are built by the agent outbox (which owns seq); the wire form is plain JSON.
      raw = JSON.stringify(sample);
    } else {
      raw = agentControlMessage(type as 'hello' | 'heartbeat', sample.body as never, Date.parse(String(sample.ts)));
    }
    const d = decodeFor(type, raw);
    expect(d.ok).toBe(true);
    if (d.ok !== true) return;
    const { id: _id, ...rest } = d.msg as Json;
    const { id: _sid, ...expected } = sample;
    expect(rest).toEqual(expected);
  });
});

describe('protocol rejects malformed frames', () => {
  it.each([...bad.keys()])('bad/%s is rejected with its expected code', (name) => {
    const c = bad.get(name)!;
    const d = decodeAgentMessage(String(c.frame));
    expect(d.ok, String(c.description)).toBe(false);
    if (d.ok === false) expect(d.code).toBe(c.expected_code);
  });

  it('uses only codes an error frame may carry', () => {
    for (const c of bad.values()) expect(PROTOCOL_ERROR_CODES).toContain(c.expected_code);
  });

  it.each([...good.keys()])('%s: removing any envelope or body field is rejected', (type) => {
    const sample = good.get(type)!;
    for (const key of Object.keys(sample)) {
      const m = clone(sample);
      delete m[key];
      const d = decodeFor(type, JSON.stringify(m));
      expect(d.ok, `without ${key}`).toBe(false);
    }
    const body = sample.body as Json;
    const schema = ({ ...AGENT_MESSAGES, ...COLLECTOR_MESSAGES } as Record<string, { properties: { body: { required?: string[] } } }>)[type]!;
    for (const key of schema.properties.body.required ?? []) {
      const m = clone(sample);
      delete (m.body as Json)[key];
      const d = decodeFor(type, JSON.stringify(m));
      expect(d, `body without ${key}`).toMatchObject({ ok: false, code: 'PROTO_ERR_INVALID_MESSAGE' });
    }
    expect(Object.keys(body).length).toBeGreaterThan(0);
  });

  it.each([...good.keys()])('%s: an extra field in the envelope or the body is rejected', (type) => {
    const sample = good.get(type)!;
    const top = { ...clone(sample), extra: 1 };
    const inBody = clone(sample);
    (inBody.body as Json).extra = 1;
    for (const m of [top, inBody]) expect(decodeFor(type, JSON.stringify(m))).toMatchObject({ ok: false, code: 'PROTO_ERR_INVALID_MESSAGE' });
  });

  const LONG_TEXT_FIELDS = new Set(['rules']);

  it.each([...good.keys()])('%s: a field of the wrong type is rejected', (type) => {
    const sample = good.get(type)!;
    for (const key of Object.keys(sample.body as Json)) {
      for (const wrong of [{ nested: true }, [], 'x'.repeat(2000), -1.5]) {
        const m = clone(sample);
        const original = (m.body as Json)[key];
        if (JSON.stringify(original) === JSON.stringify(wrong)) continue;
        (m.body as Json)[key] = wrong;
        const d = decodeFor(type, JSON.stringify(m));
        // An empty array can be valid for list fields (e.g. controllers): only reject where it must.
        if (Array.isArray(wrong) && Array.isArray(original)) continue;
        // Policy text is legitimately long: 2000 characters is a valid value there.
        if (typeof wrong === 'string' && LONG_TEXT_FIELDS.has(key)) continue;
        expect(d.ok, `${key} = ${JSON.stringify(wrong).slice(0, 20)}`).toBe(false);
      }
    }
  });

  it('rejects frames larger than MAX_FRAME_BYTES before parsing them', () => {
    const sample = clone(good.get('agent.stopping')!);
    (sample.body as Json).reason = 'x'.repeat(MAX_FRAME_BYTES);
    expect(decodeAgentMessage(JSON.stringify(sample))).toMatchObject({ ok: false, code: 'PROTO_ERR_TOO_LARGE' });
    // Counted in bytes, not characters: 3-byte characters overflow sooner.
    const wide = '€'.repeat(Math.ceil(MAX_FRAME_BYTES / 3) + 1);
    expect(decodeAgentMessage(wide)).toMatchObject({ ok: false, code: 'PROTO_ERR_TOO_LARGE' });
    expect(decodeAgentMessage(Buffer.from(wide))).toMatchObject({ ok: false, code: 'PROTO_ERR_TOO_LARGE' });
  });

  it('rejects hostile device strings with control or invisible characters in every usb event', () => {
    const hostile = ['Stick\u0000', 'Stick\u0007', 'A\u001b[31mB', 'x\u0085y', 'Good\u202eexe', 'a\u2066b', 'zero\u200bwidth', 'bom\ufeff', 'line\u2028sep'];
    for (const type of ['usb.inserted', 'usb.blocked', 'usb.allowed', 'usb.removed']) {
      for (const field of ['manufacturer', 'product', 'serial']) {
        for (const s of hostile) {
          const m = clone(good.get(type)!);
          ((m.body as Json).device as Json)[field] = s;
          expect(decodeAgentMessage(JSON.stringify(m)), `${type}.${field}=${JSON.stringify(s)}`).toMatchObject({
            ok: false,
            code: 'PROTO_ERR_INVALID_MESSAGE',
          });
        }
      }
    }
  });

  it('keeps the ref_id of a readable message id and drops an unreadable one', () => {
    const m: Json = { ...clone(good.get('agent.stopping')!), v: 9 };
    expect(decodeAgentMessage(JSON.stringify(m))).toMatchObject({ ok: false, code: 'PROTO_ERR_VERSION', ref_id: m.id });
    const weird = { ...m, id: '<script>' };
    const d = decodeAgentMessage(JSON.stringify(weird));
    expect(d.ok).toBe(false);
    expect('ref_id' in d).toBe(false);
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ v: 1, type: 'usb.inserted', id: 'x', body: v }))), (raw) => {
        const d = decodeAgentMessage(raw);
        expect(typeof d.ok).toBe('boolean');
        decodeCollectorMessage(raw);
      }),
      { numRuns: 500 },
    );
  });

  it('lets a newer collector add message types the agent ignores', () => {
    const future = { v: 1, type: 'policy.updated.v2', id: 'f-1', ts: '2026-01-15T09:30:00.000Z', body: {} };
    expect(decodeCollectorMessage(JSON.stringify(future))).toEqual({ ok: 'ignored', type: 'policy.updated.v2' });
  });
});
