/**
 * Parser for Klaviyo's `filter` query parameter:
 *
 *   filter     := expression (',' expression)*          top-level commas mean AND
 *   expression := name '(' argument (',' argument)* ')'
 *   argument   := expression | field | value
 *   value      := 'text' | "text" | number | true | false | null | datetime | '[' value,* ']'
 *
 * Datetimes are unquoted ISO 8601 (`greater-than(updated,2024-01-01T00:00:00Z)`): that is what
 * Klaviyo accepts, and a quoted datetime is a string. The parser knows the syntax only; which
 * fields and operators an endpoint allows is checked by filter-validator.ts.
 */

export interface DatetimeValue {
  kind: 'datetime';
  /** As written in the filter. */
  text: string;
  /** Milliseconds since the epoch (UTC when the text has no offset). */
  ms: number;
}

export type FilterScalar = string | number | boolean | null | DatetimeValue;
export type FilterValue = FilterScalar | FilterScalar[];

/** `equals(email,'a@b.c')`, `has(profile)`: an operator applied to a field. */
export interface ConditionNode {
  kind: 'condition';
  operator: string;
  field: string;
  /** Absent for `has(field)`. */
  value?: FilterValue;
  /** Offset of the expression in the filter text, for error messages. */
  position: number;
}

export interface CombinatorNode {
  kind: 'and' | 'or' | 'not';
  operands: FilterNode[];
  position: number;
}

export type FilterNode = ConditionNode | CombinatorNode;

export class FilterSyntaxError extends Error {
  readonly position: number;
  constructor(message: string, position: number, text: string) {
    super(`${message} at position ${position} of filter '${text}'`);
    this.name = 'FilterSyntaxError';
    this.position = position;
  }
}

const COMBINATORS = new Set(['and', 'or', 'not']);
const NAME = /[A-Za-z_$][A-Za-z0-9_$.\-]*/y;
const DATETIME = /\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?/y;
const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Parses a whole filter; a top-level comma list becomes one `and` node. */
export function parseFilter(text: string): FilterNode {
  const parser = new Parser(text);
  const expressions = [parser.expression()];
  parser.skipSpaces();
  while (parser.peek() === ',') {
    parser.pos++;
    expressions.push(parser.expression());
    parser.skipSpaces();
  }
  if (!parser.atEnd()) parser.fail(`unexpected '${parser.peek()}'`);
  return expressions.length === 1 ? expressions[0] : { kind: 'and', operands: expressions, position: 0 };
}

class Parser {
  pos = 0;
  constructor(readonly text: string) {}

  fail(message: string, position = this.pos): never {
    throw new FilterSyntaxError(message, position, this.text);
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text[this.pos] ?? '';
  }

  skipSpaces(): void {
    while (this.text[this.pos] === ' ') this.pos++;
  }

  expect(ch: string): void {
    this.skipSpaces();
    if (this.peek() !== ch) this.fail(this.atEnd() ? `expected '${ch}' but the filter ended` : `expected '${ch}' but found '${this.peek()}'`);
    this.pos++;
  }

  name(): string {
    this.skipSpaces();
    NAME.lastIndex = this.pos;
    const m = NAME.exec(this.text);
    if (!m) this.fail(this.atEnd() ? 'expected a name but the filter ended' : `expected a name but found '${this.peek()}'`);
    this.pos += m[0].length;
    return m[0];
  }

  expression(): FilterNode {
    this.skipSpaces();
    const position = this.pos;
    const operator = this.name();
    this.skipSpaces();
    if (this.peek() !== '(') this.fail(`expected '(' after '${operator}'`);
    this.pos++;
    if (COMBINATORS.has(operator)) {
      const operands = [this.expression()];
      this.skipSpaces();
      while (this.peek() === ',') {
        this.pos++;
        operands.push(this.expression());
        this.skipSpaces();
      }
      this.expect(')');
      return { kind: operator as CombinatorNode['kind'], operands, position };
    }
    const field = this.name();
    this.skipSpaces();
    if (this.peek() === ')') {
      this.pos++;
      return { kind: 'condition', operator, field, position };
    }
    this.expect(',');
    const value = this.value(true);
    this.expect(')');
    return { kind: 'condition', operator, field, value, position };
  }

  value(listAllowed: boolean): FilterValue {
    this.skipSpaces();
    const ch = this.peek();
    if (ch === "'" || ch === '"') return this.quoted(ch);
    if (ch === '[') {
      if (!listAllowed) this.fail('lists cannot be nested');
      this.pos++;
      const items: FilterScalar[] = [];
      this.skipSpaces();
      if (this.peek() === ']') {
        this.pos++;
        return items;
      }
      for (;;) {
        items.push(this.value(false) as FilterScalar);
        this.skipSpaces();
        if (this.peek() === ',') {
          this.pos++;
          continue;
        }
        this.expect(']');
        return items;
      }
    }
    DATETIME.lastIndex = this.pos;
    const dt = DATETIME.exec(this.text);
    if (dt) {
      const start = this.pos;
      this.pos += dt[0].length;
      const ms = Date.parse(zonedForDateParse(dt[0]));
      if (Number.isNaN(ms)) this.fail(`'${dt[0]}' is not a valid datetime`, start);
      return { kind: 'datetime', text: dt[0], ms };
    }
    NUMBER.lastIndex = this.pos;
    const num = NUMBER.exec(this.text);
    if (num) {
      this.pos += num[0].length;
      return Number(num[0]);
    }
    const start = this.pos;
    const word = /[A-Za-z_][A-Za-z0-9_]*/y;
    word.lastIndex = this.pos;
    const w = word.exec(this.text);
    if (w) {
      this.pos += w[0].length;
      if (w[0] === 'true') return true;
      if (w[0] === 'false') return false;
      if (w[0] === 'null') return null;
      this.fail(`'${w[0]}' is not a value: quote strings ('${w[0]}')`, start);
    }
    this.fail(this.atEnd() ? 'expected a value but the filter ended' : `expected a value but found '${ch}'`);
  }

  quoted(quote: string): string {
    const start = this.pos;
    this.pos++;
    let out = '';
    while (!this.atEnd()) {
      const ch = this.text[this.pos++];
      if (ch === quote) return out;
      if (ch === '\\') {
        if (this.atEnd()) break;
        const esc = this.text[this.pos++];
        out += esc === 'n' ? '\n' : esc === 't' ? '\t' : esc === 'r' ? '\r' : esc;
        continue;
      }
      out += ch;
    }
    this.fail(`unterminated string starting`, start);
  }
}

/** Renders a value the way it would be written in a filter (for error messages). */
export function formatFilterValue(value: FilterValue | undefined): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return `[${value.map((v) => formatFilterValue(v)).join(',')}]`;
  if (value === null) return 'null';
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (typeof value === 'object') return value.text;
  return String(value);
}

/** Date.parse wants `+05:00`, not `+0500`, and reads an offset-less time as local: make it UTC. */
function zonedForDateParse(text: string): string {
  if (!text.includes('T')) return text;
  const withColon = text.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  return /(Z|[+-]\d{2}:\d{2})$/.test(withColon) ? withColon : `${withColon}Z`;
}
