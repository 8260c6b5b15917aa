/**
 * Flags are declared once (src/cli/flags.ts) and their values typed from the declarations. These
 * check what the types cannot: that the program main.ts builds declares the global flags of
 * flags.ts (GlobalOptions is typed from those), and what commander makes of a declaration.
 */
import { PassThrough } from 'node:stream';
import { Command } from '@commander-js/extra-typings';
import { describe, expect, it } from 'vitest';
import { emulatorFlags, globalFlags } from '../../src/cli/flags.js';
import { IO } from '../../src/cli/io.js';
import { buildProgram } from '../../src/cli/main.js';

function io(): IO {
  return new IO({
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
}

const described = (cmd: { options: readonly { flags: string; description: string; defaultValue?: unknown }[] }) =>
  cmd.options.map((o) => ({ flags: o.flags, description: o.description, defaultValue: o.defaultValue }));

describe('flag declarations', () => {
  it("the program's global flags are flags.ts's (GlobalOptions is typed from them)", () => {
    const program = buildProgram(io(), async () => undefined);
    const declared = described(globalFlags(new Command()));
    expect(described(program).filter((o) => o.flags !== '-V, --version')).toEqual(declared);
  });

  it('klv emulator --key takes one key, not a list', () => {
    const cmd = emulatorFlags(new Command('emulator').exitOverride());
    cmd.parse(['--key', 'pk_test_123456', '--port', '0'], { from: 'user' });
    expect(cmd.opts().key).toBe('pk_test_123456');
    expect(() => emulatorFlags(new Command('emulator').exitOverride().configureOutput({ writeErr: () => undefined })).parse(['--key', 'pk_a12345', 'pk_b12345'], { from: 'user' })).toThrow(
      /too many arguments|unknown command|excess/i,
    );
  });
});
