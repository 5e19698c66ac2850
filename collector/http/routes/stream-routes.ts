import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { formatError } from '../../../shared/errors.js';
import { LIVE_TOPICS, type LiveTopic } from '../../live/live-bus.js';
import type { SseHub } from '../../live/sse-hub.js';
import { requireAction } from '../authorize.js';
import { sendError } from '../errors.js';

const TOPIC = `(${LIVE_TOPICS.join('|')})`;

export const StreamQuery = Type.Object(
  {
    topics: Type.Optional(Type.String({ maxLength: 64, pattern: `^${TOPIC}(,${TOPIC}){0,${LIVE_TOPICS.length - 1}}$`, description: 'Comma list of event,alert,unlock,seat (default all)' })),
  },
  { additionalProperties: false },
);
export type StreamQuery = Static<typeof StreamQuery>;

/** Seconds a refused client should wait before trying again. */
const RETRY_AFTER_S = 30;

/** GET /api/v1/stream: Server-Sent Events of committed events and other modules' topics (event.read). */
export function streamRoutes(deps: { hub: SseHub }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: StreamQuery }>(
      '/stream',
      {
        schema: { summary: 'Live updates (text/event-stream)', querystring: StreamQuery },
        preHandler: requireAction('event.read'),
      },
      async (req, reply) => {
        if (deps.hub.isFull()) {
          return sendError(reply.header('retry-after', String(RETRY_AFTER_S)), 503, 'LIVE_ERR_TOO_MANY_STREAMS', formatError('LIVE_ERR_TOO_MANY_STREAMS', 'reached'));
        }
        const topics = new Set<LiveTopic>(req.query.topics === undefined ? LIVE_TOPICS : (req.query.topics.split(',') as LiveTopic[]));
        // The response outlives the handler: fastify hands the socket over and sends nothing itself.
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
          // Reverse proxies (nginx) must not buffer the stream.
          'x-accel-buffering': 'no',
        });
        if (!deps.hub.open(raw, { topics, scope: req.principal?.departments ?? [] })) raw.end();
      },
    );
  };
}
