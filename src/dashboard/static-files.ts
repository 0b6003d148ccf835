import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
};

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
};

/** Serves the built web UI: files under `dir` only, hashed assets cached for good, every other path gets index.html. */
export async function serveStatic(dir: string, path: string): Promise<Response> {
  let relative: string;
  try {
    relative = normalize(decodeURIComponent(path)).replace(/^([/\\])+/, '');
  } catch {
    return new Response('bad path', { status: 400 });
  }
  const file = join(dir, relative);
  const inside = file === dir || file.startsWith(dir.endsWith(sep) ? dir : dir + sep);
  if (inside && relative !== '' && !relative.split(sep).includes('..')) {
    const info = await stat(file).catch(() => null);
    if (info?.isFile()) {
      const immutable = relative.startsWith(`assets${sep}`);
      return new Response(await readFile(file), {
        headers: {
          'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
          'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
          ...SECURITY_HEADERS,
        },
      });
    }
  }
  const index = await readFile(join(dir, 'index.html')).catch(() => null);
  if (index === null) return new Response('the dashboard UI is not built: run `npm run build`', { status: 503, headers: { 'content-type': 'text/plain; charset=utf-8' } });
  return new Response(index, { headers: { 'content-type': TYPES['.html']!, 'cache-control': 'no-cache', ...SECURITY_HEADERS } });
}
