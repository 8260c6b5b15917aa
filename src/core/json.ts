/**
 * JSON values, as klv holds them once parsed: telling an object from the rest, and writing a value
 * the one way that does not depend on the order its keys came in. Pure functions.
 */

/**
 * Whether the value is an object with members: not null, not an array. (A Date or a Map passes
 * too: callers hold parsed JSON, YAML or coerced cells, where neither occurs as a member value.)
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface CanonicalJsonOptions {
  /**
   * Leave out object members whose value is null, for comparisons where a field Klaviyo reads
   * back as null and one a write left out are the same.
   */
  dropNulls?: boolean;
  /**
   * Lone surrogates in strings and keys as U+FFFD, as a database's UTF-8 stores them. Off by
   * default: JSON.stringify writes them as `\udxxx` escapes, and the text must stay as it was
   * (the events' unique ids hash it).
   */
  wellFormed?: boolean;
}

/**
 * JSON text with the members of every object sorted by key (by UTF-16 code units, as
 * Array.prototype.sort orders strings): the same value gives the same text whatever order its
 * keys were written in, so two values compare equal as text exactly when they are the same JSON.
 * Otherwise JSON.stringify's rules: no spaces, toJSON is honoured (a Date is its ISO text),
 * members whose value is undefined are left out, an undefined array item (or value) is `null`.
 *
 * The text decides ids stored in Klaviyo (events.ts derives unique ids from it): it must never
 * change for a value that JSON can hold; a golden test pins it.
 */
export function canonicalJson(value: unknown, options: CanonicalJsonOptions = {}): string {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(): unknown }).toJSON();
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item, options)).join(',')}]`;
  if (isPlainObject(value)) {
    const object = value;
    const keys = Object.keys(object)
      .filter((k) => object[k] !== undefined && !(options.dropNulls && object[k] === null))
      .sort();
    return `{${keys.map((k) => `${jsonString(k, options)}:${canonicalJson(object[k], options)}`).join(',')}}`;
  }
  if (typeof value === 'string') return jsonString(value, options);
  return JSON.stringify(value) ?? 'null';
}

function jsonString(text: string, options: CanonicalJsonOptions): string {
  const s = text as string & { toWellFormed?: () => string };
  return JSON.stringify(options.wellFormed && typeof s.toWellFormed === 'function' ? s.toWellFormed() : text);
}
