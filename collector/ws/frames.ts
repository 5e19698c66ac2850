import type { ProtocolErrorCode } from '../../shared/protocol/codes.js';
import { collectorMessage } from '../../shared/protocol/encode.js';
import type { CollectorMessage } from '../../shared/protocol/messages.js';

type ErrorBody = Extract<CollectorMessage, { type: 'error' }>['body'];

/** Builds an `error` frame pointing back at the offending message when its id was readable. */
export function errorFrame(code: ProtocolErrorCode, detail: string, refId: string | undefined, now: number): string {
  const body = refId === undefined ? { code, detail } : { code, detail, ref_id: refId };
  // The cast is an identity once ProtocolErrorMessage types `code` as the code union; today its
  // Union-over-a-mapped-array makes the static type `never` (the runtime schema is right).
  return collectorMessage('error', body as ErrorBody, now);
}
