/**
 * The quirk matrix, `klv export ... -o FILE` (issue 12): for each real-world behaviour of
 * Klaviyo in test/helpers/quirk-matrix.ts's table, either every record lands in the file exactly
 * once with Klaviyo's values and klv exits 0, or klv exits 1 naming the cause and the previous
 * file is kept byte for byte. Then the proof that this checker can fail: a klv built without
 * its document check exports an HTML page as "no more rows", and the checker says so.
 *
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { patchedKlv, WITHOUT_DOCUMENT_CHECK } from '../helpers/patched-dist.js';
import { exportCase } from '../helpers/quirk-export.js';
import { MATRIX, caseTitle, casesFor, expectCase, playCase, startMatrix, type MatrixContext } from '../helpers/quirk-matrix.js';

let m: MatrixContext;

beforeAll(async () => {
  m = await startMatrix({ name: 'export', profiles: 3000 });
});

afterAll(async () => {
  await m?.close();
});

describe('klv export under Klaviyo quirks', () => {
  for (const c of casesFor('export')) {
    it(caseTitle(c), async () => {
      await playCase(c, async () => [await exportCase(m, c)]);
    });
  }
});

describe('the checker can fail', () => {
  it('a klv whose document check accepts anything exits 0 on HTML pages with a header-only file, and the checker reports the missing rows', async () => {
    // The same case as the matrix's html-200=1 export, run with a copy of dist/ patched so that
    // checkDocument (src/klaviyo/response-check.ts) accepts every answer, as before issue 12.
    const c = MATRIX.find((x) => x.behaviour === 'html-200' && x.rate === 1 && x.command === 'export' && x.target === 'profiles')!;
    const bin = patchedKlv(join(m.root, 'without-document-check'), WITHOUT_DOCUMENT_CHECK);
    const result = await exportCase(m, c, { bin });
    expect(result.exercised).toBe(true);
    // The silent loss the check exists to prevent: exit 0, and nothing but the header.
    expect(result.run.code).toBe(0);
    expect(result.verdict.outcome).toBe('broken');
    expect(result.verdict.problems.join('\n')).toMatch(/^exit 0 with 3000 rows missing/m);
    expect(() => expectCase(c, [result])).toThrow(/checker found/);
  });
});
