/**
 * A bare HTTP server on a loopback port, for tests that need to see what klv's client puts on a
 * real socket (connections, keep-alive, requests in flight): undici's MockAgent replaces the
 * socket, so it cannot show that. Stop it with close(), which drops open connections first.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoopbackServer {
  server: Server;
  url: string;
  close: () => Promise<void>;
}

export async function startLoopbackServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<LoopbackServer> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close };
}
