/**
 * ctx.client(): the first Ctrl-C aborts the requests of a reading command's client, while a
 * writing command's client (`interruptible: false`: klv import, klv query INSERT/UPDATE/DELETE)
 * lets the requests in flight finish, since an aborted write is a row whose outcome nobody knows.
 * Against a loopback server that answers only when the test says so.
 */
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandContext } from '../../src/cli/context.js';
import { IO } from '../../src/cli/io.js';
import type { ResolvedProfile } from '../../src/config/profile.js';
import { InterruptedError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';

/** A server that holds every request until release() answers it with an empty list. */
async function heldServer() {
  const held: ServerResponse[] = [];
  let arrived: () => void = () => undefined;
  const server = createServer((_req, res) => {
    held.push(res);
    arrived();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Resolves once a request is waiting. */
    waiting: () => (held.length > 0 ? Promise.resolve() : new Promise<void>((r) => (arrived = r))),
    release() {
      for (const res of held.splice(0)) {
        res.writeHead(200, { 'content-type': 'application/vnd.api+json' }).end(JSON.stringify({ data: [], links: { next: null } }));
      }
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

function context(baseUrl: string): CommandContext {
  const io = new IO({
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    stdinIsTTY: false,
    stderrIsTTY: false,
    stdoutIsTTY: false,
    env: { NO_COLOR: '1' },
    cwd: '/',
    color: false,
  });
  const ctx = new CommandContext(io, {});
  const profile: ResolvedProfile = {
    name: 'test',
    privateKey: new Secret('pk_context_client_test_0123456789'),
    revision: '2026-07-15',
    baseUrl,
    concurrency: 4,
    sources: { concurrency: 'default' },
    files: [],
    warnings: [],
  };
  ctx.profile = async () => profile;
  return ctx;
}

let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

describe('ctx.client() and the first Ctrl-C', () => {
  it('aborts the requests in flight of the default client', async () => {
    const server = await heldServer();
    const ctx = context(server.url);
    cleanup.push(server.close, () => ctx.dispose());
    const client = await ctx.client({ maxRetries: 0 });
    const pending = client.request('get_lists').then(
      () => 'answered',
      (err: unknown) => err,
    );
    await server.waiting();
    ctx.abort.abort(new InterruptedError());
    expect(await pending).toBeInstanceOf(InterruptedError);
  });

  it('lets the requests in flight of an interruptible: false client finish', async () => {
    const server = await heldServer();
    const ctx = context(server.url);
    cleanup.push(server.close, () => ctx.dispose());
    const client = await ctx.client({ maxRetries: 0, interruptible: false });
    const pending = client.request('get_lists').then(
      (res) => res.status,
      (err: unknown) => err,
    );
    await server.waiting();
    ctx.abort.abort(new InterruptedError());
    server.release();
    expect(await pending).toBe(200);
  });
});
