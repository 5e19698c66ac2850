import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateAgentKeyPair, parseAgentPublicKey, signEnrollProof, verifyEnrollProof } from '../../../../shared/protocol/agent-auth.js';

// The enrollment proof binds the token AND the registered public key to the private key.

const pair = () => {
  const k = generateAgentKeyPair();
  return { pub: k.publicKeyB64, key: parseAgentPublicKey(k.publicKeyB64)!, priv: createPrivateKey(k.privateKeyPem) };
};

describe('enrollment proof (signEnrollProof / verifyEnrollProof)', () => {
  it('verifies the signature of the token and public key by that key', () => {
    const a = pair();
    const proof = signEnrollProof(a.priv, 'sgt_token-1', a.pub);
    expect(proof).toMatch(/^[A-Za-z0-9+/]{86}==$/);
    expect(verifyEnrollProof(a.key, 'sgt_token-1', a.pub, proof)).toBe(true);
  });

  it('refuses a proof for another token, for another public key, or made by another key', () => {
    const a = pair();
    const b = pair();
    const proof = signEnrollProof(a.priv, 'sgt_token-1', a.pub);
    expect(verifyEnrollProof(a.key, 'sgt_token-2', a.pub, proof)).toBe(false);
    expect(verifyEnrollProof(b.key, 'sgt_token-1', b.pub, proof)).toBe(false);
    expect(verifyEnrollProof(a.key, 'sgt_token-1', a.pub, signEnrollProof(b.priv, 'sgt_token-1', a.pub))).toBe(false);
  });

  it('answers false, never throws, for hostile proof strings', () => {
    const a = pair();
    for (const bad of ['', '!!!!', 'A'.repeat(201), Buffer.alloc(64).toString('base64'), '\u0000\u202e']) {
      expect(verifyEnrollProof(a.key, 'sgt_token-1', a.pub, bad)).toBe(false);
    }
  });
});
