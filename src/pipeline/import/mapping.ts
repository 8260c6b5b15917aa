/**
 * The mapping layer of `klv import`: which CSV column feeds which object column, the constants
 * given with --set, and the per-row step that turns a CSV record into the `ImportRow` a handler
 * receives (every cell coerced and validated, nothing sent for a row that fails).
 *
 * Header matching, in order:
 * 1. `--map "CSV Header=Column"` (or a mapping file): explicit, and an explicit target that is
 *    not a column, or that the operation does not take, is a usage error. `Header=` ignores it.
 * 2. The object's columns: case-insensitive, ignoring spaces, underscores, hyphens and dots
 *    (`first_name`, `First Name`, `FIRST-NAME` are FirstName), Klaviyo's attribute names
 *    (`location.city`, `$email`), `Properties.<name>` on objects with custom properties.
 *
 * A CSV written by `klv export`, or a previous import's success or error log, maps with no noise:
 * the log columns (Row, Status, ErrorCode, ErrorMessage, ChangedColumns) are skipped silently, so
 * is `Id` when the operation does not use it, and the other read-only columns (Created,
 * Updated...) are named once in a warning. Headers that are no column at all, or a column the
 * operation does not use, are warned about (an error with --strict).
 *
 * Everything that can be known from the header (missing required columns, bad --set values,
 * clashing headers) is a UsageError here, before the first row is read or any request is sent.
 */
import { UsageError } from '../../core/errors.js';
import { findColumn } from '../../objects/columns.js';
import { nearestNames, normalizeName } from '../../objects/names.js';
import type { ColumnDef, ObjectDefinition } from '../../objects/types.js';
import type { ImportOptions, ImportRow, OperationHandler, RowFailure } from '../../objects/write/types.js';
import { coerceCell } from './coerce.js';

export interface MappedColumn {
  /** The CSV header, exactly as in the file. */
  header: string;
  column: ColumnDef;
}

export interface MappedConstant {
  column: ColumnDef;
  /** Coerced once; the same value goes into every row. */
  value: unknown;
}

export type MapRowResult = { ok: true; row: ImportRow } | { ok: false; failure: RowFailure };

export interface Mapping {
  /** The CSV columns that feed object columns, in file order. */
  columns: MappedColumn[];
  /** --set constants. */
  constants: MappedConstant[];
  /** Headers that feed nothing and were warned about: no such column, or one the operation does not use. */
  unknownHeaders: string[];
  /** Headers skipped on purpose: log columns, read-only columns, `--map "Header="`. */
  ignoredHeaders: string[];
  /** For stderr, one sentence each. */
  warnings: string[];
  /** One CSV record to an ImportRow, or the reason it fails (the row is then never sent). */
  mapRow(cells: Record<string, string>, rowNumber: number): MapRowResult;
}

export interface BuildMappingOptions {
  /** CSV header -> column name; '' ignores the header (parseMapPairs, loadMappingFile, resolveMapArgs). */
  map?: Record<string, string>;
  /** Column name -> raw value, coerced like a cell (parseSetPairs). */
  set?: Record<string, string>;
  /** --null-value: the cell text that clears a field. */
  nullToken?: string;
  /** Unknown or unused headers are an error instead of a warning. */
  strict?: boolean;
  /** Handed to `handler.validateRow`. */
  importOptions?: ImportOptions;
}

/** Columns of klv's own success and error logs: a log fed back as input carries them. */
const LOG_COLUMNS = new Set(['row', 'status', 'errorcode', 'errormessage', 'changedcolumns']);

function flatRequired(handler: OperationHandler): string[] {
  return handler.requiredColumns.flatMap((r) => (typeof r === 'string' ? [r] : [...r]));
}

function describeRequirement(req: string | readonly string[]): string {
  if (typeof req === 'string') return req;
  if (req.length === 1) return req[0];
  return `one of ${req.slice(0, -1).join(', ')} or ${req[req.length - 1]}`;
}

function list(names: readonly string[]): string {
  return names.map((n) => `'${n}'`).join(', ');
}

function didYouMean(near: readonly string[]): string {
  return `Did you mean ${near.map((n) => `'${n}'`).join(' or ')}?`;
}

export function buildMapping(headers: string[], def: ObjectDefinition, handler: OperationHandler, opts: BuildMappingOptions = {}): Mapping {
  const what = `${def.name} ${handler.operation}`;
  const required = new Set(flatRequired(handler));
  const accepted = handler.acceptedColumns ? new Set(handler.acceptedColumns) : undefined;
  const accepts = (col: ColumnDef): boolean => {
    if (required.has(col.name)) return true;
    if (accepted) {
      if (accepted.has(col.name)) return true;
      return col.name.startsWith('Properties.') && (accepted.has('Properties') || accepted.has('Properties.*'));
    }
    return !col.readOnly;
  };
  const usable = def.columns.filter((c) => accepts(c)).map((c) => c.name);
  const takes = `${what} takes: ${usable.join(', ')}.`;

  // --map keys name CSV headers: exactly, or else ignoring case and surrounding spaces.
  const explicit = new Map<string, string>();
  const unmatchedMapKeys: string[] = [];
  for (const [key, target] of Object.entries(opts.map ?? {})) {
    const header = headers.includes(key) ? key : headers.find((h) => h.trim().toLowerCase() === key.trim().toLowerCase());
    if (header === undefined) unmatchedMapKeys.push(key);
    else explicit.set(header, target.trim());
  }

  const columns: MappedColumn[] = [];
  const unknown: string[] = [];
  const unused: string[] = [];
  const readOnlyIgnored: string[] = [];
  const ignoredHeaders: string[] = [];

  for (const header of headers) {
    const target = explicit.get(header);
    if (target !== undefined) {
      if (target === '') {
        ignoredHeaders.push(header);
        continue;
      }
      const col = findColumn(def, target);
      if (!col) {
        const near = nearestNames(target, def.columns.map((c) => c.name));
        throw new UsageError(
          `--map '${header}=${target}': ${def.name} has no column '${target}'.`,
          near.length > 0 ? `${didYouMean(near)} ${takes}` : `${takes} 'klv describe ${def.name}' lists them.`,
        );
      }
      if (!accepts(col)) {
        throw new UsageError(
          `--map '${header}=${target}': ${what} does not take ${col.name}${col.readOnly ? ' (read-only: Klaviyo sets it)' : ''}.`,
          takes,
        );
      }
      columns.push({ header, column: col });
      continue;
    }
    const col = findColumn(def, header);
    if (col && accepts(col)) columns.push({ header, column: col });
    else if (LOG_COLUMNS.has(normalizeName(header))) ignoredHeaders.push(header);
    else if (col && col.readOnly) {
      ignoredHeaders.push(header);
      // Id is in every export and many logs; naming it each time would only be noise.
      if (col.name !== 'Id') readOnlyIgnored.push(header);
    } else if (col) unused.push(header);
    else unknown.push(header);
  }

  // Two CSV columns for one field: which one wins would be a guess.
  const byColumn = new Map<string, string[]>();
  for (const m of columns) byColumn.set(m.column.name, [...(byColumn.get(m.column.name) ?? []), m.header]);
  const clashes = [...byColumn].filter(([, hs]) => hs.length > 1);
  if (clashes.length > 0) {
    throw new UsageError(
      `Several CSV columns feed the same ${def.name} column: ${clashes.map(([c, hs]) => `${list(hs)} are all ${c}`).join('; ')}.`,
      `Keep one, or ignore the others with --map "${clashes[0][1][1]}=" (an empty target ignores a CSV column).`,
    );
  }

  const nullOpts = { nullToken: opts.nullToken };
  const constants: MappedConstant[] = [];
  for (const [name, raw] of Object.entries(opts.set ?? {})) {
    const col = findColumn(def, name);
    if (!col) {
      const near = nearestNames(name, def.columns.map((c) => c.name));
      throw new UsageError(`--set ${name}=...: ${def.name} has no column '${name}'.`, near.length > 0 ? `${didYouMean(near)} ${takes}` : takes);
    }
    if (!accepts(col)) {
      throw new UsageError(`--set ${name}=...: ${what} does not take ${col.name}${col.readOnly ? ' (read-only: Klaviyo sets it)' : ''}.`, takes);
    }
    const fromFile = byColumn.get(col.name);
    if (fromFile) {
      throw new UsageError(
        `${col.name} comes both from the CSV column ${list(fromFile)} and from --set ${name}=...`,
        `Drop one of them; to override the file, ignore its column with --map "${fromFile[0]}=".`,
      );
    }
    if (constants.some((c) => c.column.name === col.name)) throw new UsageError(`--set gives ${col.name} twice.`);
    const r = coerceCell(raw, col, nullOpts);
    if (!r.ok) throw new UsageError(`--set ${name}=${raw}: ${col.name}: ${r.reason}.`);
    if (r.value === undefined) {
      throw new UsageError(
        `--set ${name}= gives ${col.name} no value.`,
        `To clear ${col.name} in every row, pick a null token: --null-value NULL --set ${col.name}=NULL.`,
      );
    }
    constants.push({ column: col, value: r.value });
  }

  const present = new Set([...columns.map((c) => c.column.name), ...constants.map((c) => c.column.name)]);
  const missing = handler.requiredColumns.filter((req) =>
    typeof req === 'string' ? !present.has(req) : !req.some((r) => present.has(r)),
  );
  if (missing.length > 0) {
    const first = typeof missing[0] === 'string' ? missing[0] : missing[0][0];
    throw new UsageError(
      `${what} needs ${missing.map(describeRequirement).join(' and ')}, and the file has no such column (its headers: ${headers.join(', ') || 'none'}).`,
      `Name a CSV column after it, map one with --map "CSV Header=${first}", or give one value for every row with --set ${first}=value.`,
    );
  }

  const warnings: string[] = [];
  const notUsed = headers.filter((h) => unknown.includes(h) || unused.includes(h));
  if (notUsed.length > 0) {
    const suggest = (h: string) => {
      const near = nearestNames(h, usable, 1);
      return near.length > 0 ? ` (did you mean ${near[0]}?)` : '';
    };
    const parts: string[] = [];
    if (unknown.length > 0) parts.push(`${def.name} has no column ${unknown.map((h) => `'${h}'${suggest(h)}`).join(', ')}`);
    if (unused.length > 0) parts.push(`${what} does not use ${list(unused)}`);
    if (opts.strict) {
      throw new UsageError(`${parts.join('; ')}.`, `Map them with --map "CSV Header=Column", ignore them with --map "CSV Header=", or drop --strict. ${takes}`);
    }
    warnings.push(`Ignoring CSV columns: ${parts.join('; ')}. Map them with --map "CSV Header=Column" (--strict makes this an error).`);
  }
  if (readOnlyIgnored.length > 0) {
    warnings.push(`Ignoring read-only columns (Klaviyo sets them): ${readOnlyIgnored.join(', ')}.`);
  }
  if (unmatchedMapKeys.length > 0) {
    warnings.push(`--map names ${list(unmatchedMapKeys)}, which ${unmatchedMapKeys.length === 1 ? 'is not a header' : 'are not headers'} of the file.`);
  }

  const importOptions = opts.importOptions ?? {};
  const requirements = handler.requiredColumns.map((r) => (typeof r === 'string' ? [r] : [...r]));
  const validateRow = handler.validateRow?.bind(handler);

  const mapRow = (cells: Record<string, string>, rowNumber: number): MapRowResult => {
    const values: Record<string, unknown> = {};
    for (const m of columns) {
      const r = coerceCell(cells[m.header] ?? '', m.column, nullOpts);
      if (!r.ok) return { ok: false, failure: { ok: false, rowNumber, code: 'invalid_value', message: `${m.column.name}: ${r.reason}` } };
      if (r.value !== undefined) values[m.column.name] = r.value;
    }
    for (const c of constants) {
      // A fresh copy per row: a handler may add to an object value (Properties) as it builds a payload.
      values[c.column.name] = c.value !== null && typeof c.value === 'object' ? structuredClone(c.value) : c.value;
    }
    for (const names of requirements) {
      if (!names.some((n) => values[n] !== undefined && values[n] !== null)) {
        const message =
          names.length === 1
            ? `${names[0]} is empty: ${what} needs it`
            : `${names.join(', ')} are all empty: ${what} needs at least one of them`;
        return { ok: false, failure: { ok: false, rowNumber, code: 'missing_value', message } };
      }
    }
    const row: ImportRow = { rowNumber, values };
    const refused = validateRow?.(row, importOptions);
    if (refused) return { ok: false, failure: refused };
    return { ok: true, row };
  };

  return { columns, constants, unknownHeaders: notUsed, ignoredHeaders, warnings, mapRow };
}
