import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

/**
 * Agent authentication at the WebSocket upgrade (before the socket is accepted):
 *   1. GET  {AGENT_CHALLENGE_PATH}            → { nonce, expires_at }  (single use, short-lived)
 *   2. GET  {AGENT_WS_PATH} (Upgrade) with the headers below, the signature made with the agent's
 *      Ed25519 private key over {@link signingInput}. The collector checks it against the public key
 *      recorded at enrollment, burns the nonce, and only then completes the upgrade.
 * The private key never leaves the seat (file mode 0600 under the agent's state dir).
 */
export const AGENT_CHALLENGE_PATH = '/agent/v1/challenge';
export const ENROLL_PATH = '/agent/v1/enroll';

export const AUTH_HEADERS = {
  agentId: 'x-seatguard-agent',
  nonce: 'x-seatguard-nonce',
  signature: 'x-seatguard-signature',
} as const;

const CONTEXT = 'seatguard-agent-auth-v1';

export function signingInput(agentId: string, nonce: string): Buffer {
  return Buffer.from(`${CONTEXT}\n${agentId}\n${nonce}`, 'utf8');
}

export function signChallenge(privateKey: KeyObject, agentId: string, nonce: string): string {
  return sign(null, signingInput(agentId, nonce), privateKey).toString('base64');
}

export function verifyChallenge(publicKey: KeyObject, agentId: string, nonce: string, signatureB64: string): boolean {
  if (signatureB64.length > 200) return false;
  try {
    return verify(null, signingInput(agentId, nonce), publicKey, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}

const ENROLL_CONTEXT = 'seatguard-enroll-v1';

/**
 * What an enrolling agent signs (`proof` of POST {@link ENROLL_PATH}): the token and the public key
 * it registers. It proves the request comes from the holder of the private key, which is what lets
 * the collector answer a retry of a used token (its answer was lost) without handing the seat's
 * identity and offline secret to anyone else who learns the token and the public key.
 */
export function enrollProofInput(token: string, publicKeyB64: string): Buffer {
  return Buffer.from(`${ENROLL_CONTEXT}\n${token}\n${publicKeyB64}`, 'utf8');
}

/** The base64 Ed25519 signature over {@link enrollProofInput}. */
export function signEnrollProof(privateKey: KeyObject, token: string, publicKeyB64: string): string {
  return sign(null, enrollProofInput(token, publicKeyB64), privateKey).toString('base64');
}

/** True when `proofB64` is the key's signature over the token and that key; never throws. */
export function verifyEnrollProof(publicKey: KeyObject, token: string, publicKeyB64: string, proofB64: string): boolean {
  if (proofB64.length > 200) return false;
  try {
    return verify(null, enrollProofInput(token, publicKeyB64), publicKey, Buffer.from(proofB64, 'base64'));
  } catch {
    return false;
  }
}

export function generateAgentKeyPair(): { publicKeyB64: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKeyB64: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** Parses a base64 SPKI DER public key; only Ed25519 keys are accepted. */
export function parseAgentPublicKey(b64: string): KeyObject | null {
  if (b64.length > 200) return null;
  try {
    const key = createPublicKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'ed25519' ? key : null;
  } catch {
    return null;
  }
}
