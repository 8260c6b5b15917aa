/**
 * SQL text before node-sql-parser reads it: split into the few token kinds klv's rewrites need
 * (properties.ts: `Properties.tier` as one name; string-literals.ts: backslashes as SQLite reads
 * them), the rewrites applied, and every offset in the rewritten text mapped back to the SQL the
 * user wrote, so that a syntax error's caret points at the right place.
 */

export type TokenKind = 'word' | 'dquote' | 'bquote' | 'squote' | 'bracket' | 'dot' | 'other' | 'space';

export interface Token {
  kind: TokenKind;
  start: number;
  end: number;
  /** The name a quoted identifier or word stands for (quotes removed, doubled quotes undone). */
  value: string;
}

const WORD_START = /[\p{L}_$]/u;
const WORD_PART = /[\p{L}\p{N}_$]/u;

/** Splits SQL into the few token kinds the rewrite needs. Unterminated quotes run to the end (the parser reports them). */
export function tokenize(sql: string): Token[] {
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

export interface RewrittenSql {
  sql: string;
  /** The offset in the original SQL that an offset in the rewritten one came from. */
  toOriginal(offset: number): number;
  /** How many edits were made. */
  rewrites: number;
}

export interface Edit {
  start: number;
  end: number;
  text: string;
}

/** The edits applied (in order of position, none overlapping), with the way back to the original offsets. */
export function applyEdits(sql: string, unsorted: readonly Edit[]): RewrittenSql {
  const edits = [...unsorted].sort((a, b) => a.start - b.start);
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
