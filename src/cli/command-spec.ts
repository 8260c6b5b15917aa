/**
 * How a command is declared: its flags and help are defined up front (cheap, so `klv --help`
 * lists everything), its implementation is imported only when it runs, so `klv --version`
 * never loads CSV, SQL, database or HTTP code.
 *
 * A command's flags are declared once, as commander calls; @commander-js/extra-typings infers
 * their values' type from those calls, and `command()` makes the implementation's `run` take
 * exactly that type: a flag renamed, removed or given a default changes what `run` receives,
 * and the compiler says where it matters.
 */
import type { Command } from 'commander';
import type { Command as TypedCommand, OptionValues } from '@commander-js/extra-typings';
import type { CommandContext } from './context.js';

/** A command's flags: commander's own calls on the command, from which their values are typed. */
export type FlagDeclarations<Flags extends OptionValues = OptionValues> = (cmd: TypedCommand) => TypedCommand<[], Flags>;

/** The values commander parses for the flags a declaration declares. */
export type FlagsOf<D extends FlagDeclarations<OptionValues>> = ReturnType<ReturnType<D>['opts']>;

/** A command's implementation, as main.ts runs it: with the values of its flags. */
export interface CommandModule {
  /** Returns the exit code, or nothing for success. Throws KlvError subclasses for failures. */
  run(ctx: CommandContext, args: string[], flags: OptionValues): Promise<number | void>;
}

/** An implementation whose `run` takes the values of the flags its command declares. */
export interface TypedCommandModule<Flags extends OptionValues> {
  run: (ctx: CommandContext, args: string[], flags: Flags) => Promise<number | void>;
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

/** A command whose flags are declared by `flags`, and whose implementation's `run` takes their values. */
export interface TypedCommandSpec<Flags extends OptionValues> extends Omit<CommandSpec, 'configure' | 'load'> {
  flags?: FlagDeclarations<Flags>;
  load?(): Promise<TypedCommandModule<NoInfer<Flags>>>;
}

/**
 * The command table's entry for a command: its flags declared on the commander command main.ts
 * builds, and its implementation loaded on first use. The implementation gets `cmd.opts()` of
 * that same command, which is what the declarations typed.
 */
export function command<Flags extends OptionValues = Record<never, never>>(spec: TypedCommandSpec<Flags>): CommandSpec {
  const { flags, ...rest } = spec;
  return { ...rest, configure: flags ? (cmd) => declareFlags(cmd, flags) : undefined };
}

/** Declares `flags` on a commander command (a command's own, or the program's global flags). */
export function declareFlags(cmd: Command, flags: FlagDeclarations): void {
  // extra-typings' Command is commander's own class (its index.js re-exports it) with typed
  // declarations: the same object, seen with the types that infer the flags.
  flags(cmd as unknown as TypedCommand);
}

export function formatExamples(examples: CommandSpec['examples']): string {
  const lines = ['Examples:'];
  for (const [command, explanation] of examples) {
    lines.push(`  # ${explanation}`, `  $ ${command}`, '');
  }
  return lines.join('\n');
}
