/**
 * Resolves the connection profile a command runs with. Per value, first found wins:
 * flags > environment > project file (or --config) > user file > defaults; with --demo the
 * built-in emulator's URL and keys replace everything. Every problem is a ConfigError (exit 2)
 * raised here, before any request, naming the file and the fix. No message ever holds a key.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { redactKey, Secret } from '../core/secret.js';
import { discoverConfigFiles, PROJECT_SEARCH_PLACES, type ConfigDiscovery, type LoadedConfigFile } from './config-files.js';
import { suggestKey, unknownProfileKeys, type RawProfile } from './config-shape.js';
import { homeDirFor, resolveUserPath } from './paths.js';
import {
  DEFAULT_BASE_URL,
  DEFAULT_CONCURRENCY,
  DEFAULT_PROFILE_NAME,
  DEFAULT_REVISION,
  ENV,
  KEY_SOURCE_KEYS,
  PROFILE_KEYS,
  type ResolvedProfile,
} from './profile.js';
import { safeEcho } from './redact.js';
import {
  checkBaseUrl,
  checkConcurrency,
  checkPrivateKey,
  checkPublicKey,
  checkRevision,
  isEnvVarName,
  isLoopbackUrl,
  type Origin,
} from './validate.js';

export interface ResolveProfileRequest {
  /** --profile */
  profile?: string;
  /** --config: read only this file */
  configPath?: string;
  /** --api-key-file: a path, or '-' for standard input */
  apiKeyFile?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdin: NodeJS.ReadableStream;
  /** For tests; default $HOME. */
  homeDir?: string;
  /** The built-in emulator: its URL and keys override everything. */
  demo?: { baseUrl: string; privateKey: string; publicKey: string };
}

/** One config file's entry for the selected profile. */
interface Layer {
  file: LoadedConfigFile;
  profile: RawProfile;
}

interface Found<T> {
  value: T;
  origin: Origin;
}

export async function resolveProfile(req: ResolveProfileRequest): Promise<ResolvedProfile> {
  const homeDir = homeDirFor(req.env, req.homeDir);
  const selection = selectProfileName(req);
  const name = selection.name;
  const discovery = await discoverConfigFiles({ configPath: req.configPath, cwd: req.cwd, env: req.env, homeDir });
  const warnings = [...discovery.warnings];

  const layers: Layer[] = discovery.files
    .filter((f) => Object.hasOwn(f.data.profiles, name))
    .map((file) => ({ file, profile: file.data.profiles[name] }));
  if (layers.length === 0 && selection.explicit && name !== DEFAULT_PROFILE_NAME) {
    throw unknownProfileError(selection, discovery);
  }

  warnings.push(...fileWarnings(discovery.files, layers, name));
  for (const layer of layers) checkSingleKeySource(layer, name);

  /** A value set in the environment (an empty variable counts as unset). */
  const fromEnv = (variable: string): Found<unknown> | undefined => {
    const value = nonEmpty(req.env[variable]);
    return value === undefined ? undefined : { value, origin: { source: `env ${variable}`, subject: variable } };
  };
  /** The selected profile's value for `key` from the highest-precedence file that sets it. */
  const fromFiles = (key: string): Found<unknown> | undefined => {
    for (const layer of layers) {
      const value = layer.profile[key];
      if (value !== undefined && value !== null && value !== '') return { value, origin: fileOrigin(layer, key, name) };
    }
    return undefined;
  };
  const sources: Record<string, string> = { profile: selection.source };

  // Revision and concurrency apply to the demo emulator too.
  const revisionFound: Found<unknown> =
    fromEnv(ENV.revision) ??
    fromFiles('revision') ?? { value: DEFAULT_REVISION, origin: { source: 'default', subject: 'the default revision' } };
  const revision = checkRevision(revisionFound.value, revisionFound.origin);
  sources.revision = revisionFound.origin.source;

  const concurrencyFound: Found<unknown> =
    fromFiles('concurrency') ?? { value: DEFAULT_CONCURRENCY, origin: { source: 'default', subject: 'concurrency' } };
  const concurrency = checkConcurrency(concurrencyFound.value, concurrencyFound.origin);
  sources.concurrency = concurrencyFound.origin.source;

  if (req.demo) {
    Object.assign(sources, { privateKey: 'demo emulator', publicKey: 'demo emulator', baseUrl: 'demo emulator' });
    return {
      name,
      privateKey: new Secret(req.demo.privateKey),
      publicKey: req.demo.publicKey,
      revision,
      baseUrl: req.demo.baseUrl.replace(/\/+$/, ''),
      concurrency,
      sources,
      files: discovery.files.map((f) => f.path),
      warnings,
    };
  }

  const key = await resolvePrivateKey(req, homeDir, name, layers, discovery, warnings);
  sources.privateKey = key.source;

  const baseUrlFound: Found<unknown> =
    fromEnv(ENV.baseUrl) ??
    fromFiles('baseUrl') ?? { value: DEFAULT_BASE_URL, origin: { source: 'default', subject: 'the default base URL' } };
  const baseUrl = checkBaseUrl(baseUrlFound.value, baseUrlFound.origin);
  sources.baseUrl = baseUrlFound.origin.source;
  const baseUrlFile = discovery.files.find((f) => f.path === baseUrlFound.origin.file);
  if (baseUrlFile?.role === 'project' && !isKlaviyoOrLoopback(baseUrl)) {
    // A cloned repository's .klaviyorc could send the user's own key (from the environment) elsewhere.
    warnings.push(
      `${baseUrlFile.path} sets baseUrl to ${baseUrl}, which is not Klaviyo: your Private API Key ` +
        `(${sources.privateKey}) will be sent there. Remove baseUrl from that file unless you trust it.`,
    );
  }

  const publicFound: Found<unknown> | undefined =
    fromEnv(ENV.publicKey) ?? fromFiles('publicKey');
  let publicKey: string | undefined;
  if (publicFound) {
    publicKey = checkPublicKey(publicFound.value, publicFound.origin);
    sources.publicKey = publicFound.origin.source;
  }

  return {
    name,
    privateKey: new Secret(key.value),
    publicKey,
    revision,
    baseUrl,
    concurrency,
    sources,
    files: discovery.files.map((f) => f.path),
    warnings,
  };
}

interface ProfileSelection {
  name: string;
  source: string;
  /** Chosen by the user (flag or environment), so a missing profile is an error. */
  explicit: boolean;
}

function selectProfileName(req: ResolveProfileRequest): ProfileSelection {
  if (req.profile) return { name: req.profile, source: 'flag --profile', explicit: true };
  const fromEnv = nonEmpty(req.env[ENV.profile]);
  if (fromEnv) return { name: fromEnv, source: `env ${ENV.profile}`, explicit: true };
  return { name: DEFAULT_PROFILE_NAME, source: 'default', explicit: false };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function fileOrigin(layer: Layer, key: string, name: string): Origin {
  return {
    source: `${layer.file.path} (profile ${name})`,
    subject: `${key} of profile '${name}'`,
    file: layer.file.path,
  };
}

function isKlaviyoOrLoopback(baseUrl: string): boolean {
  const host = new URL(baseUrl).hostname;
  return host === 'klaviyo.com' || host.endsWith('.klaviyo.com') || isLoopbackUrl(baseUrl);
}

// ---------------------------------------------------------------------------------------------
// The Private API Key

async function resolvePrivateKey(
  req: ResolveProfileRequest,
  homeDir: string,
  name: string,
  layers: Layer[],
  discovery: ConfigDiscovery,
  warnings: string[],
): Promise<{ value: string; source: string }> {
  const flagSource = 'flag --api-key-file';
  if (req.apiKeyFile === '-') {
    const text = await readKeyFromStdin(req.stdin);
    return { value: checkPrivateKey(text, { source: flagSource, subject: '--api-key-file - (standard input)' }), source: flagSource };
  }
  if (req.apiKeyFile !== undefined) {
    const path = resolveUserPath(req.apiKeyFile, req.cwd, homeDir);
    const origin: Origin = { source: flagSource, subject: `--api-key-file ${path}` };
    const text = await readKeyFile(path, origin, warnings);
    return { value: checkPrivateKey(text, origin), source: flagSource };
  }

  const fromEnv = nonEmpty(req.env[ENV.privateKey]);
  if (fromEnv !== undefined) {
    const source = `env ${ENV.privateKey}`;
    return { value: checkPrivateKey(fromEnv, { source, subject: ENV.privateKey }), source };
  }

  for (const layer of layers) {
    const p = layer.profile;
    const file = layer.file.path;
    const where = `${file} (profile ${name})`;
    if (isSet(p.privateKey)) {
      const origin: Origin = { source: where, subject: `privateKey of profile '${name}'`, file };
      if (typeof p.privateKey !== 'string') {
        throw new ConfigError(`privateKey of profile '${name}' must be a string`, { file, hint: 'Quote it: privateKey: "pk_..."' });
      }
      return { value: checkPrivateKey(p.privateKey, origin), source: where };
    }
    if (isSet(p.privateKeyEnv)) {
      const variable = p.privateKeyEnv;
      // pk_... is also a valid variable name, so the key check comes first.
      const looksLikeKey = typeof variable === 'string' && variable.trim().startsWith('pk_');
      if (typeof variable !== 'string' || looksLikeKey || !isEnvVarName(variable.trim())) {
        throw new ConfigError(
          looksLikeKey
            ? `privateKeyEnv of profile '${name}' holds a key (${redactKey(variable.trim())}), not the name of an environment variable`
            : `privateKeyEnv of profile '${name}' must name an environment variable, not '${safeEcho(variable)}'`,
          {
            file,
            hint: looksLikeKey
              ? 'Write privateKeyEnv: KLAVIYO_PRIVATE_API_KEY and export that variable; remove the key from the file (and rotate it if the file was shared).'
              : 'For example privateKeyEnv: KLAVIYO_PRIVATE_API_KEY.',
          },
        );
      }
      const v = variable.trim();
      const value = nonEmpty(req.env[v]);
      if (value === undefined) {
        throw new ConfigError(`Profile '${name}' reads its key from the environment variable ${v} (privateKeyEnv), which is not set`, {
          file,
          hint: `Set it (export ${v}=pk_...), or change privateKeyEnv in the profile.`,
        });
      }
      const source = `env ${v}, named by ${where}`;
      return { value: checkPrivateKey(value, { source, subject: `${v} (privateKeyEnv of profile '${name}')`, file }), source };
    }
    if (isSet(p.privateKeyFile)) {
      if (typeof p.privateKeyFile !== 'string') {
        throw new ConfigError(`privateKeyFile of profile '${name}' must be a path`, { file, hint: 'For example privateKeyFile: ~/.klaviyo-key' });
      }
      // Relative paths are relative to the config file, so a project file can name a key beside it.
      const path = resolveUserPath(p.privateKeyFile.trim(), dirname(file), homeDir);
      const source = `${path}, named by ${where}`;
      const origin: Origin = { source, subject: `the key file ${path} (privateKeyFile of profile '${name}')`, file };
      const text = await readKeyFile(path, origin, warnings);
      return { value: checkPrivateKey(text, origin), source };
    }
  }
  throw noKeyError(name, layers, discovery);
}

function isSet(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

async function readKeyFile(path: string, origin: Origin, warnings: string[]): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'it does not exist' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : (err as Error).message;
    throw new ConfigError(`Cannot read ${origin.subject}: ${why}`, {
      file: origin.file,
      hint: 'Check the path (relative paths in a config file are relative to that file), or put the key in it: umask 077; echo pk_... > FILE',
    });
  }
  warnings.push(...looseModeWarning(path, await modeOf(path), 'holds your Private API Key'));
  return text;
}

async function readKeyFromStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  if ((stdin as { isTTY?: boolean }).isTTY) {
    throw new ConfigError('--api-key-file - reads the key from standard input, but standard input is a terminal', {
      hint: 'Pipe the key in (e.g. pass show klaviyo | klv doctor --api-key-file -), or give a file: --api-key-file ~/.klaviyo-key',
    });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    // A key is ~40 bytes; anything this large is a mistake (the wrong file piped in).
    if (size > 64 * 1024) {
      throw new ConfigError('--api-key-file - read more than 64 KiB from standard input; expected one Private API Key', {
        hint: 'Pipe only the key, e.g. printf %s "$KEY" | klv ... --api-key-file -',
      });
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8').trim();
}

async function modeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mode & 0o777;
  } catch {
    return undefined;
  }
}

/** A warning when a file with a key in it can be read by other users (POSIX only). */
function looseModeWarning(path: string, mode: number | undefined, what: string): string[] {
  if (process.platform === 'win32' || mode === undefined || (mode & 0o077) === 0) return [];
  return [`${path} ${what} and can be read by other users (mode ${mode.toString(8).padStart(3, '0')}): run chmod 600 ${path}`];
}

// ---------------------------------------------------------------------------------------------
// Warnings and errors about the files

function fileWarnings(files: LoadedConfigFile[], layers: Layer[], name: string): string[] {
  const warnings: string[] = [];
  for (const file of files) {
    for (const key of file.data.unknownTopLevel) {
      warnings.push(`${file.path}: unknown top-level key '${safeEcho(key)}' ignored; profiles go under 'profiles:'.`);
    }
    const withLiteralKey = Object.entries(file.data.profiles).find(([, p]) => isSet(p.privateKey));
    if (withLiteralKey) warnings.push(...looseModeWarning(file.path, file.mode, `holds a Private API Key (profile ${withLiteralKey[0]})`));
  }
  for (const layer of layers) {
    for (const key of unknownProfileKeys(layer.profile)) {
      const suggestion = suggestKey(key);
      warnings.push(
        `${layer.file.path}: profile '${name}' has an unknown setting '${safeEcho(key)}', which is ignored` +
          (suggestion ? ` (did you mean '${suggestion}'?)` : '') +
          `. Known settings: ${PROFILE_KEYS.join(', ')}.`,
      );
    }
  }
  return warnings;
}

function checkSingleKeySource(layer: Layer, name: string): void {
  const set = KEY_SOURCE_KEYS.filter((k) => isSet(layer.profile[k]));
  if (set.length > 1) {
    throw new ConfigError(`Profile '${name}' sets ${set.join(' and ')}: it must use only one of them`, {
      file: layer.file.path,
      hint: 'Keep privateKeyEnv (an environment variable) or privateKeyFile (a file only you can read) and remove the others.',
    });
  }
}

function unknownProfileError(selection: ProfileSelection, discovery: ConfigDiscovery): ConfigError {
  const existing = discovery.files.flatMap((f) => Object.keys(f.data.profiles).map((p) => `${safeEcho(p)} (${f.path})`));
  const lines = [`Profile '${safeEcho(selection.name)}' (from ${selection.source}) does not exist.`];
  if (existing.length > 0) {
    lines.push(`Profiles found: ${existing.join(', ')}.`);
  } else {
    lines.push(`No profiles were found; klv looked in: ${describeLookedIn(discovery)}.`);
  }
  return new ConfigError(lines.join('\n'), {
    hint:
      `Pick one of the profiles above with --profile NAME${selection.source.startsWith('env') ? ` (or change ${ENV.profile})` : ''}, ` +
      `or create it: klv config init --profile ${safeEcho(selection.name)}`,
  });
}

function noKeyError(name: string, layers: Layer[], discovery: ConfigDiscovery): ConfigError {
  const lines = [`No Private API Key found for profile '${name}'. klv looked at:`, '  --api-key-file: not given', `  ${ENV.privateKey}: not set`];
  const describe = (file: LoadedConfigFile): string => {
    const layer = layers.find((l) => l.file === file);
    if (!layer) {
      const others = Object.keys(file.data.profiles).map((p) => safeEcho(p));
      return `no profile '${name}'${others.length ? ` (it has: ${others.join(', ')})` : ''}`;
    }
    const typos = unknownProfileKeys(layer.profile)
      .map((k) => [k, suggestKey(k)] as const)
      .filter(([, s]) => s !== undefined && (KEY_SOURCE_KEYS as readonly string[]).includes(s))
      .map(([k, s]) => `'${safeEcho(k)}' is not a setting: did you mean '${s}'?`);
    return `profile '${name}' has no privateKey, privateKeyEnv or privateKeyFile${typos.length ? ` (${typos.join('; ')})` : ''}`;
  };
  if (discovery.explicitPath !== undefined) {
    const file = discovery.files[0];
    lines.push(`  ${discovery.explicitPath} (--config): ${file ? describe(file) : 'empty'}`);
  } else {
    const project = discovery.files.find((f) => f.role === 'project');
    if (project) lines.push(`  ${project.path}: ${describe(project)}`);
    else lines.push(`  project config (${projectPlaces()}) ${searchedRange(discovery)}: none found`);
    const user = discovery.files.find((f) => f.role === 'user');
    lines.push(`  ${discovery.userPath}: ${user ? describe(user) : 'does not exist'}`);
  }
  return new ConfigError(lines.join('\n'), {
    hint:
      `Create a profile with 'klv config init', or set ${ENV.privateKey} (export ${ENV.privateKey}=pk_...). ` +
      `To try klv without a Klaviyo account: klv doctor --demo`,
  });
}

function projectPlaces(): string {
  return PROJECT_SEARCH_PLACES.map((p) => (p === 'package.json' ? '"klaviyo" in package.json' : p)).join(', ');
}

function searchedRange(discovery: ConfigDiscovery): string {
  const dirs = discovery.searchedDirs;
  if (dirs.length === 0) return '';
  if (dirs.length === 1) return `in ${dirs[0]}`;
  return `from ${dirs[0]} up to ${dirs[dirs.length - 1]}`;
}

function describeLookedIn(discovery: ConfigDiscovery): string {
  if (discovery.explicitPath !== undefined) return `${discovery.explicitPath} (--config)`;
  return `${projectPlaces()} ${searchedRange(discovery)}, and ${discovery.userPath}`;
}
