import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { Type, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { describe, expect, it } from 'vitest';
import { AGENT_LOCAL_SCHEMAS, GENERATED_VALIDATORS, protocolValidatorSource } from '../../../scripts/gen-validators.js';
import { CodegenError, generateValidatorModule } from '../../../scripts/validator-codegen.js';
import { AGENT_MESSAGES, COLLECTOR_MESSAGES } from '../../../shared/protocol/messages.js';
import { AGENT_LOCAL_CHECKS, AGENT_MESSAGE_CHECKS, COLLECTOR_MESSAGE_CHECKS } from '../../../shared/protocol/validators.gen.js';

const REPO = resolve(import.meta.dirname, '../../..');
const FIXTURES = join(REPO, 'test/fixtures/protocol');

type Schema = Record<string, unknown>;
const isSchema = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Values shaped by a schema: mostly valid, sometimes not (fast-check cannot match every pattern). */
function arbitraryFor(s: unknown, depth = 0): fc.Arbitrary<unknown> {
  if (!isSchema(s) || depth > 12) return fc.jsonValue();
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  if (Array.isArray(s.anyOf)) return fc.oneof(...s.anyOf.map((a) => arbitraryFor(a, depth + 1)));
  switch (s.type) {
    case 'string': {
      const max = typeof s.maxLength === 'number' ? s.maxLength : 40;
      const min = typeof s.minLength === 'number' ? s.minLength : 0;
      if (typeof s.pattern === 'string') {
        try {
          return atLimits(s, fc.stringMatching(new RegExp(s.pattern, 'u'), { size: 'small' }));
        } catch {
          return fc.string({ minLength: min, maxLength: Math.min(max, 40) });
        }
      }
      return atLimits(s, fc.string({ minLength: min, maxLength: Math.min(max, 40), unit: 'grapheme' }));
    }
    case 'integer': {
      const min = typeof s.minimum === 'number' ? s.minimum : -1_000;
      const max = typeof s.maximum === 'number' ? s.maximum : min + 1_000_000;
      return fc.oneof(fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1, Math.max(min, -(2 ** 31)) + 1_000_000) }), fc.constantFrom(min, max));
    }
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true, min: typeof s.minimum === 'number' ? s.minimum : -1e9, max: typeof s.maximum === 'number' ? s.maximum : 1e9 });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(arbitraryFor(s.items, depth + 1), {
        minLength: typeof s.minItems === 'number' ? s.minItems : 0,
        maxLength: Math.min(typeof s.maxItems === 'number' ? s.maxItems : 4, 4),
      });
    case 'object': {
      if (isSchema(s.patternProperties)) {
        const [pattern, sub] = Object.entries(s.patternProperties)[0]!;
        return fc.dictionary(fc.stringMatching(new RegExp(pattern, 'u'), { size: 'xsmall' }), arbitraryFor(sub, depth + 1), { maxKeys: 3 });
      }
      const props = isSchema(s.properties) ? s.properties : {};
      const required = Array.isArray(s.required) ? (s.required as string[]) : [];
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) model[k] = arbitraryFor(v, depth + 1);
      return fc.record(model, { requiredKeys: required });
    }
    default:
      return fc.jsonValue();
  }
}

/** Every value one change away from `value`: each node replaced, grown, shrunk, dropped or extended. */
function* neighbours(value: unknown): Generator<unknown> {
  const REPLACEMENTS: unknown[] = [null, true, 0, -1, 1.5, 2 ** 53, '', 'x', '\ud800', '\u{1F600}', [], {}];
  function* at(v: unknown, rebuild: (next: unknown) => unknown, withoutThis: (() => unknown) | null): Generator<unknown> {
    for (const r of REPLACEMENTS) yield rebuild(r);
    if (withoutThis) yield withoutThis();
    if (typeof v === 'string') {
      yield rebuild(v + (v.at(-1) ?? 'a'));
      yield rebuild(v.slice(0, -1));
      yield rebuild(v + '\u{1F600}');
      yield rebuild(v + '\udc00');
      yield rebuild(` ${v}`);
    } else if (typeof v === 'number') {
      for (const n of [v + 1, v - 1, v + 0.5, -v]) yield rebuild(n);
    } else if (Array.isArray(v)) {
      if (v.length > 0) yield rebuild([...v, v[0]]);
      yield rebuild([v]);
      for (let i = 0; i < v.length; i++) {
        yield* at(v[i], (next) => rebuild(v.map((e, j) => (j === i ? next : e))), () => rebuild(v.filter((_, j) => j !== i)));
      }
    } else if (isSchema(v)) {
      for (const extra of ['extra', '__proto__', 'constructor', 'toString']) yield rebuild({ ...v, ...JSON.parse(`{${JSON.stringify(extra)}: 1}`) });
      for (const k of Object.keys(v)) {
        yield* at(v[k], (next) => rebuild({ ...v, [k]: next }), () => {
          const { [k]: _dropped, ...rest } = v;
          return rebuild(rest);
        });
      }
    }
  }
  yield* at(value, (next) => next, null);
}

/** Strings at and around their length limits, which random generation rarely hits. */
function atLimits(s: Schema, base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const max = typeof s.maxLength === 'number' ? s.maxLength : null;
  if (max === null) return base;
  const stretched = base.filter((x) => x.length > 0).map((x) => x.repeat(Math.ceil(max / x.length)).slice(0, max));
  return fc.oneof(base, stretched);
}

const registries = [
  ['collector → agent', COLLECTOR_MESSAGES, COLLECTOR_MESSAGE_CHECKS],
  ['agent → collector', AGENT_MESSAGES, AGENT_MESSAGE_CHECKS],
  // State files, IPC, HTTP answers, sensor configuration, fake scripts (agent/generated-checks.ts).
  ['agent-local', AGENT_LOCAL_SCHEMAS as Record<string, TSchema>, AGENT_LOCAL_CHECKS],
] as const;

describe('generated validators (shared/protocol/validators.gen.ts)', () => {
  it('are what the generator produces from the current schemas (regenerate with npm run gen:validators)', () => {
    expect(readFileSync(join(REPO, GENERATED_VALIDATORS), 'utf8')).toBe(protocolValidatorSource());
  });

  it('cover exactly the message types of both directions', () => {
    expect([...COLLECTOR_MESSAGE_CHECKS.keys()].sort()).toEqual(Object.keys(COLLECTOR_MESSAGES).sort());
    expect([...AGENT_MESSAGE_CHECKS.keys()].sort()).toEqual(Object.keys(AGENT_MESSAGES).sort());
    expect([...AGENT_LOCAL_CHECKS.keys()].sort()).toEqual(Object.keys(AGENT_LOCAL_SCHEMAS).sort());
  });

  it('accept every golden sample and reject every bad one exactly as TypeBox does', () => {
    for (const dir of ['good', 'bad']) {
      for (const f of readdirSync(join(FIXTURES, dir)).filter((n) => n.endsWith('.json'))) {
        const msg = JSON.parse(readFileSync(join(FIXTURES, dir, f), 'utf8')) as { type?: unknown };
        const type = typeof msg.type === 'string' ? msg.type : '';
        for (const [, schemas, checks] of registries) {
          const check = checks.get(type);
          if (!check) continue;
          const expected = Compile((schemas as Record<string, TSchema>)[type]!).Check(msg);
          expect({ f: `${dir}/${f}`, ok: check(msg) }).toEqual({ f: `${dir}/${f}`, ok: expected });
          if (dir === 'good') expect(check(msg)).toBe(true);
        }
      }
    }
  });

  for (const [direction, schemas, checks] of registries) {
    it(`${direction}: accept and reject exactly what TypeBox's compiled validators do, for generated messages and every one-change neighbour`, () => {
      let accepted = 0;
      let rejected = 0;
      for (const [type, schema] of Object.entries(schemas)) {
        const reference = Compile(schema);
        const generated = checks.get(type)!;
        for (const value of fc.sample(arbitraryFor(schema), { numRuns: 15, seed: 0x5ea7 })) {
          for (const candidate of [value, ...neighbours(value)]) {
            // Through JSON, as frames arrive: no undefined, and "__proto__" becomes an own property.
            const wire = JSON.parse(JSON.stringify(candidate) ?? 'null') as unknown;
            const want = reference.Check(wire);
            if (want) accepted++;
            else rejected++;
            if (generated(wire) !== want) expect({ type, wire, generated: !want }).toEqual({ type, wire, generated: want });
          }
        }
      }
      // Both outcomes must have been exercised, or the comparison proves little.
      expect(accepted).toBeGreaterThan(10 * Object.keys(schemas).length);
      expect(rejected).toBeGreaterThan(10 * Object.keys(schemas).length);
    });
  }

  it('refuses to translate a keyword it does not know, rather than accept everything', () => {
    const gen = (s: unknown) => generateValidatorModule([{ exportName: 'X', doc: 'x', schemas: { s } }], '');
    expect(() => gen(Type.String({ format: 'email' }))).toThrow(CodegenError);
    expect(() => gen(Type.Object({ a: Type.String() }, { additionalProperties: Type.String() }))).toThrow(CodegenError);
    expect(() => gen({ maxLength: 3 })).toThrow(CodegenError);
    expect(() => gen(Type.Unknown())).toThrow(CodegenError);
  });
});
