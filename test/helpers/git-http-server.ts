import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GitHttpServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`; repositories are `<url>/<name>.git`, relative to the project root. */
  url: string;
  /** Requests refused for missing or wrong credentials. */
  refused: number;
}

/**
 * git's smart HTTP protocol on 127.0.0.1, served by `git http-backend` (CGI) behind Basic authentication, so
 * tests can use a remote URL that carries a user and password as a real server would require them.
 */
export async function gitHttpServer(options: { projectRoot: string; user: string; password: string }): Promise<GitHttpServer> {
  const expected = `Basic ${Buffer.from(`${options.user}:${options.password}`).toString('base64')}`;
  const state = { refused: 0 };
  const server = createServer((request, response) => {
    if (request.headers.authorization !== expected) {
      state.refused++;
      response.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end('unauthorized\n');
      return;
    }
    serveCgi(request, response, options.projectRoot, options.user);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get refused() {
      return state.refused;
    },
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function serveCgi(request: IncomingMessage, response: ServerResponse, projectRoot: string, user: string): void {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GIT_PROJECT_ROOT: projectRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    REMOTE_USER: user,
    REMOTE_ADDR: '127.0.0.1',
    REQUEST_METHOD: request.method ?? 'GET',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.replace(/^\?/, ''),
    CONTENT_TYPE: request.headers['content-type'] ?? '',
    GATEWAY_INTERFACE: 'CGI/1.1',
  };
  if (request.headers['content-length'] !== undefined) env.CONTENT_LENGTH = request.headers['content-length'];
  if (request.headers['content-encoding'] !== undefined) env.HTTP_CONTENT_ENCODING = String(request.headers['content-encoding']);
  if (request.headers['git-protocol'] !== undefined) env.HTTP_GIT_PROTOCOL = String(request.headers['git-protocol']);
  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  request.pipe(child.stdin);
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      response.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    headersDone = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else response.setHeader(name, value);
    }
    response.statusCode = status;
    response.write(head.subarray(end + 4));
  });
  child.on('close', () => response.end());
  child.on('error', () => response.destroy());
}
