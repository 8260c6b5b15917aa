/**
 * Finding and reading config files: a project file found by searching from the current folder
 * up (stopping at the home folder or the project root), then the user file
 * `$XDG_CONFIG_HOME/klv/config.yaml`; or exactly the file named by --config.
 *
 * Files are read by config-reader.ts: YAML and JSON only, never code (see there for why not
 * cosmiconfig).
 */
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { readConfigFile, searchFolder, type ConfigFileRead } from './config-reader.js';
import { readConfigShape, type ConfigFileData } from './config-shape.js';
import { userConfigPath } from './paths.js';

/** Project config files, in the order they are tried in each folder. */
export const PROJECT_SEARCH_PLACES = ['package.json', '.klaviyorc', '.klaviyorc.json', '.klaviyorc.yaml', '.klaviyorc.yml'];

/** Config names other tools would execute; klv ignores them and says so. */
const CODE_CONFIG_NAMES = [
  '.klaviyorc.js', '.klaviyorc.cjs', '.klaviyorc.mjs', '.klaviyorc.ts',
  'klaviyo.config.js', 'klaviyo.config.cjs', 'klaviyo.config.mjs', 'klaviyo.config.ts',
];

export type ConfigFileRole = 'explicit' | 'project' | 'user';

export interface LoadedConfigFile {
  path: string;
  role: ConfigFileRole;
  data: ConfigFileData;
  /** Permission bits (POSIX), to warn about keys in files others can read. */
  mode?: number;
}

export interface ConfigDiscovery {
  /** Highest precedence first: the explicit or project file, then the user file. */
  files: LoadedConfigFile[];
  /** The file named by --config, if any (then nothing else is read). */
  explicitPath?: string;
  /** Folders searched for a project file (when there was no --config). */
  searchedDirs: string[];
  /** The user file's path (read or not), when there was no --config. */
  userPath?: string;
  warnings: string[];
}

export async function discoverConfigFiles(o: {
  configPath?: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  homeDir: string;
  /** The user klv runs as (tests inject one); project files owned by anyone else are ignored. */
  uid?: number;
}): Promise<ConfigDiscovery> {
  const warnings: string[] = [];

  if (o.configPath !== undefined) {
    const path = resolve(o.cwd, o.configPath);
    const result = await loadFile(path, { mustExist: true, flag: '--config' });
    const files = result ? [await loaded(path, 'explicit', result.config)] : [];
    return { files, explicitPath: path, searchedDirs: [], warnings };
  }

  const files: LoadedConfigFile[] = [];
  const uid = o.uid ?? process.getuid?.();
  const project = await findProjectFile(resolve(o.cwd), resolve(o.homeDir), uid, warnings);
  if (project.result) files.push(await loaded(project.result.filepath, 'project', project.result.config));

  const userPath = userConfigPath(o.env, o.homeDir);
  // The project search may already have read the same file (cwd inside ~/.config/klv).
  if (!files.some((f) => f.path === userPath)) {
    const result = await loadFile(userPath, { mustExist: false });
    if (result) files.push(await loaded(userPath, 'user', result.config));
  }
  return { files, searchedDirs: project.searchedDirs, userPath, warnings };
}

/**
 * Searches `cwd` and its parents, stopping after the home folder, after a folder that holds a
 * package.json (the project root), or at the filesystem root.
 *
 * A file owned by another user (other than root) is skipped with a warning: the walk up can
 * reach shared folders such as /tmp, where anyone could leave a .klaviyorc whose baseUrl would
 * receive the user's key.
 */
async function findProjectFile(
  cwd: string,
  homeDir: string,
  uid: number | undefined,
  warnings: string[],
): Promise<{ result: ConfigFileRead | null; searchedDirs: string[] }> {
  const searchedDirs: string[] = [];
  let dir = cwd;
  for (;;) {
    searchedDirs.push(dir);
    await warnAboutCodeConfigs(dir, warnings);
    const result = await searchOne(dir);
    if (result && !result.isEmpty) {
      const owner = uid === undefined ? undefined : (await stat(result.filepath)).uid;
      if (owner === undefined || owner === uid || owner === 0) return { result, searchedDirs };
      warnings.push(
        `Ignoring ${result.filepath}: it belongs to another user (uid ${owner}), and a config file decides where your key is sent.`,
      );
    }
    if (dir === homeDir || (await exists(join(dir, 'package.json')))) break;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return { result: null, searchedDirs };
}

async function searchOne(dir: string): Promise<ConfigFileRead | null> {
  try {
    return await searchFolder(dir, PROJECT_SEARCH_PLACES);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`Cannot read the config: ${(err as Error).message}`, { file: dir });
  }
}

async function warnAboutCodeConfigs(dir: string, warnings: string[]): Promise<void> {
  for (const name of CODE_CONFIG_NAMES) {
    const path = join(dir, name);
    if (await exists(path)) {
      warnings.push(
        `Ignoring ${path}: klv never executes config code. Write the profiles to ${join(dir, '.klaviyorc.yaml')} instead.`,
      );
    }
  }
}

async function loadFile(path: string, o: { mustExist: boolean; flag?: string }): Promise<ConfigFileRead | null> {
  try {
    return await readConfigFile(path);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !o.mustExist) return null;
    if (code === 'ENOENT') {
      throw new ConfigError(`The config file named by ${o.flag} does not exist: ${path}`, {
        hint: `Check the path, or create it with: klv config init --path ${path}`,
      });
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new ConfigError('Cannot read the config file: permission denied', {
        file: path,
        hint: `Make it readable by you (chmod 600 ${path}), or point --config elsewhere.`,
      });
    }
    if (code === 'EISDIR') {
      throw new ConfigError('Expected a config file but found a folder', { file: path, hint: 'Name a file, e.g. config.yaml.' });
    }
    throw new ConfigError(`Cannot read the config file: ${(err as Error).message}`, { file: path });
  }
}

async function loaded(path: string, role: ConfigFileRole, config: unknown): Promise<LoadedConfigFile> {
  const data = readConfigShape(path, config);
  let mode: number | undefined;
  try {
    mode = (await stat(path)).mode & 0o777;
  } catch {
    mode = undefined;
  }
  return { path, role, data, mode };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
