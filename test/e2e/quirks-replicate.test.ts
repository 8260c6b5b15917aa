/**
 * The quirk matrix, `klv replicate --to sqlite:FILE` under transient quirks (issue 12): for each
 * transient behaviour of Klaviyo in test/helpers/quirk-matrix.ts's table, a run that also sweeps
 * deletions after the account changed either leaves every table equal to Klaviyo (live rows
 * exactly Klaviyo's records, the rest marked deleted, an archived flow updated and not deleted)
 * with exit 0, or exits 1 naming the cause with the failed objects' rows and _klv_state cursor
 * untouched. Then the proof that this checker can fail: a klv built without its document check
 * reads some HTML pages as "no more records", and its deletion sweep marks live rows deleted.
 * The structural quirks are in quirks-replicate-structural.test.ts (two files: the
 * pool runs them side by side). SQLite only: PostgreSQL and MariaDB share the destination code
 * and are covered elsewhere.
 *
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { patchedKlv, WITHOUT_DOCUMENT_CHECK } from '../helpers/patched-dist.js';
import { MATRIX, caseTitle, casesFor, playCase, startMatrix, type MatrixContext } from '../helpers/quirk-matrix.js';
import { replicateCase } from '../helpers/quirk-replicate.js';

let m: MatrixContext;

beforeAll(async () => {
  m = await startMatrix({ name: 'replicate', profiles: 2500 });
});

afterAll(async () => {
  await m?.close();
});

describe('klv replicate under transient Klaviyo quirks', () => {
  for (const c of casesFor('replicate', 'transient')) {
    it(caseTitle(c), async () => {
      await playCase(c, () => replicateCase(m, c));
    }, 120_000);
  }
});

describe('the checker can fail', () => {
  it('a klv whose document check accepts anything marks live rows deleted under html-200=0.1, and the checker reports them', async () => {
    // The matrix's html-200=0.1 replicate case, run with a copy of dist/ whose checkDocument
    // (src/klaviyo/response-check.ts) accepts every answer, as before issue 12: a page that is
    // an HTML page reads as the end of the read, and the sweep marks what it did not see.
    const c = MATRIX.find((x) => x.behaviour === 'html-200' && x.rate === 0.1 && x.command === 'replicate')!;
    const bin = patchedKlv(join(m.root, 'without-document-check'), WITHOUT_DOCUMENT_CHECK);
    const [result] = await replicateCase(m, c, { bin });
    expect(result!.exercised).toBe(true);
    // Exit 0, or 3 when the mass-deletion guard happened to catch one table: either way rows
    // Klaviyo has were marked deleted, and the checker says so.
    expect([0, 3]).toContain(result!.run.code);
    expect(result!.verdict.outcome).toBe('broken');
    expect(result!.verdict.problems.join('\n')).toMatch(/^exit [03] with \d+ live \w+ rows missing/m);
  }, 120_000);
});
