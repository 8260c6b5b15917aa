/**
 * Where config files live and how paths written in them are read. Pure: the home folder and the
 * environment are passed in, so tests never touch the real ~/.config.
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** The user's home folder: the injected one, else $HOME, else what the OS says. */
export function homeDirFor(env: NodeJS.ProcessEnv, injected?: string): string {
  return injected ?? (env.HOME || homedir());
}

/** `$XDG_CONFIG_HOME/klv/config.yaml`, default `~/.config/klv/config.yaml`. */
export function userConfigPath(env: NodeJS.ProcessEnv, homeDir: string): string {
  const xdg = env.XDG_CONFIG_HOME;
  // The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const base = xdg && isAbsolute(xdg) ? xdg : join(homeDir, '.config');
  return join(base, 'klv', 'config.yaml');
}

/** `~` and `~/x` become paths in the home folder; anything else is returned unchanged. */
export function expandHome(path: string, homeDir: string): string {
  if (path === '~') return homeDir;
  if (path.startsWith('~/')) return join(homeDir, path.slice(2));
  return path;
}

/** A path as a user wrote it: `~` expanded, relative paths taken from `baseDir`. */
export function resolveUserPath(path: string, baseDir: string, homeDir: string): string {
  return resolve(baseDir, expandHome(path, homeDir));
}
