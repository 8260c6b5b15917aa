/**
 * Where an export goes: standard output, or a file written safely for cron jobs.
 *
 * A file is written as `<file>.partial` and renamed to `<file>` only once every row is on disk
 * (flushed and fsynced), so a reader never sees a half-written file under the real name, and a
 * failed or interrupted run leaves the previous `<file>` untouched. On failure the `.partial`
 * stays, with what was written, and the command says so. Special files (`/dev/null`, a named
 * pipe) are written directly: there is nothing to rename.
 *
 * A failed write (a full disk, /dev/full) fails the stream with an error that says what happened
 * in words ("no space left on the device (ENOSPC): the disk is full"), so that the command's
 * message names the output and the cause; the error keeps the system's `code` and `cause`.
 */
import { open, rename, stat, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { UsageError } from '../../core/errors.js';
import { fsFailureReason } from '../../core/fs-errors.js';

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

/**
 * Waits until a writable has flushed everything and finished (not closed: the handle stays ours).
 * A stream that already failed rejects at once: it will emit neither 'finish' nor 'error' again,
 * and waiting for them would leave the process with nothing to do, exiting 0 as if all went well.
 */
function endStream(stream: Writable): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    if (stream.errored) return reject(stream.errored);
    if (stream.writableFinished) return resolvePromise();
    if (stream.destroyed) return reject(new Error('the output stream was destroyed'));
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

/** A write that failed, in words, keeping the system's code (EIO, ENOSPC...) and the original error. */
function writeFailure(err: unknown): Error {
  const e = new Error(fsFailureReason(err), { cause: err });
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? Object.assign(e, { code }) : e;
}

/**
 * A Writable over a FileHandle that it never closes (openOutput fsyncs and closes it), with its
 * write errors put in words. Writes go in order, one at a time, as fs.WriteStream's do.
 */
class FileHandleWriter extends Writable {
  readonly #handle: FileHandle;

  constructor(handle: FileHandle) {
    super({ highWaterMark: 64 * 1024, decodeStrings: true });
    this.#handle = handle;
  }

  async #writeAll(data: Buffer): Promise<void> {
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await this.#handle.write(data, off, data.length - off);
      off += bytesWritten;
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#writeAll(chunk).then(
      () => callback(),
      (err: unknown) => callback(writeFailure(err)),
    );
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.#writeAll(Buffer.concat(chunks.map((c) => c.chunk))).then(
      () => callback(),
      (err: unknown) => callback(writeFailure(err)),
    );
  }
}

function describeFsError(err: unknown, path: string): UsageError {
  return new UsageError(
    `Cannot write the export to '${path}': ${fsFailureReason(err)}.`,
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
  // The writer never closes the handle: it is fsynced and closed here, after the stream finished.
  const stream = new FileHandleWriter(handle);
  // A write error may come after the writer of the rows stopped listening (the last write fails
  // once it returned): it is kept in stream.errored and reported by commit(), never unhandled.
  stream.on('error', () => {});
  let done = false;
  const finish = async (sync: boolean) => {
    if (done) return;
    done = true;
    try {
      await endStream(stream);
      if (sync && !direct) {
        try {
          await handle.sync();
        } catch (err) {
          throw writeFailure(err);
        }
      }
    } finally {
      if (!stream.destroyed) stream.destroy();
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
