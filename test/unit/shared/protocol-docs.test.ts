import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_ERROR_CODES } from '../../../shared/protocol/codes.js';
import { decodeAgentMessage, decodeCollectorMessage } from '../../../shared/protocol/decode.js';
import { AGENT_MESSAGES, COLLECTOR_MESSAGES } from '../../../shared/protocol/messages.js';
import { CLOSE_CODES } from '../../../shared/protocol/version.js';

const DOC = readFileSync(resolve(import.meta.dirname, '../../../docs/protocol.md'), 'utf8');

describe('docs/protocol.md', () => {
  it.each([...Object.keys(AGENT_MESSAGES), ...Object.keys(COLLECTOR_MESSAGES)])('has a section for message type %s', (type) => {
    expect(DOC).toContain(`#### \`${type}\``);
  });

  it('names every protocol error code and every close code', () => {
    for (const code of PROTOCOL_ERROR_CODES) expect(DOC).toContain(`\`${code}\``);
    for (const [name, code] of Object.entries(CLOSE_CODES)) expect(DOC).toMatch(new RegExp(`\\| ${code} \\| \`${name}\` \\|`));
  });

  it('shows only example frames that decode, one per message type', () => {
    const examples = [...DOC.matchAll(/```json\n(\{"v":1,.*\})\n```/g)].map((m) => m[1]!);
    const types = new Set<string>();
    for (const ex of examples) {
      const a = decodeAgentMessage(ex);
      const c = decodeCollectorMessage(ex);
      const ok = a.ok === true ? a.msg : c.ok === true ? c.msg : null;
      expect(ok, ex.slice(0, 60)).not.toBeNull();
      if (ok) types.add(ok.type);
    }
    expect([...types].sort()).toEqual([...Object.keys(AGENT_MESSAGES), ...Object.keys(COLLECTOR_MESSAGES)].sort());
  });
});
