import { randomBytes } from 'node:crypto';
import { PROTOCOL_VERSION } from './version.js';
import type { CollectorMessage, CollectorMessageType, AgentMessage } from './messages.js';

let counter = 0;
const prefix = randomBytes(6).toString('base64url');

/** A message id unique within this process and very likely across processes. */
export function newMessageId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${prefix}-${counter.toString(36)}`;
}

type BodyOf<T extends CollectorMessageType> = Extract<CollectorMessage, { type: T }>['body'];

/** Builds a collector → agent message with a fresh id and timestamp. */
export function collectorMessage<T extends CollectorMessageType>(type: T, body: BodyOf<T>, now = Date.now()): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, type, id: newMessageId(), ts: new Date(now).toISOString(), body });
}

type AgentControlType = Exclude<AgentMessage, { seq: number }>['type'];
type AgentControlBody<T extends AgentControlType> = Extract<AgentMessage, { type: T }>['body'];

/** Builds an agent control message (hello, heartbeat). Events are built by the outbox, which owns seq. */
export function agentControlMessage<T extends AgentControlType>(type: T, body: AgentControlBody<T>, now = Date.now()): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, type, id: newMessageId(), ts: new Date(now).toISOString(), body });
}
