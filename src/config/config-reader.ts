/**
 * Reading config files: one file by its path, or the project file of one folder. YAML and JSON
 * only: a name that would have to be executed (.js, .ts, ...) is refused, never run.
 *
 * klv used cosmiconfig for this, and no longer does: its public factory first looks for its own
 * "meta config" in process.cwd() and loads `.config/config.js` from there by executing it, before
 * any option (loaders, searchPlaces, searchStrategy) applies (cosmiconfig 9.0.2 and 10.0.1:
 * getUserDefinedOptionsFromMetaConfig). Only its private Explorer class skipped that step. klv
 * walks the folders itself (config-files.ts), so all that was left to it is here: try a few names
 * in a folder, read package.json's "klaviyo" key, parse by extension, follow `$import`.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { isPlainObject } from './config-shape.js';
import { loadJsonConfig, loadYamlConfig, refuseCodeConfig } from './loaders.js';

/** A config file read: `config` is undefined when the file is empty (it holds no profiles). */
export interface ConfigFileRead {
  filepath: string;
  config: unknown;
  isEmpty: boolean;
}

/** The key of package.json that holds klv's config. */
const PACKAGE_PROP = 'klaviyo';

const CODE_EXTENSIONS = new Set(['.js', '.cjs', '.mjs', '.ts', '.cts', '.mts']);

/** Errors that mean "no such file here" while searching a folder. */
const NOT_HERE = new Set(['ENOENT', 'EISDIR', 'ENOTDIR', 'EACCES']);

function parse(filepath: string, content: string): unknown {
  const ext = extname(filepath).toLowerCase();
  if (CODE_EXTENSIONS.has(ext)) return refuseCodeConfig(filepath);
  // Anything else (.klaviyorc, --config klv.conf) is read as YAML, a superset of JSON.
  return ext === '.json' ? loadJsonConfig(filepath, content) : loadYamlConfig(filepath, content);
}

/**
 * Reads one file: null when it is a package.json without a "klaviyo" key. Errors of the file
 * itself come out as Node's (ENOENT, EACCES...) for the caller to word; those of a file it
 * imports, as ConfigErrors naming both.
 */
export async function readConfigFile(filepath: string): Promise<ConfigFileRead | null> {
  const config = await loadWithImports(resolve(filepath), []);
  if (config === null) return null;
  return { filepath: resolve(filepath), config, isEmpty: config === undefined };
}

/**
 * The first of `places` in `dir` that holds a config. Empty files, a package.json without the
 * key, and names that are missing, unreadable or folders are passed over.
 */
export async function searchFolder(dir: string, places: readonly string[]): Promise<ConfigFileRead | null> {
  for (const place of places) {
    const filepath = resolve(dir, place);
    try {
      const result = await readConfigFile(filepath);
      if (result && !result.isEmpty) return result;
    } catch (err) {
      if (NOT_HERE.has((err as NodeJS.ErrnoException).code ?? '')) continue;
      throw err;
    }
  }
  return null;
}

/** The file's config with its `$import`s merged in; undefined for an empty file, null for a package.json without the key. */
async function loadWithImports(filepath: string, importedBy: readonly string[]): Promise<unknown> {
  const content = await readFile(filepath, 'utf8');
  if (content.trim() === '') return undefined;
  let config = parse(filepath, content);
  if (basename(filepath, extname(filepath)) === 'package') config = isPlainObject(config) ? (config[PACKAGE_PROP] ?? null) : null;
  if (!isPlainObject(config) || !Object.hasOwn(config, '$import')) return config;

  const { $import: imports, ...own } = config;
  const chain = [...importedBy, filepath];
  const paths = (Array.isArray(imports) ? imports : [imports]).map((p) => {
    if (typeof p !== 'string' || p.trim() === '') {
      throw new ConfigError('$import must name a file, or a list of files', { file: filepath, hint: 'For example: $import: ./shared.yaml' });
    }
    const path = resolve(dirname(filepath), p);
    if (chain.includes(path)) {
      throw new ConfigError(`$import goes round in a circle: ${[...chain, path].join(' imports ')}`, { file: filepath, hint: 'Remove one of the imports.' });
    }
    return path;
  });
  const imported: unknown[] = [];
  for (const path of paths) imported.push(await importedFile(path, filepath, chain));
  return mergeAll([...imported, own]);
}

async function importedFile(path: string, importer: string, chain: readonly string[]): Promise<unknown> {
  try {
    return await loadWithImports(path, chain);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : (err as Error).message;
    throw new ConfigError(`Cannot read ${path}, named by $import: ${why}`, { file: importer, hint: 'Fix the path in $import, or remove it.' });
  }
}

/**
 * Later configs override earlier ones: mappings merge key by key, lists are joined, anything
 * else is replaced (cosmiconfig's `$import` semantics, which klv's files were written for).
 */
function mergeAll(configs: readonly unknown[]): Record<string, unknown> {
  const target: Record<string, unknown> = {};
  for (const c of configs) if (isPlainObject(c)) mergeInto(target, c);
  return target;
}

function mergeInto(target: Record<string, unknown>, source: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(source)) {
    if (key === '__proto__' || key === 'constructor') continue;
    const current = target[key];
    if (Array.isArray(current) && Array.isArray(value)) current.push(...(value as unknown[]));
    else if (isPlainObject(current) && isPlainObject(value)) mergeInto(current, value);
    else target[key] = value;
  }
  return target;
}
