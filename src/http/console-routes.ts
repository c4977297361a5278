import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import Router from '@koa/router';
import type { RequestState } from './middleware.ts';
import { HttpProblem } from './problem.ts';

/** Where `npm install` (console/build.ts) writes the console's bundle, relative to the package root. */
export const CONSOLE_BUILD_DIR = path.resolve(import.meta.dirname, '../../console/dist');

/**
 * The page's only sources are its own origin's files and the management API on the same origin: no
 * inline script, no inline style (the components' styles are constructable stylesheets, which CSP does
 * not govern), nothing framed, no form posted anywhere.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'svcauth-console.js': 'text/javascript; charset=utf-8',
};

/**
 * /console: the admin console, a page of web components whose only backend is the management API. The
 * module itself may be loaded by any origin (a product embedding the components); it holds no secret.
 */
export function consoleRoutes(buildDir: string = CONSOLE_BUILD_DIR): Router {
  // strict: /console and /console/ are different paths (the page's relative URLs need the slash).
  const router = new Router<RequestState>({ strict: true });
  router.get('/console', (ctx) => {
    ctx.status = 308;
    ctx.redirect('/console/');
  });
  router.get(['/console/', '/console/:file'], async (ctx) => {
    const file = (ctx.params as { file?: string }).file ?? 'index.html';
    const type = FILES[file];
    if (!type) throw new HttpProblem(404, 'not_found', `the console has no file ${file.slice(0, 100)}`);
    const acceptsGzip = ctx.acceptsEncodings('gzip', 'identity') === 'gzip';
    const served = await readBuilt(buildDir, file, acceptsGzip);
    ctx.type = type;
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('ETag', served.etag);
    ctx.set('Vary', 'Accept-Encoding');
    if (file === 'index.html') {
      ctx.set('Content-Security-Policy', CONSOLE_CSP);
      ctx.set('Referrer-Policy', 'no-referrer');
      ctx.set('X-Frame-Options', 'DENY');
    } else {
      ctx.set('Access-Control-Allow-Origin', '*');
      ctx.set('Cross-Origin-Resource-Policy', 'cross-origin');
    }
    if (ctx.get('if-none-match') === served.etag) {
      ctx.status = 304;
      return;
    }
    if (served.gzip) ctx.set('Content-Encoding', 'gzip');
    ctx.body = served.bytes;
  });
  return router;
}

async function readBuilt(
  buildDir: string,
  file: string,
  acceptsGzip: boolean,
): Promise<{ bytes: Buffer; gzip: boolean; etag: string }> {
  const plain = path.join(buildDir, file);
  try {
    if (acceptsGzip) {
      const bytes = await fs.readFile(`${plain}.gz`).catch(() => null);
      if (bytes) return { bytes, gzip: true, etag: etag(bytes, 'gz') };
    }
    const bytes = await fs.readFile(plain);
    return { bytes, gzip: false, etag: etag(bytes, 'id') };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new HttpProblem(
      503,
      'console_not_built',
      'the console is not built: run `npm install` (or `npm run console:build`) in the svcauth checkout',
    );
  }
}

function etag(bytes: Buffer, encoding: string): string {
  return `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 22)}-${encoding}"`;
}
