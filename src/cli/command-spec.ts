/**
 * How a command is declared: its flags and help are defined up front (cheap, so `klv --help`
 * lists everything), its implementation is imported only when it runs, so `klv --version`
 * never loads CSV, SQL, database or HTTP code.
 */
import type { Command } from 'commander';
import type { CommandContext } from './context.js';

export interface CommandModule {
  /** Returns the exit code, or nothing for success. Throws KlvError subclasses for failures. */
  run(ctx: CommandContext, args: string[], options: Record<string, unknown>): Promise<number | void>;
}

export interface CommandSpec {
  name: string;
  /** Positional arguments in commander syntax, e.g. "<object>" or "[topic]". */
  args?: string;
  summary: string;
  /** Shown first in `klv help <command>`: real command lines with a one-line explanation. */
  examples: Array<[command: string, explanation: string]>;
  /** Longer description shown after the examples. */
  description?: string;
  configure?(cmd: Command): void;
  /** Sub-commands (`klv config show`, `klv config init`). */
  subcommands?: CommandSpec[];
  load?(): Promise<CommandModule>;
  /**
   * A server-like command (klv emulator) that runs until Ctrl-C: the signal is its normal way to
   * stop, so the command's own exit code stands instead of 130.
   */
  runsUntilInterrupted?: boolean;
}

export function formatExamples(examples: CommandSpec['examples']): string {
  const lines = ['Examples:'];
  for (const [command, explanation] of examples) {
    lines.push(`  # ${explanation}`, `  $ ${command}`, '');
  }
  return lines.join('\n');
}
