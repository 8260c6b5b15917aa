/**
 * buildMapping and mapRow: header matching (case, spaces, underscores, hyphens, Klaviyo names,
 * Properties.<name>), --map, --set, --null-value, unknown and read-only headers, required
 * columns, and a CSV written by `klv export profiles` (or a previous import's log) re-imported
 * with no noise. Handlers are fakes: only their declared columns and validateRow matter here.
 */
import { describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-code.js';
import { PROFILE_COLUMNS, Profiles } from '../../src/objects/catalog/profiles.js';
import { Lists } from '../../src/objects/catalog/lists.js';
import type { ObjectDefinition } from '../../src/objects/types.js';
import type { ImportOptions, ImportRow, OperationHandler, RowFailure } from '../../src/objects/write/types.js';
import { buildMapping, type BuildMappingOptions, type Mapping } from '../../src/pipeline/import/mapping.js';

const WRITABLE_PROFILE = PROFILE_COLUMNS.filter((c) => !c.readOnly).map((c) => c.name);

function fakeHandler(over: Partial<OperationHandler> = {}): OperationHandler {
  return {
    operation: 'upsert',
    description: 'test handler',
    requiredColumns: [['Email', 'PhoneNumber', 'ExternalId']],
    acceptedColumns: ['Id', ...WRITABLE_PROFILE],
    maxBatchSize: 100,
    idempotent: true,
    processBatch: async () => [],
    ...over,
  };
}

const map = (headers: string[], opts: BuildMappingOptions = {}, handler = fakeHandler(), def: ObjectDefinition = Profiles) =>
  buildMapping(headers, def, handler, opts);
const pairs = (m: Mapping) => m.columns.map((c) => [c.header, c.column.name]);
const usage = (fn: () => unknown): UsageError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(ExitCode.Usage);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
};
const row = (m: Mapping, cells: Record<string, string>, n = 1) => {
  const r = m.mapRow(cells, n);
  if (!r.ok) throw new Error(`row failed: ${r.failure.message}`);
  return r.row.values;
};
const failure = (m: Mapping, cells: Record<string, string>, n = 1): RowFailure => {
  const r = m.mapRow(cells, n);
  if (r.ok) throw new Error(`expected a failure, got ${JSON.stringify(r.row.values)}`);
  return r.failure;
};

describe('header matching', () => {
  it.each(['first_name', 'First Name', 'FIRST-NAME', 'FirstName', 'firstname', ' first name '])('%j is FirstName', (header) => {
    expect(pairs(map(['Email', header]))).toEqual([
      ['Email', 'Email'],
      [header, 'FirstName'],
    ]);
  });

  it("Klaviyo's attribute names are accepted", () => {
    const m = map(['$email', 'phone_number', 'external_id', 'location.city', 'zip', 'last_name']);
    expect(pairs(m)).toEqual([
      ['$email', 'Email'],
      ['phone_number', 'PhoneNumber'],
      ['external_id', 'ExternalId'],
      ['location.city', 'City'],
      ['zip', 'Zip'],
      ['last_name', 'LastName'],
    ]);
    expect(m.warnings).toEqual([]);
  });

  it('Properties.<name> is one custom property, its name kept as written', () => {
    const m = map(['Email', 'Properties.tier', 'properties.Shoe Size']);
    expect(pairs(m)).toEqual([
      ['Email', 'Email'],
      ['Properties.tier', 'Properties.tier'],
      ['properties.Shoe Size', 'Properties.Shoe Size'],
    ]);
    expect(row(m, { Email: 'a@example.com', 'Properties.tier': 'gold', 'properties.Shoe Size': '42' })).toEqual({
      Email: 'a@example.com',
      'Properties.tier': 'gold',
      'Properties.Shoe Size': 42,
    });
  });

  it('Properties.<name> needs the operation to take Properties', () => {
    const m = map(['Email', 'Properties.tier'], {}, fakeHandler({ acceptedColumns: ['Email'] }));
    expect(m.unknownHeaders).toEqual(['Properties.tier']);
  });

  it('two CSV columns for one column is a usage error naming both', () => {
    const err = usage(() => map(['Email', 'email', 'First Name', 'first_name']));
    expect(err.message).toBe("Several CSV columns feed the same Profiles column: 'Email', 'email' are all Email; 'First Name', 'first_name' are all FirstName.");
    expect(err.hint).toContain('--map "email="');
  });
});

describe('--map', () => {
  it('maps a header explicitly, before the automatic matching', () => {
    const m = map(['E-mail Address', 'Given Name', 'City'], { map: { 'E-mail Address': 'Email', 'Given Name': 'first_name', City: 'Region' } });
    expect(pairs(m)).toEqual([
      ['E-mail Address', 'Email'],
      ['Given Name', 'FirstName'],
      ['City', 'Region'],
    ]);
  });

  it('finds the header ignoring case and surrounding spaces', () => {
    expect(pairs(map(['E-MAIL ADDRESS'], { map: { ' e-mail address': 'Email' } }))).toEqual([['E-MAIL ADDRESS', 'Email']]);
  });

  it('an empty target ignores the header, silently', () => {
    const m = map(['Email', 'Notes'], { map: { Notes: '' } });
    expect(pairs(m)).toEqual([['Email', 'Email']]);
    expect(m.ignoredHeaders).toEqual(['Notes']);
    expect(m.warnings).toEqual([]);
  });

  it('a target that is no column is a usage error with a suggestion', () => {
    const err = usage(() => map(['Mail', 'Nom'], { map: { Mail: 'Email', Nom: 'FristName' } }));
    expect(err.message).toBe("--map 'Nom=FristName': Profiles has no column 'FristName'.");
    expect(err.hint).toMatch(/^Did you mean 'FirstName' or 'LastName'\? Profiles upsert takes: Id, Email/);
  });

  it('a target the operation does not take is a usage error', () => {
    const err = usage(() => map(['Email', 'When'], { map: { When: 'Created' } }));
    expect(err.message).toBe("--map 'When=Created': Profiles upsert does not take Created (read-only: Klaviyo sets it).");
    expect(err.hint).toMatch(/^Profiles upsert takes: Id, Email, PhoneNumber/);
  });

  it('a --map key that is no header is warned about', () => {
    const m = map(['Email'], { map: { 'Given Name': 'FirstName' } });
    expect(m.warnings).toEqual(["--map names 'Given Name', which is not a header of the file."]);
  });
});

describe('--set constants', () => {
  it('are coerced once and go into every row', () => {
    const m = map(['Email'], { set: { country: 'France', 'Properties.source': 'fair', latitude: '48.85' } });
    expect(m.constants.map((c) => [c.column.name, c.value])).toEqual([
      ['Country', 'France'],
      ['Properties.source', 'fair'],
      ['Latitude', 48.85],
    ]);
    expect(row(m, { Email: 'a@example.com' })).toEqual({ Email: 'a@example.com', Country: 'France', 'Properties.source': 'fair', Latitude: 48.85 });
  });

  it('give every row its own copy of an object value', () => {
    const m = map(['Email'], { set: { Properties: '{"a":{"b":1}}' } });
    const first = row(m, { Email: 'a@example.com' }, 1);
    (first.Properties as { a: { b: number } }).a.b = 99;
    expect(row(m, { Email: 'b@example.com' }, 2).Properties).toEqual({ a: { b: 1 } });
  });

  it('can satisfy a required column', () => {
    const m = map(['Email'], { set: { ListId: 'Y6nRLr' } }, fakeHandler({ requiredColumns: ['ListId', ['Email']], acceptedColumns: ['ListId', 'Email'] }), {
      ...Profiles,
      columns: [...Profiles.columns, { name: 'ListId', type: 'id', description: 'list' }],
    });
    expect(row(m, { Email: 'a@example.com' })).toEqual({ Email: 'a@example.com', ListId: 'Y6nRLr' });
  });

  it('the null token clears the field in every row', () => {
    const m = map(['Email'], { set: { City: 'NULL' }, nullToken: 'NULL' });
    expect(row(m, { Email: 'a@example.com' })).toEqual({ Email: 'a@example.com', City: null });
  });

  it('usage errors: bad value, unknown column, not taken, also in the file, no value', () => {
    expect(usage(() => map(['Email'], { set: { Latitude: 'north' } })).message).toBe("--set Latitude=north: Latitude: 'north' is not a number.");
    const unknown = usage(() => map(['Email'], { set: { Contry: 'FR' } }));
    expect(unknown.message).toBe("--set Contry=...: Profiles has no column 'Contry'.");
    expect(unknown.hint).toMatch(/^Did you mean 'Country'\?/);
    expect(usage(() => map(['Email'], { set: { Created: '2026-01-01' } })).message).toBe('--set Created=...: Profiles upsert does not take Created (read-only: Klaviyo sets it).');
    expect(usage(() => map(['Email', 'city'], { set: { City: 'Paris' } })).message).toBe("City comes both from the CSV column 'city' and from --set City=...");
    const empty = usage(() => map(['Email'], { set: { City: '' } }));
    expect(empty.message).toBe('--set City= gives City no value.');
    expect(empty.hint).toContain('--null-value NULL --set City=NULL');
  });
});

describe('--null-value', () => {
  it('a cell holding the token is null (clear the field); an empty cell is not given', () => {
    const m = map(['Email', 'City', 'Region', 'Properties.tier'], { nullToken: '#N/A' });
    expect(row(m, { Email: 'a@example.com', City: '#N/A', Region: '', 'Properties.tier': '#N/A' })).toEqual({
      Email: 'a@example.com',
      City: null,
      'Properties.tier': null,
    });
  });
});

describe('unknown, unused and read-only headers', () => {
  it('unknown headers: one warning naming them, with suggestions', () => {
    const m = map(['Email', 'Frist Name', 'Shoe size', 'City']);
    expect(pairs(m)).toEqual([
      ['Email', 'Email'],
      ['City', 'City'],
    ]);
    expect(m.unknownHeaders).toEqual(['Frist Name', 'Shoe size']);
    expect(m.warnings).toEqual([
      "Ignoring CSV columns: Profiles has no column 'Frist Name' (did you mean FirstName?), 'Shoe size'. Map them with --map \"CSV Header=Column\" (--strict makes this an error).",
    ]);
  });

  it('columns the operation does not use are warned about too', () => {
    const m = map(['Email', 'City', 'Zip'], {}, fakeHandler({ acceptedColumns: ['Email', 'City'] }));
    expect(m.unknownHeaders).toEqual(['Zip']);
    expect(m.warnings[0]).toContain("Profiles upsert does not use 'Zip'");
  });

  it('--strict makes them a usage error, before any row', () => {
    const err = usage(() => map(['Email', 'Shoe size'], { strict: true }));
    expect(err.message).toBe("Profiles has no column 'Shoe size'.");
    expect(err.hint).toContain('drop --strict');
  });

  it('read-only columns are named once; Id is not named when the operation has no use for it', () => {
    const m = map(['Id', 'Email', 'Created', 'Updated'], {}, fakeHandler({ acceptedColumns: WRITABLE_PROFILE }));
    expect(pairs(m)).toEqual([['Email', 'Email']]);
    expect(m.ignoredHeaders).toEqual(['Id', 'Created', 'Updated']);
    expect(m.unknownHeaders).toEqual([]);
    expect(m.warnings).toEqual(['Ignoring read-only columns (Klaviyo sets them): Created, Updated.']);
  });

  it('read-only columns are no error with --strict', () => {
    expect(() => map(['Email', 'Created'], { strict: true })).not.toThrow();
  });

  it("without acceptedColumns, every writable column and the required ones are taken", () => {
    const m = map(['Id', 'Email', 'Created'], {}, fakeHandler({ acceptedColumns: undefined, requiredColumns: ['Id'] }));
    expect(pairs(m)).toEqual([
      ['Id', 'Id'],
      ['Email', 'Email'],
    ]);
  });
});

describe('required columns', () => {
  it('a missing column: usage error naming it and the headers seen', () => {
    const h = fakeHandler({ operation: 'update', requiredColumns: ['Id'], acceptedColumns: ['Id', 'Email'] });
    const err = usage(() => map(['Email', 'Notes'], {}, h));
    expect(err.message).toBe('Profiles update needs Id, and the file has no such column (its headers: Email, Notes).');
    expect(err.hint).toBe('Name a CSV column after it, map one with --map "CSV Header=Id", or give one value for every row with --set Id=value.');
  });

  it('a missing one-of group names every choice', () => {
    const err = usage(() => map(['FirstName', 'City']));
    expect(err.message).toBe('Profiles upsert needs one of Email, PhoneNumber or ExternalId, and the file has no such column (its headers: FirstName, City).');
  });

  it('several missing requirements are all named', () => {
    const h = fakeHandler({ requiredColumns: ['Id', ['Email', 'PhoneNumber']] });
    expect(usage(() => map(['City'], {}, h)).message).toMatch(/^Profiles upsert needs Id and one of Email or PhoneNumber, /);
  });

  it('one of the group is enough, through any spelling or --map', () => {
    expect(() => map(['phone_number'])).not.toThrow();
    expect(() => map(['Mobile'], { map: { Mobile: 'PhoneNumber' } })).not.toThrow();
  });

  it('a row whose required cells are all empty fails with missing_value', () => {
    const m = map(['Email', 'PhoneNumber', 'FirstName']);
    expect(failure(m, { Email: '', PhoneNumber: ' ', FirstName: 'Ann' }, 7)).toEqual({
      ok: false,
      rowNumber: 7,
      code: 'missing_value',
      message: 'Email, PhoneNumber, ExternalId are all empty: Profiles upsert needs at least one of them',
    });
    const h = fakeHandler({ operation: 'update', requiredColumns: ['Id'], acceptedColumns: ['Id', 'Email'] });
    expect(failure(map(['Id', 'Email'], { nullToken: 'NULL' }, h), { Id: 'NULL', Email: 'a@example.com' }).message).toBe('Id is empty: Profiles update needs it');
  });
});

describe('mapRow', () => {
  it('coerces every cell to the column type, leaving empty cells out', () => {
    const m = map(['email', 'Phone Number', 'Latitude', 'Properties', 'City', 'Id']);
    expect(row(m, { email: ' Ann@Example.COM ', 'Phone Number': '+1 (500) 555-0006', Latitude: '45.5', Properties: '{"tier":"gold"}', City: '', Id: ' 01ABC ' })).toEqual({
      Email: 'Ann@example.com',
      PhoneNumber: '+15005550006',
      Latitude: 45.5,
      Properties: { tier: 'gold' },
      Id: '01ABC',
    });
  });

  it('the first bad cell fails the row: invalid_value, column and reason', () => {
    const m = map(['Email', 'PhoneNumber', 'Latitude']);
    expect(failure(m, { Email: 'x', PhoneNumber: '555', Latitude: 'y' }, 12)).toEqual({
      ok: false,
      rowNumber: 12,
      code: 'invalid_value',
      message: "Email: 'x' is not an email address",
    });
    expect(failure(m, { Email: 'a@example.com', PhoneNumber: '555', Latitude: 'y' }).message).toBe("PhoneNumber: '555' is not a valid phone number; use E.164: +15005550006");
  });

  it('enums come out canonical', () => {
    const h = fakeHandler({ operation: 'insert', requiredColumns: ['Name'], acceptedColumns: ['Name', 'OptInProcess'] });
    const m = map(['Name', 'Opt-In Process'], {}, h, Lists);
    expect(row(m, { Name: 'VIP', 'Opt-In Process': 'Double opt-in' })).toEqual({ Name: 'VIP', OptInProcess: 'double_opt_in' });
    expect(failure(m, { Name: 'VIP', 'Opt-In Process': 'maybe' }).message).toBe("OptInProcess: 'maybe' is not one of: single_opt_in, double_opt_in");
  });

  it("then the handler's validateRow, with the import options", () => {
    const options: ImportOptions = { listId: 'L1' };
    const validateRow = vi.fn((r: ImportRow, o: ImportOptions): RowFailure | null =>
      r.values.FirstName === 'Drag' ? { ok: false, rowNumber: r.rowNumber, code: 'drag_and_drop', message: `refused (${o.listId})` } : null,
    );
    const m = map(['Email', 'FirstName'], { importOptions: options }, fakeHandler({ validateRow }));
    expect(m.mapRow({ Email: 'a@example.com', FirstName: 'Ann' }, 1).ok).toBe(true);
    expect(failure(m, { Email: 'b@example.com', FirstName: 'Drag' }, 2)).toEqual({ ok: false, rowNumber: 2, code: 'drag_and_drop', message: 'refused (L1)' });
    expect(validateRow).toHaveBeenCalledTimes(2);
    expect(validateRow.mock.calls[0][1]).toBe(options);
    // A row that already failed a cell never reaches validateRow.
    failure(m, { Email: 'nope', FirstName: 'Drag' }, 3);
    expect(validateRow).toHaveBeenCalledTimes(2);
  });
});

describe('logs and exports fed back as input', () => {
  it("an error log (Row, the input's columns, ErrorCode, ErrorMessage) maps with no warning", () => {
    const m = map(['Row', 'Email', 'FirstName', 'ErrorCode', 'ErrorMessage']);
    expect(pairs(m)).toEqual([
      ['Email', 'Email'],
      ['FirstName', 'FirstName'],
    ]);
    expect(m.warnings).toEqual([]);
    expect(m.ignoredHeaders).toEqual(['Row', 'ErrorCode', 'ErrorMessage']);
  });

  it('a success log (Row, columns, Id, Status, ChangedColumns) maps with no warning', () => {
    const m = map(['Row', 'Email', 'Id', 'Status', 'ChangedColumns'], {}, fakeHandler({ acceptedColumns: WRITABLE_PROFILE }));
    expect(pairs(m)).toEqual([['Email', 'Email']]);
    expect(m.warnings).toEqual([]);
  });

  it('a log column that is a real, accepted column is mapped', () => {
    const def: ObjectDefinition = { ...Profiles, columns: [...Profiles.columns, { name: 'Status', type: 'string', description: 'x' }] };
    const m = map(['Email', 'Status'], {}, fakeHandler({ acceptedColumns: ['Email', 'Status'] }), def);
    expect(pairs(m)).toEqual([
      ['Email', 'Email'],
      ['Status', 'Status'],
    ]);
  });
});
