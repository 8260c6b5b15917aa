/**
 * The emulator's quirks as pure logic: parsing and validating the settings (the --quirks list,
 * the object form of startEmulator and POST /_emulator/quirks), the seeded draws, and each
 * transformation on its own. The quirks over HTTP are in emulator-quirks-server.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_QUIRK_RATE,
  QUIRK_NAMES,
  QuirkSet,
  QuirkSettingError,
  TRANSIENT_QUIRKS,
  parseQuirkList,
  quirkChangesFrom,
  quirkRatesFrom,
  type TransientQuirk,
} from '../../src/emulator/http/quirks.js';
import { PageCache, readPage } from '../../src/emulator/http/paging.js';
import { unsortedPage } from '../../src/emulator/http/quirk-unsorted.js';
import { datetimePaths, microsecondConditions, microsecondForm, renderDatetime, rewriteDocumentDatetimes, syntheticMicros } from '../../src/emulator/http/quirk-datetimes.js';
import { hideArchivedFlows, inclusiveBounds } from '../../src/emulator/http/quirk-queries.js';
import { cfChallenge, empty200, expiredCursor, html200, isJsonSuccess, klaviyoHostLinks, repeatCursor, truncatedJson, withoutRetryAfter } from '../../src/emulator/http/quirk-responses.js';
import { serialize } from '../../src/emulator/http/respond.js';
import { matchesAll } from '../../src/emulator/http/filter-evaluator.js';
import type { Condition } from '../../src/emulator/http/filter-validator.js';
import { OPERATIONS } from '../../src/klaviyo/generated/api-metadata.js';
import type { StoredResource } from '../../src/emulator/store/types.js';

function settingError(fn: () => unknown): QuirkSettingError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(QuirkSettingError);
    return err as QuirkSettingError;
  }
  throw new Error('accepted');
}

describe('quirk settings', () => {
  it('has the thirteen quirks of the contract, transient and structural', () => {
    expect(QUIRK_NAMES).toEqual([
      'html-200', 'truncated-json', 'empty-200', 'unsorted-pages', 'inclusive-bounds', 'no-retry-after', 'repeat-cursor',
      'expired-cursor', 'cf-challenge', 'klaviyo-host-links', 'microseconds', 'space-datetimes', 'archived-flows-hidden',
    ]);
    expect(TRANSIENT_QUIRKS).toEqual(['html-200', 'truncated-json', 'empty-200', 'repeat-cursor', 'expired-cursor', 'cf-challenge']);
  });

  it('parses NAME and NAME=RATE: transient quirks default to 0.2, structural ones are on', () => {
    expect(parseQuirkList('html-200=1,unsorted-pages')).toEqual({ 'html-200': 1, 'unsorted-pages': 1 });
    expect(parseQuirkList(' html-200 , cf-challenge=0.05, microseconds ')).toEqual({ 'html-200': DEFAULT_QUIRK_RATE, 'cf-challenge': 0.05, microseconds: 1 });
    expect(parseQuirkList('unsorted-pages=1')).toEqual({ 'unsorted-pages': 1 });
    expect(parseQuirkList('')).toEqual({});
    // A rate of 0 is off.
    expect(quirkRatesFrom('empty-200=0,microseconds')).toEqual({ microseconds: 1 });
  });

  it('refuses unknown names, bad rates, rates on structural quirks and repeats, naming the quirk and the valid ones', () => {
    const unknown = settingError(() => parseQuirkList('html-200,teapot'));
    expect(unknown.field).toBe('teapot');
    expect(unknown.message).toContain("unknown quirk 'teapot'");
    for (const name of QUIRK_NAMES) expect(unknown.message).toContain(name);
    expect(settingError(() => parseQuirkList('html-200=2')).message).toMatch(/rate of 'html-200' must be a number from 0 to 1.*got 2/);
    expect(settingError(() => parseQuirkList('html-200=')).message).toContain('got nothing');
    expect(settingError(() => parseQuirkList('html-200=-0.1')).field).toBe('html-200');
    expect(settingError(() => parseQuirkList('html-200=lots')).field).toBe('html-200');
    const structural = settingError(() => parseQuirkList('unsorted-pages=0.5'));
    expect(structural.message).toContain("'unsorted-pages' is a structural quirk");
    expect(settingError(() => parseQuirkList('microseconds=0')).field).toBe('microseconds');
    expect(settingError(() => parseQuirkList('html-200,html-200=0.5')).message).toContain('given twice');
    expect(settingError(() => parseQuirkList('html-200,,microseconds')).message).toContain('empty entry');
  });

  it('takes changes as an object: true is on (default rate), false or 0 is off', () => {
    expect(quirkChangesFrom({ 'html-200': 0.5, 'unsorted-pages': true, microseconds: false, 'cf-challenge': true, 'space-datetimes': 0, 'klaviyo-host-links': 1 })).toEqual({
      'html-200': 0.5, 'unsorted-pages': 1, microseconds: 0, 'cf-challenge': DEFAULT_QUIRK_RATE, 'space-datetimes': 0, 'klaviyo-host-links': 1,
    });
    expect(quirkChangesFrom({})).toEqual({});
    expect(settingError(() => quirkChangesFrom({ nope: true })).field).toBe('nope');
    expect(settingError(() => quirkChangesFrom({ 'html-200': 1.5 })).field).toBe('html-200');
    expect(settingError(() => quirkChangesFrom({ 'html-200': '0.5' })).field).toBe('html-200');
    expect(settingError(() => quirkChangesFrom({ 'unsorted-pages': 0.5 })).field).toBe('unsorted-pages');
    expect(settingError(() => quirkChangesFrom(['html-200'])).field).toBe('quirks');
    expect(settingError(() => quirkChangesFrom(null)).field).toBe('quirks');
  });
});

describe('QuirkSet draws', () => {
  const hitsOf = (set: QuirkSet, name: TransientQuirk, n: number) => Array.from({ length: n }, () => set.draw().has(name));

  it('is reproducible by seed and different for another seed', () => {
    const a = hitsOf(new QuirkSet({ seed: 7, quirks: 'html-200=0.3' }), 'html-200', 200);
    expect(hitsOf(new QuirkSet({ seed: 7, quirks: 'html-200=0.3' }), 'html-200', 200)).toEqual(a);
    expect(hitsOf(new QuirkSet({ seed: 8, quirks: 'html-200=0.3' }), 'html-200', 200)).not.toEqual(a);
    const rate = a.filter(Boolean).length / a.length;
    expect(rate).toBeGreaterThan(0.15);
    expect(rate).toBeLessThan(0.45);
  });

  it('gives each transient quirk its own stream: turning another one on does not move its hits', () => {
    const alone = hitsOf(new QuirkSet({ seed: 3, quirks: { 'empty-200': 0.25 } }), 'empty-200', 300);
    const withOthers = hitsOf(new QuirkSet({ seed: 3, quirks: { 'empty-200': 0.25, 'html-200': 0.9, 'cf-challenge': 0.5 } }), 'empty-200', 300);
    expect(withOthers).toEqual(alone);
    // Two quirks at the same rate and seed still hit different requests.
    const set = new QuirkSet({ seed: 3, quirks: { 'html-200': 0.5, 'cf-challenge': 0.5 } });
    const draws = Array.from({ length: 100 }, () => set.draw());
    expect(draws.map((d) => d.has('html-200'))).not.toEqual(draws.map((d) => d.has('cf-challenge')));
  });

  it('keeps a quirk turned on later in step with one on from the start', () => {
    const fromStart = hitsOf(new QuirkSet({ seed: 5, quirks: { 'repeat-cursor': 0.5 } }), 'repeat-cursor', 100);
    const later = new QuirkSet({ seed: 5 });
    hitsOf(later, 'repeat-cursor', 40);
    later.update({ 'repeat-cursor': 0.5 });
    expect(hitsOf(later, 'repeat-cursor', 60)).toEqual(fromStart.slice(40));
  });

  it('rate 1 hits every draw, off never; structural quirks never draw', () => {
    const set = new QuirkSet({ seed: 1, quirks: 'truncated-json=1,unsorted-pages' });
    for (let i = 0; i < 50; i++) expect([...set.draw()]).toEqual(['truncated-json']);
    expect(set.on('unsorted-pages')).toBe(true);
    expect(set.on('html-200')).toBe(false);
  });

  it('reports the quirks that are on and a count for every quirk', () => {
    const set = new QuirkSet({ seed: 1, quirks: { 'html-200': 0.2, 'unsorted-pages': true } });
    set.count('html-200');
    set.count('html-200');
    const report = set.report();
    expect(report.quirks).toEqual({ 'html-200': 0.2, 'unsorted-pages': 1 });
    expect(Object.keys(report.injected)).toEqual(QUIRK_NAMES);
    expect(report.injected['html-200']).toBe(2);
    set.update({ 'html-200': 0, microseconds: 1 });
    expect(set.report().quirks).toEqual({ 'unsorted-pages': 1, microseconds: 1 });
    expect(set.report().injected['html-200']).toBe(2);
  });
});

describe('unsorted-pages permutation', () => {
  /** Follows a cursor chain of `pageSize` over 0..n-1 as listDocument does with the quirk on. */
  function chain(n: number, pageSize: number, cached: boolean): number[][] {
    const cache = cached ? new PageCache() : undefined;
    const source = () => Array.from({ length: n }, (_, i) => i)[Symbol.iterator]();
    const pages: number[][] = [];
    let offset: number | null = 0;
    while (offset !== null) {
      const page = readPage({ source, offset, pageSize, signature: 's', cache, neighbours: true });
      pages.push(unsortedPage({ ...page, pageSize }));
      offset = page.nextOffset;
    }
    return pages;
  }

  it.each([1, 2, 3, 4, 5, 7, 10, 50])('page size %i: every row exactly once, each moved at most one place, inversions across pages', (size) => {
    for (const n of [0, 1, size, size + 1, 3 * size, 3 * size + 2, 101]) {
      for (const cached of [false, true]) {
        const pages = chain(n, size, cached);
        const rows = pages.flat();
        expect([...rows].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
        rows.forEach((row, position) => expect(Math.abs(row - position)).toBeLessThanOrEqual(1));
        if (n > size) {
          // The first page ends with a row that sorts after the second page's first row.
          expect(pages[0]!.at(-1)!).toBeGreaterThan(pages[1]![0]!);
        }
      }
    }
  });

  it('also swaps a few rows inside pages, the same way every time', () => {
    const pages = chain(500, 50, true);
    const inner = pages.flatMap((p) => p.slice(1, -1)).filter((row, i, all) => i > 0 && row < all[i - 1]!);
    expect(inner.length).toBeGreaterThan(10);
    expect(chain(500, 50, false)).toEqual(pages);
  });

  it('leaves a single page without neighbours in order except for inner swaps', () => {
    expect(unsortedPage({ items: [0, 1, 2], offset: 0, pageSize: 3 })).toEqual([0, 1, 2]);
    expect(unsortedPage({ items: [], offset: 0, pageSize: 3 })).toEqual([]);
  });
});

describe('microseconds and space-datetimes', () => {
  const stored = '2024-05-13T08:01:45+00:00';
  const ms = Date.parse(stored);

  it('renders six fraction digits and +00:00; the digits below the millisecond are 1..999 and fixed per time', () => {
    const rendered = microsecondForm(ms);
    expect(rendered).toMatch(/^2024-05-13T08:01:45\.000\d{3}\+00:00$/);
    expect(rendered.slice(23, 26)).toBe(String(syntheticMicros(ms)).padStart(3, '0'));
    expect(microsecondForm(ms)).toBe(rendered);
    const digits = new Set(Array.from({ length: 2000 }, (_, i) => syntheticMicros(ms + i * 1000)));
    expect(Math.min(...digits)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...digits)).toBeLessThanOrEqual(999);
    expect(digits.size).toBeGreaterThan(500);
    expect(microsecondForm(Date.parse('2024-05-13T08:01:45.276Z'))).toMatch(/^2024-05-13T08:01:45\.276\d{3}\+00:00$/);
  });

  it('renders with a space instead of T, keeping offset and fraction', () => {
    const space = { space: true };
    expect(renderDatetime(stored, space, { microseconds: false, spaceDatetimes: true })).toBe('2024-05-13 08:01:45+00:00');
    expect(renderDatetime(stored, space, { microseconds: true, spaceDatetimes: true })).toBe(microsecondForm(ms).replace('T', ' '));
    expect(renderDatetime(stored, { space: false }, { microseconds: false, spaceDatetimes: true })).toBe(stored);
    expect(renderDatetime('2024-05-13', space, { microseconds: true, spaceDatetimes: true })).toBe('2024-05-13');
    expect(renderDatetime('not a date', space, { microseconds: true, spaceDatetimes: true })).toBe('not a date');
  });

  it('rewrites the datetimes of data and included by the spec, nested ones too, and only those', () => {
    const doc = {
      data: [
        { type: 'event', id: 'E1', attributes: { datetime: stored, timestamp: 1715587305, event_properties: { when: stored } } },
        { type: 'profile', id: 'P1', attributes: { created: stored, last_event_date: stored, subscriptions: { email: { marketing: { consent_timestamp: stored, consent: 'SUBSCRIBED' } } } } },
      ],
      included: [{ type: 'flow', id: 'F1', attributes: { created: stored, name: stored } }],
    };
    expect(rewriteDocumentDatetimes(doc, { microseconds: true, spaceDatetimes: true })).toEqual({ microseconds: true, spaceDatetimes: true });
    const micro = microsecondForm(ms);
    const spaced = micro.replace('T', ' ');
    expect(doc.data[0]!.attributes).toEqual({ datetime: spaced, timestamp: 1715587305, event_properties: { when: stored } });
    expect(doc.data[1]!.attributes).toMatchObject({ created: spaced, last_event_date: micro, subscriptions: { email: { marketing: { consent_timestamp: micro, consent: 'SUBSCRIBED' } } } });
    expect(doc.included[0]!.attributes).toEqual({ created: micro, name: stored });
    expect(datetimePaths('profile')).toContain('subscriptions.email.marketing.consent_timestamp');
  });

  it('never writes into nested objects it was given (they may be the store\'s)', () => {
    const subscriptions = { email: { marketing: { consent_timestamp: stored } } };
    rewriteDocumentDatetimes({ data: { type: 'profile', id: 'P', attributes: { subscriptions } } }, { microseconds: true, spaceDatetimes: false });
    expect(subscriptions.email.marketing.consent_timestamp).toBe(stored);
  });

  describe('filters compare the rendered value', () => {
    const meta = OPERATIONS.get_events.filters.datetime!;
    // Rows one millisecond apart around a point, and a row at the same millisecond's neighbours.
    const rows: StoredResource[] = Array.from({ length: 40 }, (_, i) => ({
      type: 'event',
      id: `E${i}`,
      attributes: { datetime: new Date(ms + Math.floor(i / 2) * 1 + (i % 2) * 1000).toISOString() },
      relationships: {},
    }));
    const rendered = (r: StoredResource) => microsecondForm(Date.parse(String(r.attributes.datetime)));
    /** µs since the epoch of a rendered value, exactly (Date drops the digits below the ms). */
    const micros = (text: string) => Date.parse(text) * 1000 + Number(/\.\d{3}(\d{3})/.exec(text)![1]);
    const condition = (operator: string, text: string): Condition => ({ operator, field: 'datetime', value: { kind: 'datetime', text, ms: Date.parse(text) }, meta });
    const select = (operator: string, text: string) => {
      const { conditions } = microsecondConditions([condition(operator, text)], 'event');
      return rows.filter((r) => matchesAll(r, conditions)).map((r) => r.id).sort();
    };
    const expected = (test: (v: number) => boolean) => rows.filter((r) => test(micros(rendered(r)))).map((r) => r.id).sort();

    it.each(['greater-than', 'greater-or-equal', 'less-than', 'less-or-equal', 'equals'])('%s a rendered value, and values around it', (operator) => {
      const test = (a: number, b: number) =>
        operator === 'greater-than' ? a > b : operator === 'greater-or-equal' ? a >= b : operator === 'less-than' ? a < b : operator === 'less-or-equal' ? a <= b : a === b;
      for (const row of rows.slice(5, 15)) {
        const value = rendered(row);
        const v = micros(value);
        for (const delta of [-1, 0, 1]) {
          const t = v + delta;
          const text = `${new Date(Math.floor(t / 1000)).toISOString().slice(0, 23)}${String(t % 1000).padStart(3, '0')}+00:00`;
          expect(select(operator, text), `${operator}(datetime,${text})`).toEqual(expected((x) => test(x, t)));
        }
      }
    });

    it('a value cut to milliseconds is before the row it was cut from', () => {
      const row = rows[10]!;
      const cut = rendered(row).slice(0, 23) + 'Z';
      expect(select('greater-than', cut)).toContain(row.id);
      expect(select('equals', cut)).toEqual([]);
    });

    it('leaves conditions on other fields alone', () => {
      const c: Condition = { operator: 'equals', field: 'metric_id', value: 'M1', meta: OPERATIONS.get_events.filters.metric_id! };
      expect(microsecondConditions([c], 'event')).toEqual({ conditions: [c], changed: false });
    });
  });
});

describe('filter quirks', () => {
  const meta = OPERATIONS.get_flows.filters.created!;
  const at = (operator: string): Condition => ({ operator, field: 'created', value: { kind: 'datetime', text: '2024-01-01T00:00:00Z', ms: Date.parse('2024-01-01T00:00:00Z') }, meta });

  it('inclusive-bounds: greater-than and less-than also match the bound', () => {
    const r = inclusiveBounds([at('greater-than'), at('less-than'), at('equals'), at('greater-or-equal')]);
    expect(r.changed).toBe(true);
    expect(r.conditions.map((c) => c.operator)).toEqual(['greater-or-equal', 'less-or-equal', 'equals', 'greater-or-equal']);
    expect(inclusiveBounds([at('equals')]).changed).toBe(false);
  });

  it('archived-flows-hidden: adds equals(archived,false) to GET /api/flows unless the filter names archived', () => {
    const hidden = hideArchivedFlows([at('greater-than')], 'get_flows', OPERATIONS.get_flows);
    expect(hidden.changed).toBe(true);
    expect(hidden.conditions[1]).toMatchObject({ operator: 'equals', field: 'archived', value: false });
    const archived: Condition = { operator: 'equals', field: 'archived', value: true, meta: OPERATIONS.get_flows.filters.archived! };
    expect(hideArchivedFlows([archived], 'get_flows', OPERATIONS.get_flows)).toEqual({ conditions: [archived], changed: false });
    expect(hideArchivedFlows([], 'get_lists', OPERATIONS.get_lists).changed).toBe(false);
  });
});

describe('response quirks', () => {
  const ok = serialize(200, { data: [{ type: 'list', id: 'L1', attributes: { name: 'Ünïcödé' } }], links: { self: 'http://127.0.0.1:1/api/lists' } });

  it('html-200 and cf-challenge are HTML pages, the challenge with Cloudflare headers', () => {
    const page = html200();
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=UTF-8');
    expect(page.body.toString()).toMatch(/^<!DOCTYPE html>/);
    expect(Number(page.headers['content-length'])).toBe(page.body.length);
    const challenge = cfChallenge('0123456789abcdef-IAD');
    expect(challenge.status).toBe(403);
    expect(challenge.headers).toMatchObject({ 'content-type': 'text/html; charset=UTF-8', 'cf-mitigated': 'challenge', server: 'cloudflare', 'cf-ray': '0123456789abcdef-IAD' });
    expect(challenge.body.toString()).toContain('Just a moment...');
  });

  it('truncated-json cuts the body about in half with a matching content-length; empty-200 sends nothing', () => {
    expect(isJsonSuccess(ok)).toBe(true);
    const cut = truncatedJson(ok);
    expect(cut.body.length).toBe(Math.floor(ok.body.length / 2));
    expect(cut.headers['content-length']).toBe(String(cut.body.length));
    expect(cut.headers['content-type']).toBe('application/vnd.api+json');
    expect(ok.body.subarray(0, cut.body.length).equals(cut.body)).toBe(true);
    expect(() => JSON.parse(cut.body.toString())).toThrow();
    const empty = empty200(serialize(201, { data: null }));
    expect(empty).toMatchObject({ status: 200, headers: { 'content-length': '0', 'content-type': 'application/vnd.api+json' } });
    expect(empty.body.length).toBe(0);
    expect(isJsonSuccess(serialize(204, undefined))).toBe(false);
    expect(isJsonSuccess(serialize(400, { errors: [] }))).toBe(false);
  });

  it('expired-cursor is a 400 invalid naming page[cursor]', () => {
    const err = expiredCursor('a'.repeat(80));
    expect(err.status).toBe(400);
    expect(err.code).toBe('invalid');
    expect(err.source).toEqual({ parameter: 'page[cursor]' });
    expect(err.detail).toMatch(/invalid or has expired/);
  });

  it('repeat-cursor points links.next at the page itself', () => {
    const body = { data: [], links: { self: 'http://x/api/lists?page%5Bcursor%5D=abc', next: 'http://x/api/lists?page%5Bcursor%5D=def' } };
    expect(repeatCursor(body)).toBe(true);
    expect(body.links.next).toBe(body.links.self);
    expect(repeatCursor({ data: [], links: { self: 'http://x/api/lists' } })).toBe(false);
  });

  it('no-retry-after drops Retry-After and says 0 seconds', () => {
    const result = { status: 429, headers: { 'retry-after': '7' }, body: { errors: [{ code: 'throttled', detail: 'Request was throttled. Expected available in 7 seconds.' }] } };
    expect(withoutRetryAfter(result)).toEqual({ status: 429, headers: {}, body: { errors: [{ code: 'throttled', detail: 'Request was throttled. Expected available in 0 seconds.' }] } });
    expect(withoutRetryAfter({ status: 200, body: {} })).toBeNull();
  });

  it('klaviyo-host-links rewrites document, resource and relationship links, nothing else', () => {
    const base = 'http://127.0.0.1:8787';
    const body = {
      data: [{ type: 'flow', id: 'F', attributes: { definition: { actions: [{ links: { next: `${base}/x` } }] } }, links: { self: `${base}/api/flows/F/` }, relationships: { tags: { links: { self: `${base}/api/flows/F/relationships/tags/`, related: `${base}/api/flows/F/tags/` } } } }],
      included: [{ type: 'tag', id: 'T', links: { self: `${base}/api/tags/T/` } }],
      links: { self: `${base}/api/flows?page%5Bsize%5D=1`, next: `${base}/api/flows?page%5Bcursor%5D=abc` },
    };
    expect(klaviyoHostLinks(body, base)).toBe(true);
    expect(body.links).toEqual({ self: 'https://a.klaviyo.com/api/flows?page%5Bsize%5D=1', next: 'https://a.klaviyo.com/api/flows?page%5Bcursor%5D=abc' });
    expect(body.data[0]!.links.self).toBe('https://a.klaviyo.com/api/flows/F/');
    expect(body.data[0]!.relationships.tags.links.related).toBe('https://a.klaviyo.com/api/flows/F/tags/');
    expect(body.included[0]!.links.self).toBe('https://a.klaviyo.com/api/tags/T/');
    expect(body.data[0]!.attributes.definition.actions[0]!.links.next).toBe(`${base}/x`);
    expect(klaviyoHostLinks({ errors: [] }, base)).toBe(false);
  });
});
