/** --no-color turns colour off even on a terminal, for klv's errors and commander's. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { IO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

function terminalIO(): { io: IO; stderr: () => string } {
  const err = new PassThrough();
  let text = '';
  err.on('data', (d: Buffer) => (text += d.toString()));
  const io = new IO({ stdout: new PassThrough(), stderr: err, stdin: new PassThrough(), stdoutIsTTY: true, stderrIsTTY: true, stdinIsTTY: true, env: {}, cwd: process.cwd(), color: true });
  return { io, stderr: () => text };
}

const ANSI = /\u001b\[/;

describe('--no-color', () => {
  it('a usage error on a colour terminal is red without it, plain with it', async () => {
    const coloured = terminalIO();
    expect(await main(['node', 'klv', 'export', '--no-such-flag'], coloured.io)).toBe(2);
    expect(coloured.stderr()).toMatch(ANSI);
    const plain = terminalIO();
    expect(await main(['node', 'klv', '--no-color', 'export', '--no-such-flag'], plain.io)).toBe(2);
    expect(plain.stderr()).toMatch(/error:/);
    expect(plain.stderr()).not.toMatch(ANSI);
  });

  it('a klv error after parsing is plain too', async () => {
    const plain = terminalIO();
    expect(await main(['node', 'klv', '--no-color', 'export', 'no-such-object'], plain.io)).toBe(2);
    expect(plain.stderr()).toMatch(/error:/);
    expect(plain.stderr()).not.toMatch(ANSI);
  });
});
