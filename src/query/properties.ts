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
 * The rewrite adds characters (two backquotes per reference); sql-text.ts maps an offset in the
 * rewritten text back, so a syntax error's caret points into the SQL the user wrote.
 */
import { UsageError } from '../core/errors.js';
import type { ObjectDefinition } from '../objects/types.js';
import { applyEdits, tokenize, type Edit, type RewrittenSql, type Token } from './sql-text.js';

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

/** The edits that turn `Properties.tier` into `` `Properties.tier` `` wherever it names a custom property column. */
export function propertyReferenceEdits(all: readonly Token[]): Edit[] {
  // Whitespace and comments between the parts of a name are allowed by SQL (`Properties . tier`).
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
  return edits;
}

/** `Properties.tier` -> `` `Properties.tier` `` (the statement as the parser gets it; see above). */
export function rewritePropertyReferences(sql: string): RewrittenSql {
  return applyEdits(sql, propertyReferenceEdits(tokenize(sql)));
}
