/**
 * String literals as SQLite reads them. In SQLite a backslash is an ordinary character:
 * 'C:\temp' is those seven characters, and 'ends with \' ends at its second quote. node-sql-parser
 * reads MySQL's escapes in '...' even in its SQLite dialect (\t became a tab, \n a new line, \'
 * did not end the text), so an INSERT wrote other text than the one given, and a condition
 * compared with it.
 *
 * So before parsing, every backslash inside '...' is doubled (the parser keeps `\\` as it is), and
 * after parsing, the literals get their single backslashes back. The tree then holds each
 * literal's text as written between its quotes (doubled quotes included, undone by sqlLiteral),
 * which is also what the SQL handed to SQLite must say.
 */
import type { Edit, Token } from './sql-text.js';
import { isNode } from './sql-ast.js';

/** Doubles the backslashes inside single-quoted strings. */
export function backslashEdits(tokens: readonly Token[], sql: string): Edit[] {
  const edits: Edit[] = [];
  for (const t of tokens) {
    if (t.kind !== 'squote') continue;
    for (let i = sql.indexOf('\\', t.start); i !== -1 && i < t.end; i = sql.indexOf('\\', i + 1)) edits.push({ start: i, end: i + 1, text: '\\\\' });
  }
  return edits;
}

/** Literal node kinds written in single quotes ('text', DATE '...', N'...', X'...'). */
const SINGLE_QUOTED = new Set(['single_quote_string', 'string', 'natural_string', 'hex_string', 'full_hex_string', 'bit_string', 'date', 'datetime', 'time', 'timestamp']);

/** Undoes backslashEdits in the parsed tree, in place: each literal's text as written. */
export function restoreBackslashes(node: unknown): void {
  if (Array.isArray(node)) {
    for (const n of node) restoreBackslashes(n);
    return;
  }
  if (!isNode(node)) return;
  if (node.type !== undefined && SINGLE_QUOTED.has(node.type) && typeof node.value === 'string') node.value = node.value.replace(/\\\\/g, '\\');
  for (const v of Object.values(node)) if (v !== null && typeof v === 'object') restoreBackslashes(v);
}
