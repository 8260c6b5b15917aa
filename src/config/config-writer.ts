/**
 * Adding or replacing one profile in a config file, keeping everything else (other profiles,
 * comments, key order), and writing it so that only the owner can read it.
 */
import { chmod, mkdir, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Document, isMap, isScalar, parseDocument, type Scalar } from 'yaml';
import { ConfigError, UsageError } from '../core/errors.js';
import { loadJsonConfig } from './loaders.js';

/** What `klv config init` writes; exactly one of the three key settings is set. */
export interface ProfileSettings {
  privateKey?: string;
  privateKeyEnv?: string;
  privateKeyFile?: string;
  publicKey?: string;
  revision?: string;
  baseUrl?: string;
  concurrency?: number;
}

export interface UpsertResult {
  text: string;
  /** True when a profile of that name was there before (and --force replaced it). */
  replaced: boolean;
}

const HEADER =
  ' klv connection profiles (see `klv help profiles`).\n' +
  ' Keep this file readable by you only (chmod 600): it names or holds Klaviyo API keys.';

/** Whether `name` is an existing profile in the file's text. */
export function hasProfile(file: string, existing: string | null, name: string): boolean {
  if (existing === null || existing.trim() === '') return false;
  if (isJsonPath(file)) {
    const data = loadJsonConfig(file, existing) as { profiles?: Record<string, unknown> } | null;
    return Boolean(data?.profiles && Object.hasOwn(data.profiles, name));
  }
  const doc = parseYamlDocument(file, existing);
  const profiles = isMap(doc.contents) ? doc.contents.get('profiles', true) : undefined;
  return isMap(profiles) && profiles.has(name);
}

/** The file's new text with profile `name` set to `settings`. Refuses to replace one unless `force`. */
export function upsertProfile(
  file: string,
  existing: string | null,
  name: string,
  settings: ProfileSettings,
  force: boolean,
): UpsertResult {
  if (basename(file) === 'package.json') {
    throw new UsageError(
      'klv config init does not edit package.json',
      'Write the profile to .klaviyorc.yaml beside it instead: klv config init --path .klaviyorc.yaml',
    );
  }
  const clean = withoutUndefined(settings);
  return isJsonPath(file) ? upsertJson(file, existing, name, clean, force) : upsertYaml(file, existing, name, clean, force);
}

function upsertYaml(file: string, existing: string | null, name: string, settings: ProfileSettings, force: boolean): UpsertResult {
  const fresh = existing === null || existing.trim() === '';
  const doc = fresh ? new Document({}) : parseYamlDocument(file, existing);
  if (fresh) doc.commentBefore = HEADER;
  if (doc.contents === null) doc.contents = doc.createNode({}) as never;
  if (!isMap(doc.contents)) {
    throw new ConfigError('The file is not a YAML mapping, so klv cannot add a profile to it', {
      file,
      hint: 'Fix the file, or write the profile somewhere else with --path.',
    });
  }
  let profiles = doc.contents.get('profiles', true);
  if (profiles === undefined || profiles === null || (isScalar(profiles) && profiles.value === null)) {
    doc.contents.set('profiles', doc.createNode({}));
    profiles = doc.contents.get('profiles', true);
  }
  if (!isMap(profiles)) {
    throw new ConfigError("'profiles' is not a mapping, so klv cannot add a profile to it", {
      file,
      hint: 'Fix the file (profiles: followed by indented profile names), or use another --path.',
    });
  }
  const replaced = profiles.has(name);
  if (replaced && !force) throw profileExists(file, name);
  const node = doc.createNode(settings);
  // Quoted, so that YAML 1.1 readers (and people) do not take the revision for a date.
  const revision = node.get('revision', true);
  if (isScalar(revision)) (revision as Scalar).type = 'QUOTE_DOUBLE';
  profiles.set(name, node);
  return { text: doc.toString(), replaced };
}

function upsertJson(file: string, existing: string | null, name: string, settings: ProfileSettings, force: boolean): UpsertResult {
  const data = (existing === null || existing.trim() === '' ? {} : loadJsonConfig(file, existing)) as Record<string, unknown>;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError('The file is not a JSON object, so klv cannot add a profile to it', { file });
  }
  const profiles = (data.profiles ?? {}) as Record<string, unknown>;
  if (typeof profiles !== 'object' || profiles === null || Array.isArray(profiles)) {
    throw new ConfigError("'profiles' is not an object, so klv cannot add a profile to it", { file });
  }
  const replaced = Object.hasOwn(profiles, name);
  if (replaced && !force) throw profileExists(file, name);
  data.profiles = { ...profiles, [name]: settings };
  return { text: `${JSON.stringify(data, null, 2)}\n`, replaced };
}

function profileExists(file: string, name: string): UsageError {
  return new UsageError(
    `Profile '${name}' already exists in ${file}`,
    `Add --force to replace it, or pick another name with --profile NAME.`,
  );
}

function parseYamlDocument(file: string, text: string): Document {
  const doc = parseDocument(text, { schema: 'core', prettyErrors: true });
  const [error] = doc.errors;
  if (error) {
    const pos = error.linePos?.[0];
    throw new ConfigError(`Invalid YAML${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}; klv will not rewrite it`, {
      file,
      hint: 'Fix the file first (klv config show reports the problem), or write the profile elsewhere with --path.',
    });
  }
  return doc;
}

function isJsonPath(file: string): boolean {
  return extname(file).toLowerCase() === '.json';
}

function withoutUndefined(settings: ProfileSettings): ProfileSettings {
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) as ProfileSettings;
}

/** The file's text, or null when it does not exist. */
export async function readConfigText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError(`Cannot read the config file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      file: path,
      hint: 'Check its permissions, or write the profile elsewhere with --path.',
    });
  }
}

/**
 * Writes the file with mode 0600 (folders 0700), atomically: the text goes to a temporary file
 * beside it, created 0600 so that the key is never readable by others even for a moment, which
 * then replaces the old file. A symlinked config (dotfiles) is written through the link.
 */
export async function writeConfigFile(path: string, text: string): Promise<string> {
  let target = path;
  try {
    target = await realpath(path);
  } catch {
    // Does not exist yet: write it where asked.
  }
  const dir = dirname(target);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
    // The umask may have masked bits off, never on; chmod makes 0600 exact either way.
    await chmod(tmp, 0o600);
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new ConfigError(`Cannot write the config file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      file: target,
      hint: 'Check that the folder is writable, or write the profile elsewhere with --path.',
    });
  }
  return target;
}
