/**
 * Database URLs in messages (never with the password), and the errors of connecting and of
 * losing a connection, in words that say what failed and what to do.
 */
import { KlvError } from '../core/errors.js';

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '';
    u.search = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1@');
  }
}

/** Where we tried to connect, as `host:port`. */
function hostOf(url: string, defaultPort: number): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || defaultPort}`;
  } catch {
    return redactUrl(url);
  }
}

export type Product = 'PostgreSQL' | 'MySQL';

function hostOfProduct(product: Product, url: string): string {
  return hostOf(url, product === 'PostgreSQL' ? 5432 : 3306);
}

/** The driver's reason, with the URL's password kept out (driver messages can echo the connection string). */
function reasonOf(url: string, err: unknown): string {
  const e = err as { message?: string; code?: string };
  let reason = e.message || e.code || String(err);
  try {
    const password = decodeURIComponent(new URL(url).password);
    if (password) reason = reason.split(password).join('***');
  } catch {
    // not a URL: nothing to redact
  }
  return reason;
}

export function connectError(product: Product, url: string, err: unknown): KlvError {
  const e = err as { message?: string; code?: string };
  const host = hostOfProduct(product, url);
  const reason = reasonOf(url, err);
  const unreachable = /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|timeout/i.test(`${e.code ?? ''} ${reason}`);
  return new KlvError(`Cannot connect to ${product} at ${host} (${redactUrl(url)}): ${reason}`, {
    hint: unreachable
      ? `Check that ${product} is running and reachable at ${host}, and the URL in --to.`
      : 'Check the user, password and database in --to, and that the user may create tables there.',
    cause: err,
  });
}

/**
 * A session klv was using ended under it: the server restarted or stopped, an administrator ended
 * it (pg_terminate_backend, KILL), or the network dropped it. The transaction it held is rolled
 * back by the server, and klv records progress (a replica's cursor, a sync's id map) only in the
 * transactions that write what it covers, so running again is safe.
 */
export function connectionLostError(product: Product, url: string, err: unknown): KlvError {
  return new KlvError(`The ${product} connection to ${hostOfProduct(product, url)} was closed while klv was using it (${reasonOf(url, err)})`, {
    hint: `What klv had not committed yet was rolled back. Run the command again once ${product} is reachable: it goes on from the last committed write.`,
    cause: err,
  });
}

/** MySQL: a new session could not be put in UTC, which every DATETIME klv reads and writes assumes. */
export function sessionTimeZoneError(url: string, err: unknown): KlvError {
  return new KlvError(`MySQL at ${hostOfProduct('MySQL', url)} refused to put a session in UTC (SET time_zone = '+00:00'): ${reasonOf(url, err)}`, {
    hint: 'klv keeps every MySQL session in UTC so that DATETIME values mean one instant. Check the server (a cluster node that is not ready refuses every statement), then run the command again.',
    cause: err,
  });
}
