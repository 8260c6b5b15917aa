/**
 * Where an export goes: standard output, or a file written safely for cron jobs.
 *
 * A file is written as `<file>.partial` and renamed to `<file>` only once every row is on disk
 * (flushed and fsynced), so a reader never sees a half-written file under the real name, and a
 * failed or interrupted run leaves the previous `<file>` untouched. On failure the `.partial`
 * stays, with what was written, and the command says so. Special files (`/dev/null`, a named
 * pipe) are written directly: there is nothing to rename.
 */
import { open, rename, stat, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { UsageError } from '../../core/errors.js';

export interface OutputTarget {
  stream: Writable;
  /** For messages: `stdout` or the path as the user gave it. */
  description: string;
  /** True when rows go to standard output. */
  isStdout: boolean;
  /** The final path of a file output. */
  path?: string;
  /** The temporary path written until commit(). */
  partialPath?: string;
  /** Success: flush, close and move into place. */
  commit(): Promise<void>;
  /** Failure: flush and close; the partial file stays. Returns its path, if any. */
  abandon(): Promise<string | undefined>;
}

export const PARTIAL_SUFFIX = '.partial';

export function isStdoutTarget(output: string | undefined): boolean {
  return output === undefined || output === '-';
}

/** Waits until a writable has flushed everything and finished (not closed: the handle stays ours). */
function endStream(stream: Writable): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    if (stream.writableFinished) return resolvePromise();
    if (stream.destroyed) return reject(stream.errored ?? new Error('the output stream was destroyed'));
    const onError = (err: unknown) => {
      stream.off('finish', onFinish);
      reject(err);
    };
    const onFinish = () => {
      stream.off('error', onError);
      resolvePromise();
    };
    stream.once('error', onError);
    stream.once('finish', onFinish);
    stream.end();
  });
}

function describeFsError(err: unknown, path: string): UsageError {
  const code = (err as { code?: string }).code;
  const reason =
    code === 'ENOENT'
      ? 'its folder does not exist'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'it is a folder'
          : code === 'EROFS'
            ? 'the file system is read-only'
            : (err as Error).message;
  return new UsageError(
    `Cannot write the export to '${path}': ${reason}.`,
    'Give -o a file in a folder you can write to (klv writes <file>.partial there first), or -o - for standard output.',
  );
}

export async function openOutput(output: string | undefined, stdout: Writable, cwd: string): Promise<OutputTarget> {
  if (isStdoutTarget(output)) {
    return {
      stream: stdout,
      description: 'stdout',
      isStdout: true,
      // Standard output belongs to the process: klv writes to it but never ends it.
      commit: async () => {},
      abandon: async () => undefined,
    };
  }
  const given = output!;
  const path = resolve(cwd, given);
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw describeFsError(Object.assign(new Error('is a folder'), { code: 'EISDIR' }), given);
  const direct = existing !== undefined && !existing.isFile();
  const target = direct ? path : `${path}${PARTIAL_SUFFIX}`;

  let handle: FileHandle;
  try {
    handle = await open(target, 'w');
  } catch (err) {
    throw describeFsError(err, given);
  }
  // autoClose off: the handle is fsynced and closed here, after the stream has finished.
  const stream = handle.createWriteStream({ autoClose: false });
  let done = false;
  const finish = async (sync: boolean) => {
    if (done) return;
    done = true;
    try {
      await endStream(stream);
      if (sync && !direct) await handle.sync();
    } finally {
      // The stream holds a reference on the handle until it is destroyed: handle.close() would
      // wait for it forever. With autoClose off, destroy() releases it without closing the fd.
      if (!stream.destroyed) {
        const closed = new Promise<void>((resolvePromise) => stream.once('close', () => resolvePromise()));
        stream.destroy();
        await closed;
      }
      await handle.close().catch(() => {});
    }
  };

  return {
    stream,
    description: given,
    isStdout: false,
    path,
    partialPath: direct ? undefined : target,
    async commit() {
      await finish(true);
      if (!direct) await rename(target, path);
    },
    async abandon() {
      await finish(false).catch(() => {});
      return direct ? undefined : target;
    },
  };
}
