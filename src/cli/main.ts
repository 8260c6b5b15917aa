/**
 * The process boundary: builds the commander program from the command table, runs one command,
 * and turns its result or error into an exit code. Only bin/klv.js sets the exit code.
 */
import { Command, CommanderError } from 'commander';
import { IO } from './io.js';
import { COMMANDS, HELP_TOPICS } from './commands.js';
import { formatExamples, type CommandSpec } from './command-spec.js';
import { CommandContext, KLV_VERSION, type GlobalOptions } from './context.js';
import { exitCodeFor, reportError } from './error-report.js';
import { installLastResort } from './last-resort.js';
import { ExitCode } from '../core/exit-code.js';
import { InterruptedError, UsageError } from '../core/errors.js';
import { scrubSecrets, type Secret } from '../core/secret.js';

const ROOT_EXAMPLES: CommandSpec['examples'] = [
  ['klv export campaigns --demo', 'try klv on the built-in Klaviyo emulator: every demo campaign as CSV'],
  ['klv export profiles -o profiles.csv --since 7d', 'profiles changed in the last week, to a file'],
  ['klv objects', 'the objects klv knows, and what each can do'],
  ['klv config init', 'create a connection profile'],
  ['klv doctor', 'check your key and the account it opens'],
  ['klv emulator --port 8787', 'run the Klaviyo emulator for your own tests'],
];

export interface MainOptions {
  /**
   * Install the process-wide handlers for errors nobody caught (last-resort.ts). bin/klv.js
   * does; tests that call main() in their own process do not.
   */
  lastResort?: boolean;
}

export async function main(argv: string[], io: IO = IO.fromProcess(), options: MainOptions = {}): Promise<number> {
  let ctx: CommandContext | undefined;
  let exitCode: number = ExitCode.Ok;
  const secrets: Secret[] = [];
  if (options.lastResort) {
    installLastResort({ stderr: io.stderr, env: io.env, secrets: () => secrets, exit: (code) => process.exit(code) });
  }
  const program = buildProgram(io, async (spec, cmd, args) => {
    const globals = cmd.optsWithGlobals() as GlobalOptions & Record<string, unknown>;
    io.quiet = Boolean(globals.quiet);
    io.json = Boolean(globals.json);
    io.verbose = Boolean(globals.verbose) || (io.env.KLV_DEBUG ?? '').split(',').includes('http');
    ctx = new CommandContext(io, globals);
    const context = ctx;
    context.profile = wrapProfile(context, secrets);
    const stopSignals = installSignalHandlers(context, Boolean(spec.runsUntilInterrupted));
    try {
      const mod = await spec.load!();
      const code = await mod.run(context, args, cmd.opts());
      exitCode = typeof code === 'number' ? code : ExitCode.Ok;
      if (context.signal.aborted && !spec.runsUntilInterrupted) throw new InterruptedError();
    } finally {
      stopSignals();
      await context.dispose();
    }
  });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    const scrub = (text: string) => scrubSecrets(text, secrets);
    const code = exitCodeFor(err);
    if (!(err instanceof CommanderError)) reportError(io, err, scrub);
    else if (code === ExitCode.Usage && err.code !== 'commander.help') {
      io.stderr.write(`Run 'klv help' for usage.\n`);
    }
    return code;
  }
}

/** Remembers the resolved key so that any error text can be scrubbed of it. */
function wrapProfile(ctx: CommandContext, secrets: Secret[]): CommandContext['profile'] {
  const original = ctx.profile.bind(ctx);
  return async () => {
    const profile = await original();
    if (!secrets.includes(profile.privateKey)) secrets.push(profile.privateKey);
    return profile;
  };
}

function installSignalHandlers(ctx: CommandContext, quietStop: boolean): () => void {
  let count = 0;
  const onSignal = () => {
    count += 1;
    if (count === 1) {
      if (!quietStop) {
        ctx.io.stderr.write('\nInterrupted: finishing the work in flight and flushing logs (Ctrl-C again to stop now).\n');
      }
      ctx.abort.abort(new InterruptedError());
    } else {
      process.exit(ExitCode.Interrupted);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

type Runner = (spec: CommandSpec, cmd: Command, args: string[]) => Promise<void>;

export function buildProgram(io: IO, runner: Runner): Command {
  const program = new Command('klv');
  program
    .description('Move data in and out of Klaviyo: export, import, query, replicate, sync.')
    .version(KLV_VERSION, '-V, --version', 'print the version')
    .option('--profile <name>', 'connection profile to use (default: $KLAVIYO_PROFILE or "default")')
    .option('--config <file>', 'read profiles from this file instead of searching')
    .option('--api-key-file <path|->', 'read the Private API Key from a file, or - for stdin')
    .option('--demo', 'run against the built-in Klaviyo emulator with a demo account')
    .option('-v, --verbose', 'show each HTTP request (method, path, status, ms, rate limit, retries)')
    .option('-q, --quiet', 'no progress or informational messages')
    .option('--json', 'machine-readable output and summaries')
    .option('--no-color', 'no colour (also NO_COLOR=1)')
    .helpCommand(false)
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`${io.style.red('error:')} ${s.replace(/^error: /, '')}`),
    })
    .exitOverride();
  program.addHelpText('before', `${formatExamples(ROOT_EXAMPLES)}\n`);
  program.addHelpText(
    'after',
    `\nHelp topics: ${Object.keys(HELP_TOPICS).map((t) => `klv help ${t}`).join(', ')}\n`,
  );

  for (const spec of COMMANDS) addCommand(program, spec, runner);

  program
    .command('help [topic...]')
    .description('Show help for a command or a topic (exit-codes, environment, profiles)')
    .action(async (topic: string[]) => {
      const words = topic ?? [];
      if (words.length === 0) {
        program.outputHelp();
        return;
      }
      const t = HELP_TOPICS[words[0]];
      if (t && words.length === 1) {
        io.data(await t.load());
        return;
      }
      let target: Command | undefined = program;
      for (const w of words) target = target?.commands.find((c) => c.name() === w || c.aliases().includes(w));
      if (!target) {
        throw new UsageError(
          `No command or help topic named '${words.join(' ')}'.`,
          `Commands: ${program.commands.map((c) => c.name()).join(', ')}. Topics: ${Object.keys(HELP_TOPICS).join(', ')}.`,
        );
      }
      target.outputHelp();
    });
  return program;
}

function addCommand(parent: Command, spec: CommandSpec, runner: Runner): void {
  const cmd = parent.command(spec.args ? `${spec.name} ${spec.args}` : spec.name);
  cmd.description(spec.summary).exitOverride();
  cmd.addHelpText('before', `${formatExamples(spec.examples)}`);
  if (spec.description) cmd.addHelpText('after', `\n${spec.description}\n`);
  spec.configure?.(cmd);
  if (spec.subcommands) {
    for (const sub of spec.subcommands) addCommand(cmd, sub, runner);
    if (!spec.load) {
      cmd.action(() => {
        cmd.outputHelp();
      });
      return;
    }
  }
  if (spec.load) {
    cmd.action(async (...actionArgs: unknown[]) => {
      const command = actionArgs[actionArgs.length - 1] as Command;
      const positional = actionArgs.slice(0, -2).flat() as string[];
      await runner(spec, command, positional);
    });
  }
}
