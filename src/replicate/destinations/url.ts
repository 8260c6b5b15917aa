/** Destination URLs in messages: never with the password. */
import { KlvError } from '../../core/errors.js';

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

export function connectError(product: 'PostgreSQL' | 'MySQL', url: string, err: unknown): KlvError {
  const e = err as { message?: string; code?: string };
  const host = hostOf(url, product === 'PostgreSQL' ? 5432 : 3306);
  let reason = e.message || e.code || String(err);
  // Driver messages can echo the connection string; keep the password out of them.
  try {
    const password = decodeURIComponent(new URL(url).password);
    if (password) reason = reason.split(password).join('***');
  } catch {
    // not a URL: nothing to redact
  }
  const unreachable = /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|timeout/i.test(`${e.code ?? ''} ${reason}`);
  return new KlvError(`Cannot connect to ${product} at ${host} (${redactUrl(url)}): ${reason}`, {
    hint: unreachable
      ? `Check that ${product} is running and reachable at ${host}, and the URL in --to.`
      : 'Check the user, password and database in --to, and that the user may create tables there.',
    cause: err,
  });
}
