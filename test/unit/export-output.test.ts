/**
 * Where an export goes: stdout (never ended by klv), or a file written as FILE.partial and
 * renamed into place only on success, so that a cron job never leaves a half file under the
 * real name; bad paths fail as usage errors before any request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openOutput, PARTIAL_SUFFIX } from '../../src/pipeline/export/output.js';
import { UsageError } from '../../src/core/errors.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'klv-export-output-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (err) => (err ? reject(err) : resolve())));
}

describe('openOutput', () => {
  it('stdout: absent or -, written to but never ended', async () => {
    const stdout = new PassThrough();
    for (const spec of [undefined, '-']) {
      const t = await openOutput(spec, stdout, dir);
      expect(t.isStdout).toBe(true);
      expect(t.description).toBe('stdout');
      expect(t.stream).toBe(stdout);
      await t.commit();
      expect(await t.abandon()).toBeUndefined();
    }
    expect(stdout.writableEnded).toBe(false);
  });

  it('a file is written as FILE.partial and appears under its name only on commit', async () => {
    const t = await openOutput('out.csv', new PassThrough(), dir);
    const final = join(dir, 'out.csv');
    expect(t.path).toBe(final);
    expect(t.partialPath).toBe(`${final}${PARTIAL_SUFFIX}`);
    expect(t.description).toBe('out.csv');
    await write(t.stream, 'Id\n1\n');
    expect(existsSync(final)).toBe(false);
    expect(existsSync(`${final}.partial`)).toBe(true);
    await t.commit();
    expect(readFileSync(final, 'utf8')).toBe('Id\n1\n');
    expect(existsSync(`${final}.partial`)).toBe(false);
  });

  it('a failed run keeps FILE.partial and leaves the previous FILE untouched', async () => {
    const final = join(dir, 'kept.csv');
    writeFileSync(final, 'yesterday\n');
    const t = await openOutput(final, new PassThrough(), dir);
    await write(t.stream, 'Id\n1\n');
    const kept = await t.abandon();
    expect(kept).toBe(`${final}.partial`);
    expect(readFileSync(`${final}.partial`, 'utf8')).toBe('Id\n1\n');
    expect(readFileSync(final, 'utf8')).toBe('yesterday\n');
  });

  it('replaces an existing file on success', async () => {
    const final = join(dir, 'replace.csv');
    writeFileSync(final, 'old\n');
    const t = await openOutput(final, new PassThrough(), dir);
    await write(t.stream, 'new\n');
    await t.commit();
    expect(readFileSync(final, 'utf8')).toBe('new\n');
  });

  it('a folder that does not exist is a usage error naming the path', async () => {
    const err = await openOutput('missing/out.csv', new PassThrough(), dir).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toBe("Cannot write the export to 'missing/out.csv': its folder does not exist.");
    expect(err.hint).toMatch(/-o - for standard output/);
  });

  it('a folder as the output is a usage error', async () => {
    mkdirSync(join(dir, 'afolder'));
    const err = await openOutput('afolder', new PassThrough(), dir).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/it is a folder/);
  });

  it('a special file (/dev/null) is written directly, nothing to rename', async () => {
    const t = await openOutput('/dev/null', new PassThrough(), dir);
    expect(t.partialPath).toBeUndefined();
    await write(t.stream, 'x\n');
    await t.commit();
  });
});
