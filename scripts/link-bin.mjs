#!/usr/bin/env node
/**
 * Makes `npx klv ...` work inside a fresh clone right after `npm install`.
 * npm links the bins of dependencies into node_modules/.bin, but not the project's own bin,
 * so `npx klv` would otherwise look for a package named "klv" on the registry. Run from the
 * `prepare` script; harmless when klv is installed as a dependency elsewhere (it only touches
 * this package's own node_modules/.bin when that folder exists).
 */
import { existsSync, mkdirSync, symlinkSync, unlinkSync, lstatSync } from 'node:fs';
import { dirname, resolve, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const modules = resolve(root, 'node_modules');
if (existsSync(modules)) {
  const binDir = resolve(modules, '.bin');
  mkdirSync(binDir, { recursive: true });
  const link = resolve(binDir, 'klv');
  try {
    lstatSync(link);
    unlinkSync(link);
  } catch {
    // no previous link
  }
  symlinkSync(relative(binDir, resolve(root, 'bin/klv.js')), link);
}
