import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatError } from '../../shared/errors.js';
import { ACTIONS, ROLES, can } from '../auth/privileges.js';
import { sendError } from '../http/errors.js';
import { CONSOLE_SECURITY_HEADERS } from './security-headers.js';

/** Repository root, from this file's place in the sources or in dist/. */
const REPO_ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../' : '../../', import.meta.url));

/** Where `tsc -p tsconfig.web.json` writes the browser modules. */
export const DEFAULT_ASSETS_DIR = join(REPO_ROOT, 'dist', 'collector', 'web', 'static', 'assets');
/** The hand-written files: index.html, app.css, icon.svg. */
export const DEFAULT_PUBLIC_DIR = join(REPO_ROOT, 'collector', 'web', 'public');

export interface WebConsoleOptions {
  /** Compiled browser modules. Default {@link DEFAULT_ASSETS_DIR}. */
  assetsDir?: string;
  /** index.html, CSS, icons. Default {@link DEFAULT_PUBLIC_DIR}. */
  publicDir?: string;
  /** Keep files in memory after the first read. Default true (tests that rebuild pass false). */
  cache?: boolean;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
};

// Lowercase names, '/' only between segments, no dot-segments: nothing can climb out of the roots.
const ASSET_RE = /^[a-z0-9][a-z0-9_-]*(?:\/[a-z0-9][a-z0-9_-]*)*\.[a-z0-9]{2,5}$/;

/** Decorator that marks the console as registered on a fastify instance. */
const REGISTERED = 'seatguardWebConsole';

interface CachedFile {
  body: Buffer;
  etag: string;
  type: string;
}

/** The role × action matrix as data for the console, generated from collector/auth/privileges.ts. */
export function privilegesDocument(): { roles: Record<string, string[]> } {
  const roles: Record<string, string[]> = {};
  for (const r of ROLES) roles[r] = ACTIONS.filter((a) => can([r], a));
  return { roles };
}

function inside(root: string, file: string): boolean {
  const r = resolve(root) + sep;
  return resolve(file).startsWith(r);
}

/**
 * Fastify plugin serving the web console: `/` (index.html), `/assets/*` (compiled modules from
 * `assetsDir`, then CSS/icons from `publicDir`) and `/assets/privileges.json`, with the console's
 * CSP and security headers. `/api` and `/agent` are not touched.
 */
export function webConsole(opts: WebConsoleOptions = {}) {
  const assetsDir = opts.assetsDir ?? DEFAULT_ASSETS_DIR;
  const publicDir = opts.publicDir ?? DEFAULT_PUBLIC_DIR;
  const useCache = opts.cache ?? true;
  const cache = new Map<string, CachedFile>();

  async function load(file: string): Promise<CachedFile | null> {
    const hit = useCache ? cache.get(file) : undefined;
    if (hit) return hit;
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      return null;
    }
    const entry: CachedFile = {
      body,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      type: TYPES[extname(file)] ?? 'application/octet-stream',
    };
    if (useCache) cache.set(file, entry);
    return entry;
  }

  function send(req: FastifyRequest, reply: FastifyReply, f: CachedFile): FastifyReply {
    // Names are not content-hashed, so the browser must revalidate; the ETag makes that a 304.
    void reply.header('cache-control', 'no-cache').header('etag', f.etag);
    if (req.headers['if-none-match'] === f.etag) return reply.code(304).send();
    return reply.type(f.type).send(f.body);
  }

  const notFound = (reply: FastifyReply) => sendError(reply, 404, 'API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', 'asset'));

  const inner = async function webConsoleRoutes(app: FastifyInstance): Promise<void> {
    if (!existsSync(join(assetsDir, 'app.js'))) {
      app.log.warn({ assets_dir: assetsDir }, 'web console is not built (run tsc -p tsconfig.web.json)');
    }
    const privileges = Buffer.from(JSON.stringify(privilegesDocument()));
    const privilegesFile: CachedFile = { body: privileges, etag: `"${createHash('sha256').update(privileges).digest('base64url').slice(0, 27)}"`, type: TYPES['.json'] ?? '' };

    // Encapsulated: these headers apply to the console's own routes only.
    app.addHook('onSend', async (_req, reply, payload) => {
      for (const [k, v] of Object.entries(CONSOLE_SECURITY_HEADERS)) void reply.header(k, v);
      return payload;
    });

    app.get('/', async (req, reply) => {
      const f = await load(join(publicDir, 'index.html'));
      if (!f) return notFound(reply);
      return send(req, reply, { ...f, type: 'text/html; charset=utf-8' });
    });

    app.get('/assets/privileges.json', async (req, reply) => send(req, reply, privilegesFile));

    app.get<{ Params: { '*': string } }>('/assets/*', async (req, reply) => {
      const name = req.params['*'];
      if (!ASSET_RE.test(name) || !(extname(name) in TYPES) || name.endsWith('.html')) return notFound(reply);
      for (const root of [assetsDir, publicDir]) {
        const file = join(root, name);
        if (!inside(root, file)) continue;
        const f = await load(file);
        if (f) return send(req, reply, f);
      }
      return notFound(reply);
    });
  };

  // The outer plugin runs in its parent's context (fastify's skip-override, as fastify-plugin
  // sets it) only to make registration idempotent: a second registration is a no-op instead of a
  // duplicate-route error. The routes and their headers stay encapsulated in `inner`.
  const outer = async (app: FastifyInstance): Promise<void> => {
    if (app.hasDecorator(REGISTERED)) return;
    app.decorate(REGISTERED, true);
    await app.register(inner);
  };
  Object.defineProperty(outer, Symbol.for('skip-override'), { value: true });
  return outer;
}
