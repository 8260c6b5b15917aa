/**
 * A loopback TCP proxy in front of a database server, for tests that need the connection itself
 * to misbehave at a chosen moment: every connection through it can be cut (`cutAll`, what a
 * restarted server or a dropped network does to klv's sessions), and a MySQL statement can be
 * answered with an error packet instead of reaching the server (`refuseMysql`).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  /** Host and port to connect to instead of the server's. */
  host: string;
  port: number;
  /** Connections opened through the proxy so far. */
  readonly connections: number;
  /** MySQL protocol only: the server's id of each connection (from its greeting), for KILL. */
  readonly mysqlConnectionIds: number[];
  /** Closes every connection through the proxy (both ends), as a lost network would. */
  cutAll(): void;
  close(): Promise<void>;
}

export interface MysqlRefusal {
  /** Statements (COM_QUERY text) starting with this are answered with the error, never forwarded. */
  startsWith: string;
  code: number;
  sqlState: string;
  message: string;
  /** Refuses only while this says so (default: always). */
  when?: () => boolean;
}

export interface TcpProxyOptions {
  /** The server speaks MySQL's protocol: connection ids are read from its greetings. */
  mysql?: boolean;
  /** MySQL protocol only: statements the "server" refuses with an error packet. */
  refuseMysql?: MysqlRefusal;
}

/** The connection id of a MySQL server greeting (protocol 10): after the version's NUL. */
function greetingConnectionId(chunk: Buffer): number | undefined {
  if (chunk.length < 5 || chunk[4] !== 10) return undefined;
  const nul = chunk.indexOf(0, 5);
  return nul < 0 || chunk.length < nul + 5 ? undefined : chunk.readUInt32LE(nul + 1);
}

/** A MySQL ERR packet (protocol 4.1) with the given sequence id. */
function mysqlErrorPacket(sequenceId: number, r: MysqlRefusal): Buffer {
  const message = Buffer.from(r.message, 'utf8');
  const payload = Buffer.alloc(1 + 2 + 1 + 5 + message.length);
  payload[0] = 0xff;
  payload.writeUInt16LE(r.code, 1);
  payload.write('#', 3, 'latin1');
  payload.write(r.sqlState.slice(0, 5).padEnd(5, '0'), 4, 'latin1');
  message.copy(payload, 9);
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = sequenceId;
  return Buffer.concat([header, payload]);
}

/**
 * Client-to-server bytes of the MySQL protocol, packet by packet: a COM_QUERY (0x03) whose text
 * starts with the refused statement is answered locally; everything else is forwarded as it came.
 */
function mysqlFilter(client: Socket, server: Socket, refusal: MysqlRefusal): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const length = pending.readUIntLE(0, 3);
      if (pending.length < 4 + length) return;
      const packet = pending.subarray(0, 4 + length);
      pending = pending.subarray(4 + length);
      const refused = length > 1 && packet[4] === 0x03 && packet.subarray(5).toString('utf8').startsWith(refusal.startsWith) && (refusal.when?.() ?? true);
      if (refused) client.write(mysqlErrorPacket(packet[3]! + 1, refusal));
      else server.write(packet);
    }
  };
}

export async function startTcpProxy(target: { host: string; port: number }, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const ids: number[] = [];
  let opened = 0;
  const server: Server = createServer((client) => {
    opened++;
    const upstream = createConnection({ host: target.host, port: target.port });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      // A cut connection errors on the other side as well: the proxy only passes that on.
      s.on('error', () => undefined);
    }
    client.on('data', options.refuseMysql ? mysqlFilter(client, upstream, options.refuseMysql) : (chunk) => upstream.write(chunk));
    let greeted = !options.mysql;
    upstream.on('data', (chunk) => {
      if (!greeted) {
        greeted = true;
        const id = greetingConnectionId(chunk);
        if (id !== undefined) ids.push(id);
      }
      client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    get connections() {
      return opened;
    },
    mysqlConnectionIds: ids,
    cutAll() {
      for (const s of sockets) s.destroy();
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((done) => server.close(() => done()));
    },
  };
}

/** The database URL with its host and port replaced by the proxy's. */
export function throughProxy(url: string, proxy: Pick<TcpProxy, 'host' | 'port'>): string {
  const u = new URL(url);
  u.hostname = proxy.host;
  u.port = String(proxy.port);
  return u.toString();
}
