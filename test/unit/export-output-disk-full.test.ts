/**
 * An export whose output cannot be written (a full disk; /dev/full on Linux fails every write
 * with ENOSPC): the failure reaches the caller in words, commit() rejects instead of waiting for
 * a 'finish' that never comes (which let the process run out of work and exit 0 as if the export
 * had succeeded), and abandon() always returns. Plus the file writer's own job: bytes in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PassThrough, type Writable } from 'node:stream';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openOutput } from '../../src/pipeline/export/output.js';
import { writeRows } from '../../src/pipeline/export/write-rows.js';
import type { ValueColumn } from '../../src/pipeline/export/values.js';

const hasDevFull = existsSync('/dev/full');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'klv-export-output-full-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(stream: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (err) => (err ? reject(err) : resolve())));
}

/** Resolves with what the promise settled to, or 'pending' if it has not within `ms` (a hang). */
async function settledWithin<T>(p: Promise<T>, ms = 2000): Promise<{ ok: true; value: T } | { ok: false; error: unknown } | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'pending'>((resolve) => {
    timer = setTimeout(() => resolve('pending'), ms);
  });
  try {
    return await Promise.race([p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe.skipIf(!hasDevFull)('export output on /dev/full', () => {
  it('a write fails with the disk full in words, keeping the system code', async () => {
    const t = await openOutput('/dev/full', new PassThrough(), dir);
    expect(t.partialPath).toBeUndefined(); // a device: written directly
    const err = await write(t.stream, 'Id\n1\n').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('no space left on the device (ENOSPC): the disk is full');
    expect((err as { code?: string }).code).toBe('ENOSPC');
    expect((err as Error).cause).toMatchObject({ code: 'ENOSPC' });
    expect(await settledWithin(t.abandon())).toEqual({ ok: true, value: undefined });
    expect(statSync('/dev/full').isCharacterDevice()).toBe(true);
  });

  it('the last write fails after the rows are all handed over: commit() rejects, it does not wait forever', async () => {
    const t = await openOutput('/dev/full', new PassThrough(), dir);
    // Under the high-water mark: write() returns true and the failure comes later, when nobody
    // is writing any more. Before the fix, commit() waited for a 'finish' that never came.
    expect(t.stream.write('Id\n1\n')).toBe(true);
    const committed = await settledWithin(t.commit());
    expect(committed).not.toBe('pending');
    expect(committed).toMatchObject({ ok: false, error: { message: 'no space left on the device (ENOSPC): the disk is full', code: 'ENOSPC' } });
    expect(await settledWithin(t.abandon())).toEqual({ ok: true, value: undefined });
  });

  it('through writeRows, as klv export runs it: the failure is reported (by writeRows, or at the latest by commit), and abandon() returns', async () => {
    const t = await openOutput('/dev/full', new PassThrough(), dir);
    const columns = [{ name: 'Id', type: 'string', get: (r: Record<string, unknown>) => r.Id }] as unknown as ValueColumn[];
    async function* rows() {
      for (let i = 0; i < 20_000; i++) {
        if (i % 500 === 0) await new Promise((resolve) => setImmediate(resolve)); // pages arrive over time
        yield { Id: `row-${i}` };
      }
    }
    const written = await settledWithin(writeRows(rows(), t.stream, { format: 'csv', columns }));
    expect(written).not.toBe('pending');
    const reported = written !== 'pending' && !written.ok ? written : await settledWithin(t.commit());
    expect(reported).toMatchObject({ ok: false, error: { code: 'ENOSPC', message: 'no space left on the device (ENOSPC): the disk is full' } });
    expect(await settledWithin(t.abandon())).toEqual({ ok: true, value: undefined });
  });
});

describe('the export file writer', () => {
  it('writes every chunk in order, single writes and batched ones (writev) alike', async () => {
    const t = await openOutput('ordered.csv', new PassThrough(), dir);
    let expected = '';
    t.stream.cork(); // queued writes reach the file as one writev
    for (let i = 0; i < 2000; i++) {
      const line = `${i},${'x'.repeat(i % 50)}\n`;
      expected += line;
      t.stream.write(line);
    }
    t.stream.uncork();
    for (let i = 0; i < 200; i++) {
      const line = `tail-${i}\n`;
      expected += line;
      await write(t.stream, line);
    }
    await t.commit();
    expect(readFileSync(join(dir, 'ordered.csv'), 'utf8')).toBe(expected);
    expect(existsSync(join(dir, 'ordered.csv.partial'))).toBe(false);
  });
});
