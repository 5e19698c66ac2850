import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiAuthenticator, Principal } from '../../../../collector/http/auth.js';
import { installRouteGuard, requireAction } from '../../../../collector/http/authorize.js';
import { buildHttpApp } from '../../../../collector/http/router.js';
import { silentLogger } from '../../../../shared/logger.js';

const principal: Principal = { kind: 'api-token', tokenId: 1, userId: 'usr_1', username: 'u', roles: ['admin'], departments: '*' };
const authenticator: ApiAuthenticator = { authenticate: (req) => (req.headers.authorization === 'Bearer ok-token-0123456789' ? principal : null) };

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe('route guard', () => {
  it('denies to everyone an /api/v1 route that was registered without requireAction (default deny)', async () => {
    app = buildHttpApp({
      log: silentLogger(),
      authenticator,
      publicRoutes: [],
      apiV1Routes: [
        async (api) => {
          api.get('/forgotten', async () => ({ secret: 42 }));
          api.get('/checked', { preHandler: requireAction('seat.read') }, async () => ({ ok: true }));
        },
      ],
    });
    const catalog = installRouteGuard(app, silentLogger());
    await app.ready();
    const headers = { authorization: 'Bearer ok-token-0123456789' };
    const forgotten = await app.inject({ url: '/api/v1/forgotten', headers });
    expect(forgotten.statusCode).toBe(403);
    expect(forgotten.json()).toMatchObject({ error: { code: 'AUTH_ERR_FORBIDDEN' } });
    expect((await app.inject({ url: '/api/v1/checked', headers })).statusCode).toBe(200);
    expect(catalog().filter((r) => r.method === 'GET')).toEqual([
      { method: 'GET', url: '/api/v1/forgotten', access: undefined },
      { method: 'GET', url: '/api/v1/checked', access: 'seat.read' },
    ]);
  });

  it('answers 403 for a role the action is not granted to, naming the action', async () => {
    app = buildHttpApp({
      log: silentLogger(),
      authenticator,
      publicRoutes: [],
      apiV1Routes: [async (api) => void api.post('/approve', { preHandler: requireAction('unlock.approve') }, async () => ({ ok: true }))],
    });
    installRouteGuard(app, silentLogger());
    const res = await app.inject({ method: 'POST', url: '/api/v1/approve', headers: { authorization: 'Bearer ok-token-0123456789' }, payload: {} });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({ error: { code: 'AUTH_ERR_FORBIDDEN', message: 'Not allowed: unlock.approve' } });
  });

  it('checks the role before parsing or validating the request, so a forbidden caller learns nothing from a 400', async () => {
    app = buildHttpApp({
      log: silentLogger(),
      authenticator,
      publicRoutes: [],
      apiV1Routes: [
        async (api) =>
          void api.post<{ Params: { id: string } }>(
            '/things/:id',
            {
              schema: { params: { type: 'object', properties: { id: { type: 'integer' } } }, body: { type: 'object', required: ['name'] } },
              preHandler: requireAction('unlock.execute'),
            },
            async () => ({ ok: true }),
          ),
      ],
    });
    installRouteGuard(app, silentLogger());
    const headers = { authorization: 'Bearer ok-token-0123456789', 'content-type': 'application/json' };
    const invalid = await app.inject({ method: 'POST', url: '/api/v1/things/not-a-number', headers, payload: '{not json' });
    expect(invalid.statusCode).toBe(403);
    expect(invalid.json()).toMatchObject({ error: { code: 'AUTH_ERR_FORBIDDEN' } });
  });
});
