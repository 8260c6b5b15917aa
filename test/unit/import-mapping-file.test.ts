/**
 * Where --map and --set come from: mapping files (YAML, JSON, flat or under `columns`), pairs,
 * and every way they can be wrong, each a usage error that says what to write instead.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { loadMappingFile, parseMapPairs, parseSetPairs, resolveMapArgs } from '../../src/pipeline/import/mapping-file.js';
import { REPO_ROOT } from '../helpers/cli.js';

const fixture = (name: string) => resolve(REPO_ROOT, 'fixtures/import', name);
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'klv-mapping-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const plain = (r: Record<string, string>) => ({ ...r });

describe('loadMappingFile', () => {
  it('YAML, flat; an empty target ignores the header', () => {
    expect(plain(loadMappingFile(fixture('mapping.yaml')))).toEqual({ 'E-mail Address': 'Email', 'Given Name': 'FirstName', 'Internal Notes': '' });
  });

  it('JSON, under a "columns" key', () => {
    expect(plain(loadMappingFile(fixture('mapping.json')))).toEqual({ 'E-mail Address': 'Email', 'Given Name': 'FirstName' });
  });

  it('null targets ignore too; targets are trimmed', () => {
    expect(plain(loadMappingFile(file('n.yaml', 'Notes:\nMail: " Email "\n')))).toEqual({ Notes: '', Mail: 'Email' });
  });

  it('a header called "columns" mapped to a string is a plain entry', () => {
    expect(plain(loadMappingFile(file('c.yaml', 'columns: Name\n')))).toEqual({ columns: 'Name' });
  });

  it('headers like __proto__ and constructor are plain keys', () => {
    const m = loadMappingFile(file('p.json', '{"__proto__": "Email", "constructor": "FirstName"}'));
    expect(Object.keys(m)).toEqual(['__proto__', 'constructor']);
    expect(m.constructor).toBe('FirstName');
  });

  it.each([
    ['missing.yaml', null, /^Cannot read the mapping file .*missing\.yaml: no such file\.$/],
    ['bad.yaml', 'a: [1,\n', /^The mapping file .*bad\.yaml is not valid YAML or JSON: /],
    ['dup.yaml', 'a: Email\na: FirstName\n', /is not valid YAML or JSON: .*(?:unique|[Dd]uplicate)/],
    ['empty.yaml', '', /^The mapping file .*empty\.yaml is empty\.$/],
    ['list.yaml', '- Email\n- FirstName\n', /must hold an object of "CSV Header": Column pairs/],
    ['scalar.json', '"Email"', /must hold an object/],
    ['nested.yaml', 'Mail: { to: Email }\n', /"Mail" maps to \{"to":"Email"\}: the target must be a column name/],
    ['number.yaml', 'Mail: 3\n', /"Mail" maps to 3/],
    ['cols-list.yaml', 'columns:\n  - Email\n', /"columns" must be an object .* not a list/],
  ])('%s: a usage error', (name, text, message) => {
    const path = text === null ? join(dir, name) : file(name, text);
    expect(() => loadMappingFile(path)).toThrow(UsageError);
    expect(() => loadMappingFile(path)).toThrow(message);
  });
});

describe('parseMapPairs', () => {
  it('splits at the last "=": headers may hold one, columns never do', () => {
    expect(plain(parseMapPairs(['First Name=FirstName', 'a=b=Email', ' Notes = ']))).toEqual({ 'First Name': 'FirstName', 'a=b': 'Email', Notes: '' });
  });

  it('the same pair twice is fine; two targets for one header are not', () => {
    expect(plain(parseMapPairs(['Mail=Email', 'Mail=Email']))).toEqual({ Mail: 'Email' });
    expect(() => parseMapPairs(['Mail=Email', 'Mail=ExternalId'])).toThrow("--map gives the CSV header 'Mail' two columns: 'Email' and 'ExternalId'.");
  });

  it('usage errors', () => {
    expect(() => parseMapPairs(['Email'])).toThrow(`--map 'Email' is neither "CSV Header=Column" nor a mapping file.`);
    expect(() => parseMapPairs(['=Email'])).toThrow("--map '=Email' names no CSV header before the '='.");
  });
});

describe('parseSetPairs', () => {
  it('splits at the first "=": values may hold one, and are kept as written', () => {
    expect(plain(parseSetPairs(['Country=France', 'Properties={"a":"b=c"}', 'City= Paris ']))).toEqual({ Country: 'France', Properties: '{"a":"b=c"}', City: ' Paris ' });
  });

  it('usage errors', () => {
    expect(() => parseSetPairs(['Country'])).toThrow(`--set 'Country' is not "Column=value".`);
    expect(() => parseSetPairs(['=x'])).toThrow("--set '=x' names no column before the '='.");
    expect(() => parseSetPairs(['City=a', 'City=b'])).toThrow("--set gives the column 'City' twice.");
  });
});

describe('resolveMapArgs', () => {
  it('files and pairs together, relative to cwd; later ones win', () => {
    const m = resolveMapArgs(['mapping.yaml', 'Given Name=LastName', 'Extra=City'], resolve(REPO_ROOT, 'fixtures/import'));
    expect(plain(m)).toEqual({ 'E-mail Address': 'Email', 'Given Name': 'LastName', 'Internal Notes': '', Extra: 'City' });
  });

  it('a file whose name holds "=" is still a file', () => {
    const p = file('a=b.yaml', 'Mail: Email\n');
    expect(plain(resolveMapArgs([p]))).toEqual({ Mail: 'Email' });
  });
});
