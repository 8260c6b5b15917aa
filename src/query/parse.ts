/**
 * SQL text to a syntax tree, with node-sql-parser (SQLite dialect). A syntax error is a usage
 * error that shows the line of SQL with a caret under the position the parser stopped at, so the
 * user sees where, not only what.
 */
import { createRequire } from 'node:module';
import type { Parser } from 'node-sql-parser';
import { UsageError } from '../core/errors.js';
import { propertyReferenceEdits } from './properties.js';
import type { AST } from './sql-ast.js';
import { applyEdits, lineColumnAt, tokenize } from './sql-text.js';
import { backslashEdits, restoreBackslashes } from './string-literals.js';

let parser: Parser | undefined;

/** The parser, loaded on first use (it is large: commands other than query never pay for it). */
export function sqlParser(): Parser {
  if (!parser) {
    const require = createRequire(import.meta.url);
    const { Parser } = require('node-sql-parser') as typeof import('node-sql-parser');
    parser = new Parser();
  }
  return parser;
}

export const DIALECT = 'sqlite';

interface ParserError {
  message: string;
  location?: { start: { offset: number; line: number; column: number } };
  found?: string | null;
}

/** The SQL line holding the error and a caret under its column. */
export function caretAt(sql: string, line: number, column: number): string {
  const text = sql.split(/\r?\n/)[line - 1] ?? '';
  return `  ${text}\n  ${' '.repeat(Math.max(0, column - 1))}^`;
}

/** One statement (a trailing semicolon is fine); several are a usage error. */
export function parseSql(sql: string): AST {
  const text = sql.trim();
  if (text === '') throw new UsageError('The query is empty.', `Give the SQL as an argument, with -f FILE, or on standard input: klv query "SELECT * FROM Lists".`);
  // `Properties.tier` and `p.Properties.tier` become one quoted name the parser keeps whole, and
  // backslashes in '...' stay backslashes (string-literals.ts).
  const tokens = tokenize(text);
  const rewritten = applyEdits(text, [...propertyReferenceEdits(tokens), ...backslashEdits(tokens, text)]);
  let ast: AST | AST[];
  try {
    ast = sqlParser().astify(rewritten.sql, { database: DIALECT });
  } catch (err) {
    const e = err as ParserError;
    if (e.location?.start) {
      // Where the parser stopped, in the SQL as written (the rewrites added characters).
      const { line, column } = rewritten.rewrites === 0 ? e.location.start : lineColumnAt(text, rewritten.toOriginal(e.location.start.offset));
      const found = e.found === null ? 'the end of the query' : e.found !== undefined ? `'${e.found}'` : 'this';
      throw new UsageError(`SQL syntax error at line ${line}, column ${column}: unexpected ${found}.\n${caretAt(text, line, column)}`, 'Check the SQL near the caret. klv reads SQLite\'s dialect.');
    }
    throw new UsageError(`Cannot read the SQL: ${e.message}`, 'klv reads SQLite\'s dialect.');
  }
  restoreBackslashes(ast);
  const statements = Array.isArray(ast) ? ast.filter((s) => s) : [ast];
  if (statements.length !== 1) {
    throw new UsageError(`The query holds ${statements.length} statements; klv query runs one at a time.`, 'Run each statement with its own klv query.');
  }
  return statements[0]!;
}

/** The tree back to SQL for SQLite (after the analysis renamed objects and columns to their canonical names). */
export function toSql(ast: AST): string {
  return sqlParser().sqlify(ast, { database: DIALECT });
}

/** One expression back to SQL (for --explain's list of conditions SQLite checks). */
export function exprSql(node: unknown): string {
  return sqlParser().exprToSQL(node, { database: DIALECT });
}
