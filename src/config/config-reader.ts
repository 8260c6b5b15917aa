/**
 * Reading config files with cosmiconfig: one file by its path, or the project file of one
 * folder (config-files.ts walks the folders). YAML and JSON only: a name that would have to be
 * executed (.js, .ts, ...) is refused, never run.
 *
 * One trap, and how it is closed: cosmiconfig's public factory first looks for its own "meta
 * config" in process.cwd() and loads `.config/config.js` from there by executing it, before any
 * option (loaders, searchPlaces, searchStrategy) applies (cosmiconfig 9.0.2 and 10.0.1,
 * getUserDefinedOptionsFromMetaConfig; cspell dropped cosmiconfig over it, cspell#4719). A tool
 * holding API keys must not run code found in the folder it was started in. So the factory is
 * called, synchronously, from an empty folder klv has just made: its meta-config look-up finds
 * nothing there, and every later read names its folder or file explicitly.
 */
import { mkdtempSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cosmiconfig, type Loader, type PublicExplorer } from 'cosmiconfig';
import { ConfigError } from '../core/errors.js';
import { loadJsonConfig, loadYamlConfig, refuseCodeConfig } from './loaders.js';

/** A config file read: `config` is undefined when the file is empty (it holds no profiles). */
export interface ConfigFileRead {
  filepath: string;
  config: unknown;
  isEmpty: boolean;
}

/** The key of package.json that holds klv's config. */
const PACKAGE_PROP = 'klaviyo';

const refuse: Loader = (filepath) => refuseCodeConfig(filepath);
const yaml: Loader = (filepath, content) => loadYamlConfig(filepath, content);
const json: Loader = (filepath, content) => loadJsonConfig(filepath, content);

/**
 * An explorer for one folder's `places` (searchStrategy none: klv walks the folders itself).
 * Every extension a config could be executed from maps to a loader that refuses, so an
 * `$import` of a .js file, or `--config x.js`, fails instead of running it; anything else
 * (`--config klv.conf`) is read as YAML, a superset of JSON.
 */
function explorer(places: readonly string[]): PublicExplorer {
  const empty = mkdtempSync(join(tmpdir(), 'klv-config-'));
  const previous = process.cwd();
  process.chdir(empty);
  try {
    return cosmiconfig('klaviyo', {
      packageProp: PACKAGE_PROP,
      searchPlaces: [...places],
      searchStrategy: 'none',
      ignoreEmptySearchPlaces: true,
      cache: false,
      mergeImportArrays: true,
      loaders: {
        '.json': json,
        '.yaml': yaml,
        '.yml': yaml,
        noExt: yaml,
        '.js': refuse,
        '.cjs': refuse,
        '.mjs': refuse,
        '.ts': refuse,
        '.cts': refuse,
        '.mts': refuse,
        default: yaml,
      },
    });
  } finally {
    process.chdir(previous);
    rmdirSync(empty);
  }
}

/**
 * Reads one file: null when it is a package.json without a "klaviyo" key. Errors of the file
 * itself come out as Node's (ENOENT, EACCES...) for the caller to word; those of a file it
 * imports, as ConfigErrors naming both.
 */
export async function readConfigFile(filepath: string): Promise<ConfigFileRead | null> {
  const path = resolve(filepath);
  try {
    const result = await explorer([]).load(path);
    if (!result) return null;
    return { filepath: result.filepath, config: result.config, isEmpty: Boolean(result.isEmpty) };
  } catch (err) {
    throw importFailure(err, path) ?? err;
  }
}

/**
 * The first of `places` in `dir` that holds a config. Empty files, a package.json without the
 * key, and names that are missing, unreadable or folders are passed over; a file that is there
 * but cannot be read as a config is an error (a broken `$import` included), never passed over.
 */
export async function searchFolder(dir: string, places: readonly string[]): Promise<ConfigFileRead | null> {
  for (const place of places) {
    const filepath = resolve(dir, place);
    if (!isReadableFile(filepath)) continue;
    const result = await readConfigFile(filepath);
    if (result && !result.isEmpty && result.config !== undefined && result.config !== null) return result;
  }
  return null;
}

function isReadableFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** A failure in a file `$import`ed by `importer`, worded as such; undefined for the importer's own. */
function importFailure(err: unknown, importer: string): ConfigError | undefined {
  if (err instanceof ConfigError) return undefined;
  const message = err instanceof Error ? err.message : String(err);
  if (/Circular import detected/i.test(message) || /Key \$import must contain/.test(message)) {
    const circular = /Circular/i.test(message);
    return new ConfigError(circular ? '$import goes round in a circle' : '$import must name a file, or a list of files', {
      file: importer,
      hint: circular ? 'Remove one of the imports.' : 'For example: $import: ./shared.yaml',
    });
  }
  const e = err as NodeJS.ErrnoException & { path?: string };
  if (e.path && resolve(e.path) !== importer) {
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied' : e.code === 'EISDIR' ? 'it is a folder' : message;
    return new ConfigError(`Cannot read ${e.path}, named by $import: ${why}`, { file: importer, hint: 'Fix the path in $import, or remove it.' });
  }
  return undefined;
}
