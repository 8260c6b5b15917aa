/**
 * `klv config init`: writes (or, with --force, replaces) one profile in a config file, mode 0600,
 * keeping the other profiles and comments. On a terminal it asks for what the flags did not give
 * (the key without echoing it); otherwise it takes flags only. It never prints the key.
 */
import { Writable } from 'node:stream';
import { createInterface, type Interface } from 'node:readline/promises';
import { access } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import type { ConfigInitFlags } from '../flags.js';
import { ConfigError, InterruptedError, UsageError } from '../../core/errors.js';
import { redactKey } from '../../core/secret.js';
import { homeDirFor, resolveUserPath, userConfigPath } from '../../config/paths.js';
import { DEFAULT_PROFILE_NAME, ENV } from '../../config/profile.js';
import { hasProfile, readConfigText, upsertProfile, writeConfigFile, type ProfileSettings } from '../../config/config-writer.js';
import { checkBaseUrl, checkPrivateKey, checkPublicKey, checkRevision, isEnvVarName } from '../../config/validate.js';

const KEY_FLAGS_HELP =
  '  --private-key-env VAR     read the key from an environment variable when klv runs (recommended)\n' +
  '  --private-key-file PATH   read the key from a file only you can read\n' +
  '  --private-key-stdin       read the key from standard input now and store it in the config file\n' +
  'Optional: --public-key SITE_ID, --revision YYYY-MM-DD, --base-url URL, --path FILE, --force, --profile NAME.';

export async function run(ctx: CommandContext, _args: string[], o: ConfigInitFlags): Promise<number> {
  const io = ctx.io;
  const homeDir = homeDirFor(io.env);
  const requested = o.path ?? ctx.globals.config;
  const path = requested ? resolveUserPath(requested, io.cwd, homeDir) : userConfigPath(io.env, homeDir);
  const name = ctx.globals.profile ?? DEFAULT_PROFILE_NAME;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
    throw new UsageError(`'${name}' is not a usable profile name`, 'Use letters, digits, ".", "_" and "-", e.g. --profile staging.');
  }

  const keyFlags = [
    o.privateKeyEnv !== undefined && '--private-key-env',
    o.privateKeyFile !== undefined && '--private-key-file',
    o.privateKeyStdin && '--private-key-stdin',
  ].filter((f): f is string => Boolean(f));
  if (keyFlags.length > 1) {
    throw new UsageError(`${keyFlags.join(' and ')} both say where the key is: give only one`, `Choose one of:\n${KEY_FLAGS_HELP}`);
  }

  // Refuse before asking any question: an answer typed for nothing is a poor experience.
  const existing = await readConfigText(path);
  if (!o.force && hasProfile(path, existing, name)) {
    throw new UsageError(`Profile '${name}' already exists in ${path}`, 'Add --force to replace it, or pick another name with --profile NAME.');
  }

  const interactive = io.stdinIsTTY && io.stderrIsTTY;
  if (keyFlags.length === 0 && !interactive) {
    throw new UsageError(
      'klv config init needs to know where the Private API Key is (standard input is not a terminal, so it cannot ask)',
      `Give one of:\n${KEY_FLAGS_HELP}`,
    );
  }

  const settings: ProfileSettings = {};
  const prompter = interactive ? new Prompter(io.stdin, io.stderr, ctx.signal) : undefined;
  try {
    if (o.privateKeyEnv !== undefined) {
      settings.privateKeyEnv = checkEnvVarFlag(o.privateKeyEnv);
    } else if (o.privateKeyFile !== undefined) {
      settings.privateKeyFile = keyFilePathToStore(o.privateKeyFile, io.cwd);
    } else if (o.privateKeyStdin) {
      const key = prompter
        ? await prompter.askHidden('Private API Key (pk_..., input hidden): ')
        : await readAll(io.stdin);
      settings.privateKey = checkPrivateKey(key, { source: 'flag --private-key-stdin', subject: 'standard input' });
    } else if (prompter) {
      Object.assign(settings, await askKeySource(prompter, path, io.cwd));
    }

    if (o.publicKey !== undefined) {
      settings.publicKey = checkPublicKey(o.publicKey, { source: 'flag --public-key', subject: '--public-key' });
    } else if (prompter) {
      const answer = await prompter.ask('Public API Key (site id, 6 characters; Enter to skip): ');
      if (answer !== '') settings.publicKey = checkPublicKey(answer, { source: 'answer', subject: 'the Public API Key' });
    }
  } finally {
    prompter?.close();
  }
  if (o.revision !== undefined) settings.revision = checkRevision(o.revision, { source: 'flag --revision', subject: '--revision' });
  if (o.baseUrl !== undefined) settings.baseUrl = checkBaseUrl(o.baseUrl, { source: 'flag --base-url', subject: '--base-url' });

  const { text, replaced } = upsertProfile(path, existing, name, settings, Boolean(o.force));
  const written = await writeConfigFile(path, text);

  const keySetting = settings.privateKey ? 'privateKey' : settings.privateKeyEnv ? 'privateKeyEnv' : 'privateKeyFile';
  await warnAboutKeySource(ctx, settings, written, homeDir);
  if (io.json) {
    io.data(JSON.stringify({ path: written, profile: name, replaced, keySetting, mode: '0600' }));
  } else {
    io.info(`${replaced ? 'Replaced' : 'Wrote'} profile '${name}' in ${written} (mode 0600).`);
    io.info(`Check it with: klv doctor${name === DEFAULT_PROFILE_NAME ? '' : ` --profile ${name}`}`);
  }
  return 0;
}

function checkEnvVarFlag(value: string): string {
  const v = value.trim();
  if (v.startsWith('pk_')) {
    throw new UsageError(
      `--private-key-env takes the name of an environment variable, but was given a key (${redactKey(v)})`,
      `Export the key (export ${ENV.privateKey}=pk_...) and pass its name: --private-key-env ${ENV.privateKey}. The key may now be in your shell history.`,
    );
  }
  if (!isEnvVarName(v)) {
    throw new UsageError(`--private-key-env '${v}' is not an environment variable name`, `For example --private-key-env ${ENV.privateKey}.`);
  }
  return v;
}

/**
 * The key file's path as it goes in the config: `~/...` kept (portable between machines),
 * anything relative made absolute, because in the config it would be read relative to the
 * config file rather than to the folder the user typed it in.
 */
function keyFilePathToStore(value: string, cwd: string): string {
  const v = value.trim();
  if (v === '') throw new UsageError('--private-key-file needs a path', 'For example --private-key-file ~/.klaviyo-key');
  if (v === '~' || v.startsWith('~/') || isAbsolute(v)) return v;
  return resolve(cwd, v);
}

async function warnAboutKeySource(ctx: CommandContext, s: ProfileSettings, written: string, homeDir: string): Promise<void> {
  const io = ctx.io;
  if (s.privateKeyEnv && !io.env[s.privateKeyEnv]) {
    io.warn(`${s.privateKeyEnv} is not set in this shell: export it before running klv (export ${s.privateKeyEnv}=pk_...).`);
  }
  if (s.privateKeyFile) {
    const keyPath = resolveUserPath(s.privateKeyFile, io.cwd, homeDir);
    try {
      await access(keyPath);
    } catch {
      io.warn(`${keyPath} does not exist yet: put the key in it (umask 077; printf %s pk_... > ${keyPath}).`);
    }
  }
  if (s.privateKey && written !== userConfigPath(io.env, homeDir)) {
    io.warn(`${written} now holds the key itself: keep it out of version control (add it to .gitignore).`);
  }
}

async function askKeySource(p: Prompter, path: string, cwd: string): Promise<ProfileSettings> {
  const choice = await p.ask(
    'Where should klv find the Private API Key?\n' +
      '  1) in an environment variable (recommended)\n' +
      '  2) in a file that holds the key\n' +
      `  3) stored in ${path} itself (mode 0600)\n` +
      'Choose 1, 2 or 3 [1]: ',
  );
  switch (choice === '' ? '1' : choice) {
    case '1': {
      const answer = await p.ask(`Environment variable [${ENV.privateKey}]: `);
      return { privateKeyEnv: checkEnvVarFlag(answer === '' ? ENV.privateKey : answer) };
    }
    case '2': {
      const answer = await p.ask('Path of the key file [~/.klaviyo-key]: ');
      return { privateKeyFile: keyFilePathToStore(answer === '' ? '~/.klaviyo-key' : answer, cwd) };
    }
    case '3': {
      const key = await p.askHidden('Private API Key (pk_..., input hidden): ');
      return { privateKey: checkPrivateKey(key, { source: 'answer', subject: 'the answer' }) };
    }
    default:
      throw new UsageError(`'${choice.slice(0, 20)}' is not 1, 2 or 3`, 'Run klv config init again, or pass the flags instead.');
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') {
    throw new ConfigError('--private-key-stdin read nothing from standard input', {
      hint: 'Pipe the key in: printf %s "$KEY" | klv config init --private-key-stdin',
    });
  }
  return text;
}

/**
 * Questions on the terminal, written to stderr (stdout is for data). `askHidden` mutes the echo
 * so that the key never appears on screen or in a terminal recording.
 */
class Prompter {
  readonly #rl: Interface;
  readonly #out: NodeJS.WritableStream;
  readonly #abort = new AbortController();
  #muted = false;
  #ended = false;

  constructor(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, signal: AbortSignal) {
    this.#out = output;
    const echo = new Writable({
      write: (chunk, _encoding, callback) => {
        if (!this.#muted) output.write(chunk);
        callback();
      },
    });
    this.#rl = createInterface({ input, output: echo, terminal: true });
    // In raw mode Ctrl-C reaches readline, not the process; treat it like the process would.
    this.#rl.on('SIGINT', () => this.#abort.abort());
    this.#rl.on('close', () => {
      this.#ended = true;
      this.#abort.abort();
    });
    signal.addEventListener('abort', () => this.#abort.abort(), { once: true });
  }

  async ask(question: string): Promise<string> {
    try {
      return (await this.#rl.question(question, { signal: this.#abort.signal })).trim();
    } catch (err) {
      throw this.#ended
        ? new UsageError('Standard input ended before the questions were answered', `Pass the flags instead:\n${KEY_FLAGS_HELP}`)
        : err instanceof Error && err.name === 'AbortError'
          ? new InterruptedError()
          : err;
    }
  }

  async askHidden(question: string): Promise<string> {
    // Mute and start listening before showing the prompt, so that a key pasted the moment the
    // prompt appears is neither echoed nor lost. The prompt bypasses the muted echo stream.
    this.#muted = true;
    const answer = this.ask('');
    this.#out.write(question);
    try {
      return await answer;
    } finally {
      this.#muted = false;
      this.#out.write('\n');
    }
  }

  close(): void {
    this.#rl.close();
  }
}
