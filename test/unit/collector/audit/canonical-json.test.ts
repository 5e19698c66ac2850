import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../../collector/audit/canonical-json.js';

describe('canonicalJson', () => {
  it('sorts object keys recursively and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('gives the same text for objects that differ only in key order', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(obj));
      }),
    );
  });

  it('round-trips through JSON.parse to an equal value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        // -0 is written as 0, which JSON cannot tell apart anyway.
        expect(JSON.parse(canonicalJson(v))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
    );
  });

  it('drops undefined members like JSON does and writes undefined array slots as null', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, 1] })).toBe('{"b":[null,1]}');
  });

  it('escapes control, bidi and lone surrogate characters instead of passing them raw', () => {
    const text = canonicalJson({ s: 'a\u0000b\u202e\ud800' });
    expect(text).toBe('{"s":"a\\u0000b\u202e\\ud800"}');
  });

  it('refuses values JSON cannot represent exactly', () => {
    for (const bad of [NaN, Infinity, 10n, () => 1, new Date(0), Symbol('x')]) {
      expect(() => canonicalJson({ v: bad })).toThrowError(expect.objectContaining({ code: 'AUDIT_ERR_INVALID' }));
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrowError(expect.objectContaining({ code: 'AUDIT_ERR_INVALID' }));
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });
});
