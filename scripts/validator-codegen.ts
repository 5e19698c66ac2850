/**
 * Turns the protocol's TypeBox schemas into one standalone TypeScript module of check functions
 * (shared/protocol/validators.gen.ts), so the agent can validate frames without loading TypeBox's
 * compiler and value engine at run time (docs/benchmarks.md, "Agent footprint"). The collector
 * keeps compiling the same schemas with TypeBox.
 *
 * Only the JSON Schema keywords the protocol uses are translated, each with TypeBox's own semantics
 * (checked against typebox/build/schema/engine and by the differential test in
 * test/unit/agent/protocol-validators.test.ts): string lengths in code points, patterns as
 * `new RegExp(p, 'u')`, `in` for presence (own-property test for __proto__ and constructor), an
 * optional property that is present but `undefined` passes, additionalProperties: false over
 * Object.getOwnPropertyNames. Any other keyword, or a form of a known one that is not translated,
 * stops the generator: a check it does not understand must never turn into "accept".
 */

type Schema = Record<string, unknown>;

/** Keywords that only describe; they never change what a check accepts. */
const ANNOTATIONS = new Set(['description', 'title', 'examples', 'default', '$comment']);
const TRANSLATED = new Set([
  'type', 'const', 'enum', 'anyOf',
  'minLength', 'maxLength', 'pattern',
  'minimum', 'maximum',
  'items', 'minItems', 'maxItems',
  'properties', 'required', 'additionalProperties', 'patternProperties', 'minProperties', 'maxProperties',
]);
const TYPED_KEYWORDS: Record<string, string> = {
  minLength: 'string', maxLength: 'string', pattern: 'string',
  minimum: 'number', maximum: 'number',
  items: 'array', minItems: 'array', maxItems: 'array',
  properties: 'object', required: 'object', additionalProperties: 'object', patternProperties: 'object', minProperties: 'object', maxProperties: 'object',
};

export class CodegenError extends Error {
  override name = 'CodegenError';
}

function isSchema(v: unknown): v is Schema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPrimitive(v: unknown): v is string | number | boolean | null {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

function literal(v: string | number | boolean | null): string {
  return JSON.stringify(v);
}

function count(v: unknown, where: string, kw: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new CodegenError(`${where}: ${kw} must be a non-negative integer`);
  return v;
}

class Emitter {
  /** Generated function bodies, deduplicated: the same sub-schema (MessageId, Timestamp…) is one function. */
  private readonly bodies = new Map<string, string>();
  private readonly regexps = new Map<string, string>();
  private readonly keySets = new Map<string, string>();
  private readonly lines: string[] = [];

  private regexp(pattern: unknown, where: string): string {
    if (typeof pattern !== 'string') throw new CodegenError(`${where}: pattern must be a string`);
    // Fails here, at generation, if the pattern is not valid with the 'u' flag TypeBox uses.
    new RegExp(pattern, 'u');
    let name = this.regexps.get(pattern);
    if (!name) {
      name = `re${this.regexps.size}`;
      this.regexps.set(pattern, name);
      this.lines.push(`const ${name} = new RegExp(${JSON.stringify(pattern)}, 'u');`);
    }
    return name;
  }

  private keySet(keys: readonly string[]): string {
    const key = JSON.stringify(keys);
    let name = this.keySets.get(key);
    if (!name) {
      name = `keys${this.keySets.size}`;
      this.keySets.set(key, name);
      this.lines.push(`const ${name}: ReadonlySet<string> = new Set(${JSON.stringify(keys)});`);
    }
    return name;
  }

  private fn(body: string): string {
    let name = this.bodies.get(body);
    if (!name) {
      name = `c${this.bodies.size}`;
      this.bodies.set(body, name);
      this.lines.push(`function ${name}(x: unknown): boolean {\n${body}\n}`);
    }
    return name;
  }

  /** Emits the check of one schema node and returns the name of its function. */
  node(s: unknown, where: string): string {
    if (!isSchema(s)) throw new CodegenError(`${where}: not a schema object`);
    for (const kw of Object.keys(s)) {
      if (!TRANSLATED.has(kw) && !ANNOTATIONS.has(kw)) throw new CodegenError(`${where}: keyword ${kw} is not translated`);
    }
    const type = s.type;
    if (type !== undefined && typeof type !== 'string') throw new CodegenError(`${where}: only a single type name is translated`);
    for (const [kw, needs] of Object.entries(TYPED_KEYWORDS)) {
      // Without its type next to it, a keyword would apply only to values of that type (JSON
      // Schema): the generated code relies on the type check to have narrowed x first.
      if (kw in s && !(type === needs || (needs === 'number' && type === 'integer'))) throw new CodegenError(`${where}: ${kw} without type ${needs}`);
    }
    const conds: string[] = [];
    const pre: string[] = [];
    if ('const' in s) {
      if (!isPrimitive(s.const)) throw new CodegenError(`${where}: only primitive const values are translated`);
      conds.push(`x === ${literal(s.const)}`);
    }
    if ('enum' in s) {
      if (!Array.isArray(s.enum) || s.enum.length === 0 || !s.enum.every(isPrimitive)) throw new CodegenError(`${where}: only non-empty enums of primitives are translated`);
      conds.push(`(${(s.enum as (string | number | boolean | null)[]).map((v) => `x === ${literal(v)}`).join(' || ')})`);
    }
    if ('anyOf' in s) {
      if (!Array.isArray(s.anyOf) || s.anyOf.length === 0) throw new CodegenError(`${where}: anyOf must be a non-empty array`);
      const alts = s.anyOf.map((a, i) => this.node(a, `${where}/anyOf/${i}`));
      conds.push(`(${alts.map((a) => `${a}(x)`).join(' || ')})`);
    }
    switch (type) {
      case undefined:
        break;
      case 'string':
        conds.push(`typeof x === 'string'`);
        if ('minLength' in s) conds.push(`minCodePoints(x, ${count(s.minLength, where, 'minLength')})`);
        if ('maxLength' in s) conds.push(`maxCodePoints(x, ${count(s.maxLength, where, 'maxLength')})`);
        if ('pattern' in s) conds.push(`${this.regexp(s.pattern, where)}.test(x)`);
        break;
      case 'integer':
      case 'number':
        conds.push(`typeof x === 'number'`, type === 'integer' ? 'Number.isInteger(x)' : 'Number.isFinite(x)');
        for (const [kw, op] of [['minimum', '>='], ['maximum', '<=']] as const) {
          if (!(kw in s)) continue;
          const limit = s[kw];
          if (typeof limit !== 'number' || !Number.isFinite(limit)) throw new CodegenError(`${where}: ${kw} must be a finite number`);
          conds.push(`x ${op} ${literal(limit)}`);
        }
        break;
      case 'boolean':
        conds.push(`typeof x === 'boolean'`);
        break;
      case 'null':
        conds.push('x === null');
        break;
      case 'array': {
        conds.push('Array.isArray(x)');
        if ('minItems' in s) conds.push(`x.length >= ${count(s.minItems, where, 'minItems')}`);
        if ('maxItems' in s) conds.push(`x.length <= ${count(s.maxItems, where, 'maxItems')}`);
        if ('items' in s) {
          if (!isSchema(s.items)) throw new CodegenError(`${where}: only a single items schema is translated`);
          conds.push(`x.every((e: unknown) => ${this.node(s.items, `${where}/items`)}(e))`);
        }
        break;
      }
      case 'object':
        return this.fn(this.objectBody(s, conds, where));
      default:
        throw new CodegenError(`${where}: type ${type} is not translated`);
    }
    if (conds.length === 0) throw new CodegenError(`${where}: a schema that accepts everything is not translated`);
    return this.fn([...pre, `  return ${conds.join(' && ')};`].join('\n'));
  }

  private objectBody(s: Schema, conds: readonly string[], where: string): string {
    const out: string[] = [];
    // const/enum/anyOf next to type object: checked first, as a whole.
    if (conds.length > 0) out.push(`  if (!(${conds.join(' && ')})) return false;`);
    out.push('  if (typeof x !== \'object\' || x === null || Array.isArray(x)) return false;', '  const o = x as Record<string, unknown>;');
    const props = s.properties === undefined ? {} : s.properties;
    if (!isSchema(props)) throw new CodegenError(`${where}: properties must be an object`);
    const required = s.required === undefined ? [] : s.required;
    if (!Array.isArray(required) || !required.every((k): k is string => typeof k === 'string')) throw new CodegenError(`${where}: required must be an array of names`);
    const has = (k: string) => (k === '__proto__' || k === 'constructor' ? `Object.prototype.hasOwnProperty.call(o, ${literal(k)})` : `${literal(k)} in o`);
    for (const k of required) out.push(`  if (!(${has(k)})) return false;`);
    if ('minProperties' in s) out.push(`  if (Object.getOwnPropertyNames(o).length < ${count(s.minProperties, where, 'minProperties')}) return false;`);
    if ('maxProperties' in s) out.push(`  if (Object.getOwnPropertyNames(o).length > ${count(s.maxProperties, where, 'maxProperties')}) return false;`);
    if ('additionalProperties' in s) {
      if (s.additionalProperties !== false) throw new CodegenError(`${where}: only additionalProperties: false is translated`);
      if ('patternProperties' in s) throw new CodegenError(`${where}: additionalProperties: false with patternProperties is not translated`);
      out.push(`  for (const k of Object.getOwnPropertyNames(o)) if (!${this.keySet(Object.keys(props))}.has(k)) return false;`);
    }
    for (const [k, sub] of Object.entries(props)) {
      const check = `${this.node(sub, `${where}/properties/${k}`)}(o[${literal(k)}])`;
      // TypeBox: a required property must pass; an optional one passes when absent or undefined.
      out.push(required.includes(k) ? `  if (!${check}) return false;` : `  if (!(o[${literal(k)}] === undefined || !(${has(k)}) || ${check})) return false;`);
    }
    if ('patternProperties' in s) {
      if (!isSchema(s.patternProperties)) throw new CodegenError(`${where}: patternProperties must be an object`);
      for (const [p, sub] of Object.entries(s.patternProperties)) {
        const re = this.regexp(p, where);
        const check = this.node(sub, `${where}/patternProperties/${p}`);
        out.push(`  for (const [k, v] of Object.entries(o)) if (${re}.test(k) && !${check}(v)) return false;`);
      }
    }
    out.push('  return true;');
    return out.join('\n');
  }

  source(): string {
    return this.lines.join('\n');
  }
}

export interface Registry {
  /** Name of the exported map, e.g. COLLECTOR_MESSAGE_CHECKS. */
  exportName: string;
  doc: string;
  schemas: Record<string, unknown>;
}

/** The whole generated module, deterministic for the same schemas (the drift test compares it byte for byte). */
export function generateValidatorModule(registries: readonly Registry[], header: string): string {
  const e = new Emitter();
  const exports: string[] = [];
  for (const r of registries) {
    const entries = Object.entries(r.schemas).map(([name, schema]) => `  [${literal(name)}, ${e.node(schema, `${r.exportName}/${name}`)}],`);
    exports.push(`/** ${r.doc} */\nexport const ${r.exportName}: ReadonlyMap<string, (x: unknown) => boolean> = new Map([\n${entries.join('\n')}\n]);`);
  }
  return `${header}

// String lengths in Unicode code points, as TypeBox counts them: a surrogate pair is one, a lone
// surrogate is one.
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      const p = s.charCodeAt(i - 1);
      if (p >= 0xd800 && p <= 0xdbff) continue;
    }
    n++;
  }
  return n;
}
function minCodePoints(s: string, min: number): boolean {
  return s.length >= 2 * min || (s.length >= min && codePoints(s) >= min);
}
function maxCodePoints(s: string, max: number): boolean {
  return s.length <= max || (s.length <= 2 * max && codePoints(s) <= max);
}

${e.source()}

${exports.join('\n\n')}
`;
}
