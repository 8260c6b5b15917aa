/**
 * The generated API metadata is committed so that klv never reads the 3 MB spec at run time.
 * This test regenerates it in-process from the spec and fails when the committed file has
 * drifted (someone edited it by hand, or changed the generator or the spec without running
 * `npm run gen:api`). The sanity checks pin a few numbers the client and emulator rely on.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM script without type declarations.
import { generate, render, renderResponses, OUTPUT, RESPONSES_OUTPUT } from '../../scripts/gen-api.mjs';
import { OPERATIONS, RESOURCES, SPEC_REVISION } from '../../src/klaviyo/generated/api-metadata.js';
import { loadSpec } from '../helpers/spec.js';

const spec = loadSpec();

/** The first line where two texts differ, for a message that says where to look. */
function firstDifference(expected: string, actual: string): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    if (a[i] !== b[i]) {
      const clip = (s: string | undefined) => (s === undefined ? '<end of file>' : s.length > 300 ? `${s.slice(0, 300)}…` : s);
      return `line ${i + 1}:\n  generated: ${clip(a[i])}\n  committed: ${clip(b[i])}`;
    }
  }
  return 'no difference';
}

describe('generated API metadata', () => {
  it.skipIf(!spec)('matches what scripts/gen-api.mjs generates from the spec (run `npm run gen:api` if not)', () => {
    const generated: string = render(generate(spec));
    const committed = readFileSync(OUTPUT, 'utf8');
    if (generated !== committed) {
      expect.fail(
        `src/klaviyo/generated/api-metadata.ts is out of date with the spec; run \`npm run gen:api\`.\n` +
          `First difference at ${firstDifference(generated, committed)}`,
      );
    }
    expect(SPEC_REVISION).toBe(spec!.info.version);
  });

  it.skipIf(!spec)('and so do the response shapes (src/klaviyo/generated/api-responses.ts)', () => {
    const generated: string = renderResponses(generate(spec));
    const committed = readFileSync(RESPONSES_OUTPUT, 'utf8');
    if (generated !== committed) {
      expect.fail(`src/klaviyo/generated/api-responses.ts is out of date; run \`npm run gen:api\`.\nFirst difference at ${firstDifference(generated, committed)}`);
    }
  });

  it('sorts the operations by the shape of their answer, as the spec gives it', () => {
    const shapes: string = readFileSync(RESPONSES_OUTPUT, 'utf8');
    const shapeOf = (id: string) => [...shapes.matchAll(/export type (\w+) =[^;]*/g)].find((m) => m[0].includes(`"${id}"`))?.[1];
    expect(shapeOf('get_profiles')).toBe('ManyOperation');
    expect(shapeOf('get_list')).toBe('OneOperation');
    expect(shapeOf('get_template_id_for_campaign_message')).toBe('OneOrNullOperation');
    expect(shapeOf('delete_list')).toBe('NoDocumentOperation');
    expect(OPERATIONS.get_template_id_for_campaign_message.responseIsNullable).toBe(true);
    expect(OPERATIONS.get_list.responseIsNullable).toBe(false);
  });

  it('carries the page sizes, rate limits and filters of get_profiles', () => {
    const op = OPERATIONS.get_profiles;
    expect(op).toMatchObject({ method: 'GET', path: '/api/profiles', paginated: true });
    expect(op.pageSize?.max).toBe(100);
    expect(op.rateLimit.burst).toBe(75);
    expect(op.rateLimit.steady).toBe(750);
    expect(op.filters.email.operators).toEqual(expect.arrayContaining(['any', 'equals']));
    expect(op.additionalFields.profile).toEqual(expect.arrayContaining(['subscriptions', 'predictive_analytics']));
  });

  it('carries the other limits klv depends on', () => {
    expect(OPERATIONS.get_accounts.rateLimit).toMatchObject({ burst: 1, steady: 15 });
    expect(OPERATIONS.get_campaigns.requiredQuery).toContain('filter');
    expect(OPERATIONS.get_metrics.pageSize).toBeNull();
    expect(OPERATIONS.get_metrics.fixedPageSize).toBe(200);
    expect(OPERATIONS.create_list.rateLimit.daily).toBe(150);
    expect(OPERATIONS.get_events.include).toEqual(expect.arrayContaining(['metric', 'profile']));
    expect(RESOURCES.profile.attributes.email).toMatchObject({ type: 'string' });
  });
});
