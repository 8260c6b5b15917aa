/**
 * Custom properties (`Properties.<name>` columns) in klv query's SQL.
 *
 * `klv export --properties tier` names the column `Properties.tier`; SQL must be able to name it
 * the same way. node-sql-parser cannot: `Properties.tier` reads as table.column, `p.Properties.tier`
 * is a syntax error, and in its SQLite dialect `"Properties.tier"` is a string literal. So before
 * parsing, `Properties.<name>` (also `Properties."first name"`, `` Properties.`first name` ``,
 * nested `Properties.address.city`, and after a qualifier: `p.Properties.tier`) is rewritten into
 * the one quoted identifier the parser keeps whole: `` `Properties.tier` ``. The analysis then
 * resolves it like any column (findColumn knows `Properties.<name>`), and the engine asks
 * Klaviyo for it as `--properties` does. Only names outside string literals, comments and quoted
 * identifiers are touched, and nothing when the statement declares `Properties` itself as an
 * alias (then `Properties.Email` means that alias's column, as SQL says).
 *
 * The rewrite adds characters (two backquotes per reference); `toOriginal` maps an offset in the
 * rewritten text back, so a syntax error's caret points into the SQL the user wrote.
 */
import { UsageError } from '../core/errors.js';
import type { ObjectDefinition } from '../objects/types.js';

const PROPERTY_COLUMN = /^properties\.(.+)$/is;

/** Whether a column name is a custom property column (`Properties.tier`, any case of `Properties`). */
export function isPropertyColumnName(name: string): boolean {
  return PROPERTY_COLUMN.test(name.trim());
}

export function hasPropertiesColumn(def: ObjectDefinition): boolean {
  return def.columns.some((c) => c.name === 'Properties');
}

/** `Properties.x` named on an object without custom properties: say so, and what it has instead. */
export function noPropertiesError(def: ObjectDefinition, name: string, context?: string): UsageError {
  return new UsageError(
    `${context ? `${context}: ` : ''}${def.name} has no custom properties, so there is no column '${name}'.`,
    `${def.name}'s columns: ${def.columns.map((c) => c.name).join(', ')}. Custom properties are on Profiles and Events ('klv describe ${def.name}').`,
  );
}

type TokenKind = 'word' | 'dquote' | 'bquote' | 'squote' | 'bracket' | 'dot' | 'other' | 'space';

interface Token {
  kind: TokenKind;
  start: number;
  end: number;
  /** The name a quoted identifier or word stands for (quotes removed, doubled quotes undone). */
  value: string;
}

const WORD_START = /[\p{L}_$]/u;
const WORD_PART = /[\p{L}\p{N}_$]/u;

/** Splits SQL into the few token kinds the rewrite needs. Unterminated quotes run to the end (the parser reports them). */
function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const quoted = (kind: TokenKind, close: string) => {
    const start = i;
    let value = '';
    i += 1;
    while (i < sql.length) {
      if (sql[i] === close) {
        if (close !== ']' && sql[i + 1] === close) {
          value += close;
          i += 2;
          continue;
        }
        i += 1;
        tokens.push({ kind, start, end: i, value });
        return;
      }
      value += sql[i];
      i += 1;
    }
    tokens.push({ kind, start, end: i, value });
  };
  while (i < sql.length) {
    const ch = sql[i];
    if (/\s/.test(ch)) {
      const start = i;
      while (i < sql.length && /\s/.test(sql[i])) i += 1;
      tokens.push({ kind: 'space', start, end: i, value: '' });
    } else if (ch === '-' && sql[i + 1] === '-') {
      const start = i;
      while (i < sql.length && sql[i] !== '\n') i += 1;
      tokens.push({ kind: 'space', start, end: i, value: '' });
    } else if (ch === '/' && sql[i + 1] === '*') {
      const start = i;
      const close = sql.indexOf('*/', i + 2);
      i = close === -1 ? sql.length : close + 2;
      tokens.push({ kind: 'space', start, end: i, value: '' });
    } else if (ch === "'") quoted('squote', "'");
    else if (ch === '"') quoted('dquote', '"');
    else if (ch === '`') quoted('bquote', '`');
    else if (ch === '[') quoted('bracket', ']');
    else if (ch === '.') {
      tokens.push({ kind: 'dot', start: i, end: i + 1, value: '.' });
      i += 1;
    } else if (WORD_START.test(ch)) {
      const start = i;
      while (i < sql.length && WORD_PART.test(sql[i])) i += 1;
      tokens.push({ kind: 'word', start, end: i, value: sql.slice(start, i) });
    } else {
      // Numbers and operators: a digit run stays one token so `1.5` never looks like a name.
      const start = i;
      if (/[0-9]/.test(ch)) while (i < sql.length && /[0-9A-Za-z_]/.test(sql[i])) i += 1;
      else i += 1;
      tokens.push({ kind: 'other', start, end: i, value: sql.slice(start, i) });
    }
  }
  return tokens;
}

const isProperties = (t: Token | undefined) => t?.kind === 'word' && t.value.toLowerCase() === 'properties';
const isWord = (t: Token | undefined, word: string) => t?.kind === 'word' && t.value.toLowerCase() === word;

/**
 * Whether the statement makes `Properties` an alias or a name of its own (`FROM Profiles AS
 * Properties`, `FROM Profiles Properties`, `(...) Properties`): then `Properties.x` is that
 * alias's column and is left as written.
 */
function declaresPropertiesAlias(tokens: Token[]): boolean {
  for (let k = 0; k < tokens.length; k++) {
    if (!isProperties(tokens[k]) || tokens[k + 1]?.kind === 'dot') continue;
    const prev = tokens[k - 1];
    if (isWord(prev, 'as') || prev?.value === ')') return true;
    if (prev?.kind === 'word' && (isWord(tokens[k - 2], 'from') || isWord(tokens[k - 2], 'join') || isWord(tokens[k - 2], 'update') || isWord(tokens[k - 2], 'into'))) return true;
  }
  return false;
}

export interface RewrittenSql {
  sql: string;
  /** The offset in the original SQL that an offset in the rewritten one came from. */
  toOriginal(offset: number): number;
  /** How many property references were rewritten. */
  rewrites: number;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** `Properties.tier` -> `` `Properties.tier` `` wherever it names a custom property column. */
export function rewritePropertyReferences(sql: string): RewrittenSql {
  // Whitespace and comments between the parts of a name are allowed by SQL (`Properties . tier`).
  const all = tokenize(sql);
  const tokens = all.filter((t) => t.kind !== 'space');
  const aliasDeclared = declaresPropertiesAlias(tokens);
  const edits: Edit[] = [];
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (!isProperties(t) || tokens[k + 1]?.kind !== 'dot') continue;
    const qualified = tokens[k - 1]?.kind === 'dot';
    if (!qualified && aliasDeclared) continue;
    // The property's name: one word or quoted identifier, then more `.part`s for nested values.
    const parts: string[] = [];
    let j = k + 1;
    while (tokens[j]?.kind === 'dot') {
      const part = tokens[j + 1];
      if (!part || !(part.kind === 'word' || part.kind === 'dquote' || part.kind === 'bquote' || part.kind === 'bracket')) break;
      parts.push(part.value);
      j += 2;
    }
    if (parts.length === 0) continue;
    const name = `Properties.${parts.join('.')}`;
    // A backquote cannot be escaped inside node-sql-parser's backquoted names: leave it to its error.
    if (name.includes('`')) continue;
    edits.push({ start: t.start, end: tokens[j - 1].end, text: `\`${name}\`` });
    k = j - 1;
  }
  if (edits.length === 0) return { sql, toOriginal: (o) => o, rewrites: 0 };
  let out = '';
  let at = 0;
  const shifts: Array<{ newStart: number; newEnd: number; start: number; end: number }> = [];
  for (const e of edits) {
    out += sql.slice(at, e.start);
    const newStart = out.length;
    out += e.text;
    shifts.push({ newStart, newEnd: out.length, start: e.start, end: e.end });
    at = e.end;
  }
  out += sql.slice(at);
  const toOriginal = (offset: number): number => {
    let delta = 0;
    for (const s of shifts) {
      if (offset < s.newStart) break;
      if (offset < s.newEnd) return s.start + Math.min(offset - s.newStart, s.end - s.start);
      delta = s.newEnd - s.end;
    }
    return offset - delta;
  };
  return { sql: out, toOriginal, rewrites: edits.length };
}

/** Line and column (1-based) of an offset in a text. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}
