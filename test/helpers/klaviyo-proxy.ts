/**
 * A loopback HTTP proxy in front of the emulator, for e2e tests that need Klaviyo to answer one
 * request differently from the emulator (a 404 for a list deleted at just that moment, a
 * behaviour the emulator does not have), while everything else is the emulator's own answer.
 *
 * Each /api request is offered to `answer` first (its reply is sent instead of forwarding), then
 * forwarded; a JSON body is passed through `rewrite`. Links in the emulator's bodies point at
 * the proxy, so that klv follows pagination through it (klv refuses links to another host).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  method: string;
  /** The path without the query string. */
  path: string;
  query: URLSearchParams;
}

export interface ProxyRules {
  /** A reply to send instead of the emulator's, or undefined to forward the request. */
  answer?: (req: ProxiedRequest) => { status: number; body: unknown } | undefined;
  /** The emulator's JSON body as the client should receive it. */
  rewrite?: (req: ProxiedRequest, body: any) => unknown;
}

export interface KlaviyoProxy {
  url: string;
  /** Every /api request seen, in order. */
  requests: ProxiedRequest[];
  close(): Promise<void>;
}

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startKlaviyoProxy(target: string, rules: ProxyRules): Promise<KlaviyoProxy> {
  const requests: ProxiedRequest[] = [];
  let self = '';
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', target);
      const seen: ProxiedRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams };
      const api = url.pathname.startsWith('/api/');
      if (api) requests.push(seen);
      const reply = api ? rules.answer?.(seen) : undefined;
      if (reply) {
        res.writeHead(reply.status, { 'content-type': 'application/vnd.api+json' });
        res.end(JSON.stringify(reply.body));
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
      const payload = await bodyOf(req);
      const upstream = await fetch(url, { method: req.method, headers, body: payload.length > 0 ? new Uint8Array(payload) : undefined });
      let text = (await upstream.text()).split(target).join(self);
      const type = upstream.headers.get('content-type') ?? '';
      if (api && rules.rewrite && type.includes('json') && text !== '') text = JSON.stringify(rules.rewrite(seen, JSON.parse(text)));
      const out: Record<string, string> = {};
      upstream.headers.forEach((v, k) => {
        if (k !== 'content-length' && k !== 'content-encoding' && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
      });
      res.writeHead(upstream.status, out);
      res.end(text);
    })().catch((err: unknown) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy error: ${(err as Error).message}`);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  self = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: self,
    requests,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
