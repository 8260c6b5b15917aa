/**
 * Where `--map` and `--set` come from: a mapping file (YAML or JSON) and `"CSV Header=Column"`
 * pairs for --map, `Column=value` pairs for --set. Each gives a plain record the mapping layer
 * (mapping.ts) resolves against the object's columns; nothing here knows about objects.
 *
 * A mapping file is either flat or has a `columns` key:
 *
 *   First Name: FirstName           columns:
 *   E-mail: Email                     First Name: FirstName
 *   Notes: ""        # ignored         E-mail: Email
 *
 * An empty target (or null) means "ignore this CSV column".
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../../core/errors.js';

/** CSV header -> column name ('' = ignore the header). */
export type MapPairs = Record<string, string>;

/**
 * The records returned have no prototype: CSV headers are user text, and a header called
 * `constructor` or `__proto__` must be a plain key, not something inherited.
 */
function record(): Record<string, string> {
  return Object.create(null) as Record<string, string>;
}

export function loadMappingFile(path: string): MapPairs {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UsageError(
      `Cannot read the mapping file ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}.`,
      `--map takes a YAML or JSON file ({ "CSV Header": "Column" }) or a pair: --map "CSV Header=Column".`,
    );
  }
  let doc: unknown;
  try {
    // YAML 1.2 reads JSON too, so one parser serves both; its errors name the line.
    doc = parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    throw new UsageError(`The mapping file ${path} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) {
    throw new UsageError(`The mapping file ${path} is empty.`, 'Write one line per CSV column: "CSV Header": Column.');
  }
  const shapeHint = 'A mapping file maps CSV headers to columns: { "First Name": "FirstName" }, or the same under a "columns" key.';
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new UsageError(`The mapping file ${path} must hold an object of "CSV Header": Column pairs.`, shapeHint);
  }
  let entries = doc as Record<string, unknown>;
  const keys = Object.keys(entries);
  if (keys.length === 1 && keys[0] === 'columns' && entries.columns !== null && typeof entries.columns === 'object') {
    if (Array.isArray(entries.columns)) {
      throw new UsageError(`In the mapping file ${path}, "columns" must be an object of "CSV Header": Column pairs, not a list.`, shapeHint);
    }
    entries = entries.columns as Record<string, unknown>;
  }
  const out: MapPairs = record();
  for (const [header, target] of Object.entries(entries)) {
    if (target === null || target === undefined) out[header] = '';
    else if (typeof target === 'string') out[header] = target.trim();
    else {
      throw new UsageError(
        `In the mapping file ${path}, "${header}" maps to ${JSON.stringify(target)}: the target must be a column name.`,
        shapeHint,
      );
    }
  }
  return out;
}

/**
 * `["CSV Header=Column", ...]`. The LAST `=` splits, because column names never contain one and
 * CSV headers may. `"Notes="` ignores the header Notes.
 */
export function parseMapPairs(pairs: readonly string[]): MapPairs {
  const out: MapPairs = record();
  for (const pair of pairs) {
    const eq = pair.lastIndexOf('=');
    if (eq < 0) throw new UsageError(`--map '${pair}' is neither "CSV Header=Column" nor a mapping file.`, `E.g. --map "First Name=FirstName" or --map mapping.yaml.`);
    const header = pair.slice(0, eq).trim();
    const column = pair.slice(eq + 1).trim();
    if (header === '') throw new UsageError(`--map '${pair}' names no CSV header before the '='.`, `E.g. --map "First Name=FirstName".`);
    if (Object.hasOwn(out, header) && out[header] !== column) {
      throw new UsageError(`--map gives the CSV header '${header}' two columns: '${out[header]}' and '${column}'.`);
    }
    out[header] = column;
  }
  return out;
}

/** `["Column=value", ...]`. The FIRST `=` splits: values may contain one. */
export function parseSetPairs(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = record();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 0) throw new UsageError(`--set '${pair}' is not "Column=value".`, `E.g. --set Country=France.`);
    const column = pair.slice(0, eq).trim();
    if (column === '') throw new UsageError(`--set '${pair}' names no column before the '='.`, `E.g. --set Country=France.`);
    if (Object.hasOwn(out, column)) throw new UsageError(`--set gives the column '${column}' twice.`);
    out[column] = pair.slice(eq + 1);
  }
  return out;
}

/**
 * Every `--map` argument together: a file when the argument names an existing file (or has no
 * `=`), a pair otherwise. Later arguments win over earlier ones, so a pair can correct one line
 * of a shared mapping file.
 */
export function resolveMapArgs(args: readonly string[], cwd = process.cwd()): MapPairs {
  const out: MapPairs = record();
  for (const arg of args) {
    const path = resolve(cwd, arg);
    const isFile = !arg.includes('=') || (existsSync(path) && statSync(path).isFile());
    Object.assign(out, isFile ? loadMappingFile(path) : parseMapPairs([arg]));
  }
  return out;
}
