/**
 * Independent test-side parsers for what the syslog channel emits: RFC 5424 messages and CEF
 * lines. Written from the RFC / CEF rules, not from the channel code, so round-trip tests mean
 * something. They throw on anything malformed.
 */

export interface SdElement {
  id: string;
  params: Record<string, string>;
}

export interface Rfc5424Message {
  pri: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sd: SdElement[] | null;
  /** MSG without the BOM; null when absent. */
  msg: string | null;
  bom: boolean;
}

const HEADER = /^<([0-9]{1,3})>([1-9][0-9]{0,2}) (\S+) ([\x21-\x7e]{1,255}) ([\x21-\x7e]{1,48}) ([\x21-\x7e]{1,128}) ([\x21-\x7e]{1,32}) /;

export function parseRfc5424(input: Buffer | string): Rfc5424Message {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  const m = HEADER.exec(text);
  if (!m) throw new Error(`not an RFC 5424 header: ${JSON.stringify(text.slice(0, 80))}`);
  let i = m[0].length;
  let sd: SdElement[] | null = null;
  if (text[i] === '-') {
    i++;
  } else {
    sd = [];
    while (text[i] === '[') {
      i++;
      const idEnd = text.slice(i).search(/[ \]]/);
      if (idEnd <= 0) throw new Error('bad SD-ID');
      const el: SdElement = { id: text.slice(i, i + idEnd), params: {} };
      i += idEnd;
      while (text[i] === ' ') {
        i++;
        const eq = text.indexOf('="', i);
        if (eq === -1) throw new Error('bad SD-PARAM');
        const name = text.slice(i, eq);
        if (!/^[^= \]"]{1,32}$/.test(name)) throw new Error(`bad PARAM-NAME ${name}`);
        i = eq + 2;
        let value = '';
        for (;;) {
          const c = text[i];
          if (c === undefined) throw new Error('unterminated PARAM-VALUE');
          if (c === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\' || text[i + 1] === ']')) {
            value += text[i + 1];
            i += 2;
            continue;
          }
          if (c === '"') break;
          if (c === ']') throw new Error('unescaped ] inside PARAM-VALUE');
          value += c;
          i++;
        }
        i++;
        el.params[name] = value;
      }
      if (text[i] !== ']') throw new Error('SD-ELEMENT not closed');
      i++;
      sd.push(el);
    }
    if (sd.length === 0) throw new Error('STRUCTURED-DATA missing');
  }
  let msg: string | null = null;
  let bom = false;
  if (i < text.length) {
    if (text[i] !== ' ') throw new Error('no SP before MSG');
    msg = text.slice(i + 1);
    if (msg.startsWith('\uFEFF')) {
      bom = true;
      msg = msg.slice(1);
    }
  }
  return {
    pri: Number(m[1]),
    version: Number(m[2]),
    timestamp: m[3] as string,
    hostname: m[4] as string,
    appName: m[5] as string,
    procId: m[6] as string,
    msgId: m[7] as string,
    sd,
    msg,
    bom,
  };
}

export interface CefMessage {
  version: string;
  vendor: string;
  product: string;
  productVersion: string;
  signatureId: string;
  name: string;
  severity: string;
  ext: Record<string, string>;
}

/** Splits a CEF line: 7 header fields on unescaped `|` (escapes `\|`, `\\`), then key=value pairs. */
export function parseCef(line: string): CefMessage {
  if (!line.startsWith('CEF:')) throw new Error('not a CEF line');
  if (/[\r\n]/.test(line)) throw new Error('raw line break in CEF line');
  const fields: string[] = [];
  let cur = '';
  let i = 4;
  while (i < line.length && fields.length < 7) {
    const c = line[i] as string;
    if (c === '\\') {
      const n = line[i + 1];
      if (n === '|' || n === '\\') {
        cur += n;
        i += 2;
        continue;
      }
      throw new Error(`bad header escape \\${n ?? ''}`);
    }
    if (c === '|') {
      fields.push(cur);
      cur = '';
      i++;
      continue;
    }
    cur += c;
    i++;
  }
  if (fields.length !== 7) throw new Error(`expected 7 header fields, got ${fields.length}`);
  const ext = parseCefExtension(line.slice(i));
  const [version, vendor, product, productVersion, signatureId, name, severity] = fields as [string, string, string, string, string, string, string];
  return { version, vendor, product, productVersion, signatureId, name, severity, ext };
}

function unescapeValue(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}

/** key=value pairs; a key is the word right before an unescaped '=' and after a space. */
export function parseCefExtension(ext: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (ext.length === 0) return out;
  const eqs: number[] = [];
  for (let i = 0; i < ext.length; i++) {
    if (ext[i] === '\\') {
      const n = ext[i + 1];
      if (n !== '\\' && n !== '=' && n !== 'n' && n !== 'r') throw new Error(`bad extension escape \\${n ?? ''}`);
      i++;
      continue;
    }
    if (ext[i] === '=') eqs.push(i);
  }
  const keys: Array<{ key: string; start: number; eq: number }> = [];
  for (const eq of eqs) {
    const before = ext.slice(0, eq);
    const km = /(?:^| )([A-Za-z0-9_]+)$/.exec(before);
    if (!km) throw new Error(`no key before = at ${eq}`);
    keys.push({ key: km[1] as string, start: eq - (km[1] as string).length, eq });
  }
  for (let k = 0; k < keys.length; k++) {
    const cur = keys[k] as { key: string; start: number; eq: number };
    const next = keys[k + 1];
    const end = next ? next.start - 1 : ext.length;
    if (next && ext[next.start - 1] !== ' ') throw new Error('keys not separated by a space');
    if (cur.key in out) throw new Error(`duplicate key ${cur.key}`);
    out[cur.key] = unescapeValue(ext.slice(cur.eq + 1, end));
  }
  return out;
}
