/**
 * The pure parts of `klv doctor`: revision lifecycle, the injectable clock, the report built
 * from GET /api/accounts, and the message when Klaviyo refuses the key.
 */
import { describe, expect, it } from 'vitest';
import { Chalk } from 'chalk';
import { revisionDate, revisionLifecycle } from '../../src/config/revision.js';
import {
  accountOf,
  authFailure,
  buildDoctorReport,
  doctorNow,
  formatDoctorReport,
  type AccountsResponse,
} from '../../src/cli/commands/doctor.js';
import { buildScopeReport } from '../../src/cli/commands/doctor-scopes.js';
import type { ResolvedProfile } from '../../src/config/profile.js';
import { Secret } from '../../src/core/secret.js';
import { AuthError, UsageError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-code.js';
import { exitCodeFor } from '../../src/cli/error-report.js';

const KEY = 'pk_doctor_0123456789abcdef01234567';
const plain = new Chalk({ level: 0 });

function profile(over: Partial<ResolvedProfile> = {}): ResolvedProfile {
  return {
    name: 'default',
    privateKey: new Secret(KEY),
    publicKey: 'AbC123',
    revision: '2026-07-15',
    baseUrl: 'http://127.0.0.1:8787',
    concurrency: 4,
    sources: {
      profile: 'default',
      privateKey: 'env KLAVIYO_PRIVATE_API_KEY',
      publicKey: '/home/u/.config/klv/config.yaml (profile default)',
      revision: 'default',
      baseUrl: 'env KLAVIYO_BASE_URL',
      concurrency: 'default',
    },
    files: [],
    warnings: [],
    ...over,
  };
}

const accounts: AccountsResponse = {
  status: 200,
  body: {
    data: [
      {
        type: 'account',
        id: 'AbC123',
        attributes: {
          test_account: false,
          contact_information: { organization_name: 'Demo Store', default_sender_email: 'a@b.c' },
          industry: 'Retail',
          timezone: 'America/New_York',
          preferred_currency: 'USD',
          public_api_key: 'AbC123',
          locale: 'en-US',
        },
      },
    ],
  },
  rateLimit: { limit: 15, remaining: 14, reset: 60 },
  requestId: 'req-123',
};

const july2026 = new Date('2026-08-01T00:00:00Z');

describe('revisions', () => {
  it('revisionDate accepts real dates with an optional suffix only', () => {
    expect(revisionDate('2026-07-15')?.toISOString()).toBe('2026-07-15T00:00:00.000Z');
    expect(revisionDate('2026-07-15.pre')).not.toBeNull();
    for (const bad of ['2026-7-15', '2026-02-29', '2026-13-01', '2026-07-15 ', 'v2026-07-15', '2026-07-15.']) {
      expect(revisionDate(bad), bad).toBeNull();
    }
    expect(revisionDate('2024-02-29')).not.toBeNull();
  });

  it('stable for a year, deprecated for the next, retired after two', () => {
    const at = (iso: string) => revisionLifecycle('2025-07-15', new Date(iso)).status;
    expect(at('2025-07-14T23:59:59Z')).toBe('future');
    expect(at('2025-07-15T00:00:00Z')).toBe('stable');
    expect(at('2026-07-14T23:59:59Z')).toBe('stable');
    expect(at('2026-07-15T00:00:00Z')).toBe('deprecated');
    expect(at('2027-07-14T23:59:59Z')).toBe('deprecated');
    expect(at('2027-07-15T00:00:00Z')).toBe('retired');
    expect(revisionLifecycle('2025-07-15', july2026)).toEqual({
      revision: '2025-07-15',
      status: 'deprecated',
      released: '2025-07-15',
      deprecatedOn: '2026-07-15',
      retiredOn: '2027-07-15',
    });
  });
});

describe('doctorNow', () => {
  it('KLV_NOW replaces the clock; otherwise the clock is used', () => {
    expect(doctorNow({ KLV_NOW: '2027-08-01' }).toISOString()).toBe('2027-08-01T00:00:00.000Z');
    const fixed = new Date('2030-01-01T00:00:00Z');
    expect(doctorNow({}, () => fixed)).toBe(fixed);
    expect(() => doctorNow({ KLV_NOW: 'next tuesday' })).toThrow(UsageError);
  });
});

describe('buildDoctorReport', () => {
  it('all fine: account, matching public key, stable revision, rate-limit headers', () => {
    const r = buildDoctorReport(profile(), accounts, july2026);
    expect(r.ok).toBe(true);
    expect(r.account).toEqual({
      id: 'AbC123',
      organizationName: 'Demo Store',
      timezone: 'America/New_York',
      currency: 'USD',
      testAccount: false,
      publicApiKey: 'AbC123',
    });
    expect(r.publicKey.status).toBe('ok');
    expect(r.revision.status).toBe('stable');
    expect(r.rateLimit).toEqual({ limit: 15, remaining: 14, reset: 60, spec: { burstPerSecond: 1, steadyPerMinute: 15 } });
    expect(r.privateKey).toEqual({ redacted: 'pk_doct…4567', source: 'env KLAVIYO_PRIVATE_API_KEY' });
    expect(r.findings).toEqual([]);
    expect(JSON.stringify(r)).not.toContain(KEY.slice(0, 12));

    const text = formatDoctorReport(r, plain);
    expect(text).toContain('Demo Store');
    expect(text).toContain('id AbC123');
    expect(text).toContain('timezone America/New_York, currency USD, test account: no');
    expect(text).toContain('ok AbC123 matches the account');
    expect(text).toContain('2026-07-15 stable until 2027-07-15');
    expect(text).toContain('14 of 15 left in this window, resets in 60 s');
    expect(text).toContain('pk_doct…4567 from env KLAVIYO_PRIVATE_API_KEY');
    expect(text).toContain('All checks passed.');
    expect(text).not.toContain(KEY.slice(0, 12));
  });

  it('a public key from another account is an error', () => {
    const r = buildDoctorReport(profile({ publicKey: 'Zzz999' }), accounts, july2026);
    expect(r.ok).toBe(false);
    expect(r.publicKey).toMatchObject({ status: 'mismatch', configured: 'Zzz999', account: 'AbC123' });
    expect(r.findings[0].message).toContain('belongs to another account');
    expect(formatDoctorReport(r, plain)).toContain('mismatch configured Zzz999, account has AbC123');
  });

  it('no public key configured: a note that says how to set it', () => {
    const r = buildDoctorReport(profile({ publicKey: undefined }), accounts, july2026);
    expect(r.ok).toBe(true);
    expect(r.publicKey.status).toBe('not configured');
    expect(r.findings[0]).toMatchObject({ level: 'note' });
    expect(r.findings[0].hint).toContain('--public-key AbC123');
    expect(r.findings[0].hint).toContain('KLAVIYO_PUBLIC_API_KEY=AbC123');
  });

  it('a deprecated revision warns, a retired one fails', () => {
    let r = buildDoctorReport(profile({ revision: '2025-04-15' }), accounts, july2026);
    expect(r.ok).toBe(true);
    expect(r.revision.status).toBe('deprecated');
    expect(r.findings[0]).toMatchObject({ level: 'warning' });
    expect(r.findings[0].message).toContain('retired on 2027-04-15');
    r = buildDoctorReport(profile({ revision: '2024-06-15' }), accounts, july2026);
    expect(r.ok).toBe(false);
    expect(r.revision.status).toBe('retired');
    expect(formatDoctorReport(r, plain)).toContain('Some checks failed');
  });

  it('no RateLimit headers, and no account', () => {
    const r = buildDoctorReport(profile(), { status: 200, body: { data: [] }, rateLimit: {} }, july2026);
    expect(r.ok).toBe(false);
    expect(r.account).toBeNull();
    const text = formatDoctorReport(r, plain);
    expect(text).toContain('no RateLimit headers in the answer');
    expect(text).toContain('none returned');
  });

  it('a key lacking a read scope: a warning, not a failure, and the scope lines in the text', () => {
    const scopes = buildScopeReport(
      [{ command: 'export', object: 'Lists', operation: null, when: null, scopes: ['lists:read'] }],
      [{ scope: 'lists:read', operationId: 'get_lists', status: 'missing' }],
    );
    const r = buildDoctorReport(profile(), accounts, july2026, scopes);
    expect(r.ok).toBe(true);
    expect(r.scopes).toBe(scopes);
    expect(r.findings).toEqual([expect.objectContaining({ level: 'warning', message: 'The key lacks lists:read: klv cannot export, query or replicate Lists' })]);
    const text = formatDoctorReport(r, plain);
    expect(text).toMatch(/ {2}Scopes {7}0 of 1 read scopes granted; missing: lists:read\n/);
    expect(text).toContain('  lists:read  missing    export Lists');
    expect(buildDoctorReport(profile(), accounts, july2026).scopes).toBeNull();
  });

  it('accountOf reads a single resource as well as a collection', () => {
    expect(accountOf({ data: { id: 'X', attributes: { test_account: true } } })).toMatchObject({ id: 'X', testAccount: true });
    expect(accountOf(null)).toBeNull();
  });
});

describe('authFailure', () => {
  const apiError = (status: number) =>
    Object.assign(new Error(`GET /api/accounts failed: ${status} not_authenticated: Incorrect authentication credentials.`), {
      name: 'KlaviyoApiError',
      status,
    });

  it('401: says which profile, which key (redacted) from where, and to run klv config show', () => {
    const err = authFailure(profile({ name: 'staging' }), apiError(401));
    expect(err).toBeInstanceOf(AuthError);
    expect(exitCodeFor(err)).toBe(ExitCode.Auth);
    expect(err.message).toContain("profile 'staging'");
    expect(err.message).toContain('Incorrect authentication credentials');
    expect(err.hint).toContain('pk_doct…4567 (from env KLAVIYO_PRIVATE_API_KEY)');
    expect(err.hint).toContain('klv config show --profile staging');
    expect(`${err.message}${err.hint}${err.stack}`).not.toContain(KEY.slice(0, 12));
  });

  it('403: names the accounts:read scope', () => {
    const err = authFailure(profile(), apiError(403));
    expect(err.hint).toContain('accounts:read');
    expect(err.hint).toContain('klv config show');
  });
});
