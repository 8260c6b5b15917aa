/**
 * Finding objects by the names people type: any case, singular or plural, hyphens, underscores,
 * spaces, declared aliases; an unknown name is a usage error with the nearest names.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-code.js';
import { allObjects, findObject } from '../../src/objects/registry.js';
import { editDistance, nearestNames, normalizeName } from '../../src/objects/names.js';

const has = (name: string) => allObjects().some((d) => d.name === name);

describe('findObject', () => {
  it.each([
    ['profiles', 'Profiles'],
    ['Profile', 'Profiles'],
    ['PROFILES', 'Profiles'],
    ['people', 'Profiles'],
    ['person', 'Profiles'],
    ['email-templates', 'EmailTemplates'],
    ['email_template', 'EmailTemplates'],
    ['Email Templates', 'EmailTemplates'],
    ['templates', 'EmailTemplates'],
    ['template', 'EmailTemplates'],
    ['lists', 'Lists'],
    ['list', 'Lists'],
    ['metric', 'Metrics'],
    ['segment', 'Segments'],
    ['Flow', 'Flows'],
    ['tag', 'Tags'],
    ['coupon', 'Coupons'],
    ['coupon-codes', 'CouponCodes'],
    ['coupon_code', 'CouponCodes'],
    ['catalog-items', 'CatalogItems'],
    ['CatalogItem', 'CatalogItems'],
    ['products', 'CatalogItems'],
  ])('%s -> %s', (input, expected) => {
    expect(findObject(input).name).toBe(expected);
  });

  // Objects other engineers add while this runs: checked when they are in the catalog.
  it.each([
    ['campaigns', 'Campaigns'],
    ['Campaign', 'Campaigns'],
    ['list_members', 'ListMembers'],
    ['ListMembers', 'ListMembers'],
    ['list-member', 'ListMembers'],
    ['segment-members', 'SegmentMembers'],
    ['events', 'Events'],
    ['Event', 'Events'],
    ['list-subscribe', 'ListSubscribe'],
    ['people-exclusions', 'PeopleExclusions'],
    ['list_exclusion', 'ListExclusions'],
  ])('%s -> %s (when present)', (input, expected) => {
    if (!has(expected)) return;
    expect(findObject(input).name).toBe(expected);
  });

  it('every object is found by its own name, lower-cased, and by its singular form', () => {
    for (const def of allObjects()) {
      expect(findObject(def.name)).toBe(def);
      expect(findObject(def.name.toLowerCase())).toBe(def);
      const singular = def.name.endsWith('ies') ? `${def.name.slice(0, -3)}y` : def.name.replace(/s$/, '');
      expect(findObject(singular)).toBe(def);
    }
  });

  it('no two objects claim the same name', () => {
    const seen = new Map<string, string>();
    for (const def of allObjects()) {
      for (const n of [def.name, ...(def.aliases ?? [])].map(normalizeName)) {
        expect(seen.get(n), `${n} is claimed by ${seen.get(n)} and ${def.name}`).toBeUndefined();
        seen.set(n, def.name);
      }
    }
  });

  it('an unknown object is a usage error (exit 2) with the nearest names and the full list', () => {
    try {
      findObject('profils');
      throw new Error('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      const e = err as UsageError;
      expect(e.exitCode).toBe(ExitCode.Usage);
      expect(e.message).toBe("Unknown object 'profils'.");
      expect(e.hint).toMatch(/^Did you mean Profiles\?/);
      expect(e.hint).toMatch(/'klv objects' lists them: .*EmailTemplates/);
    }
  });

  it('a name near nothing gets the list without a guess', () => {
    try {
      findObject('zzzzzzzzzz');
      throw new Error('accepted');
    } catch (err) {
      expect((err as UsageError).hint).not.toMatch(/Did you mean/);
      expect((err as UsageError).hint).toMatch(/lists them/);
    }
  });
});

describe('name helpers', () => {
  it('normalizeName ignores case, spaces, underscores, hyphens and dots', () => {
    expect(normalizeName('List_Members')).toBe('listmembers');
    expect(normalizeName(' list-members.x ')).toBe('listmembersx');
  });

  it('editDistance is Levenshtein', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
  });

  it('nearestNames ranks close and prefix matches, best first, up to max', () => {
    expect(nearestNames('Emial', ['Email', 'Name', 'Created'])).toEqual(['Email']);
    expect(nearestNames('coupon', ['CouponCodes', 'Coupons', 'Profiles'])).toEqual(['CouponCodes', 'Coupons']);
    expect(nearestNames('x', ['Email', 'Name'])).toEqual([]);
  });
});
