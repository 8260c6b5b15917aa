import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/core/exit-code.js';
import { KlvError } from '../../src/core/errors.js';
import {
  KlaviyoApiError,
  KlaviyoNetworkError,
  UnknownOutcomeError,
  apiErrorHint,
  errorObjectsOf,
  isNotFound,
  scrubbedCause,
} from '../../src/klaviyo/errors.js';
import { exitCodeFor } from '../../src/cli/error-report.js';

const getProfiles = { operationId: 'get_profiles', method: 'GET', path: '/api/profiles' };

describe('KlaviyoApiError', () => {
  const refused = new KlaviyoApiError({
    ...getProfiles,
    status: 400,
    requestId: 'req-1',
    errors: [
      {
        id: 'e1',
        code: 'invalid',
        title: 'Invalid input.',
        detail: "'foo' is not a valid field for the resource 'profile'",
        source: { parameter: 'filter' },
      },
    ],
  });

  it('says what failed first', () => {
    expect(refused.message).toBe(
      "GET /api/profiles failed: 400 invalid: 'foo' is not a valid field for the resource 'profile' (filter)",
    );
    expect(refused.name).toBe('KlaviyoApiError');
    expect(refused).toBeInstanceOf(Error);
    expect(refused).toBeInstanceOf(KlvError);
  });

  it('carries the fields of the first error', () => {
    expect(refused).toMatchObject({
      status: 400,
      code: 'invalid',
      title: 'Invalid input.',
      detail: "'foo' is not a valid field for the resource 'profile'",
      source: { parameter: 'filter' },
      requestId: 'req-1',
      operationId: 'get_profiles',
      method: 'GET',
      path: '/api/profiles',
    });
  });

  it('400 on a filter: names what was refused and the filters the endpoint allows', () => {
    expect(refused.hint).toContain("Klaviyo refused 'filter': 'foo' is not a valid field");
    expect(refused.hint).toContain('email (any, equals)');
    expect(refused.hint).toContain('updated (greater-than, less-than)');
  });

  it('400 on a body attribute: names the pointer', () => {
    const e = new KlaviyoApiError({
      operationId: 'create_profile',
      method: 'POST',
      path: '/api/profiles',
      status: 400,
      errors: [{ code: 'invalid', detail: 'Invalid email address', source: { pointer: '/data/attributes/email' } }],
    });
    expect(e.message).toBe('POST /api/profiles failed: 400 invalid: Invalid email address (/data/attributes/email)');
    expect(e.hint).toBe("Klaviyo refused '/data/attributes/email': Invalid email address.");
  });

  it('401: check the key, exit 4', () => {
    const e = new KlaviyoApiError({ ...getProfiles, status: 401, errors: [{ code: 'not_authenticated', detail: 'Missing or invalid private key.' }] });
    expect(e.hint).toBe('Klaviyo did not accept the Private API Key. Check the key: klv config show');
    expect(e.exitCode).toBe(ExitCode.Auth);
    expect(exitCodeFor(e)).toBe(ExitCode.Auth);
  });

  it('403: names the scopes the operation needs, exit 4', () => {
    const e = new KlaviyoApiError({ ...getProfiles, status: 403, errors: [{ code: 'permission_denied', detail: 'no' }] });
    expect(e.hint).toContain('profiles:read');
    expect(exitCodeFor(e)).toBe(ExitCode.Auth);
  });

  it('403 on an operation that needs several scopes: names the one Klaviyo says is missing, or all of them', () => {
    const members = { operationId: 'get_profiles_for_list', method: 'GET', path: '/api/lists/L1/profiles' };
    const named = new KlaviyoApiError({ ...members, status: 403, errors: [{ code: 'permission_denied', detail: 'This API key lacks the scope lists:read, which GET /api/lists/{id}/profiles needs.' }] });
    expect(named.hint).toBe('The API key lacks a scope this request needs: lists:read. Add it to the key in Klaviyo (Settings > API keys) or use a key that has it.');
    const unnamed = new KlaviyoApiError({ ...members, status: 403, errors: [{ code: 'permission_denied', detail: 'You do not have permission to perform this action.' }] });
    expect(unnamed.hint).toBe('The API key lacks a scope this request needs (it needs lists:read and profiles:read). Add it to the key in Klaviyo (Settings > API keys) or use a key that has it.');
  });

  it('404: the id does not exist', () => {
    const e = new KlaviyoApiError({ operationId: 'get_profile', method: 'GET', path: '/api/profiles/XYZ', status: 404, errors: [] });
    expect(e.message).toBe('GET /api/profiles/XYZ failed: 404 Not Found');
    expect(e.hint).toContain('does not exist');
    expect(exitCodeFor(e)).toBe(ExitCode.Failure);
  });

  it('isNotFound: the one test for "404 means no such record", by class, not by a name someone can spell', () => {
    expect(isNotFound(new KlaviyoApiError({ ...getProfiles, status: 404, errors: [] }))).toBe(true);
    expect(isNotFound(new KlaviyoApiError({ ...getProfiles, status: 400, errors: [] }))).toBe(false);
    expect(isNotFound({ name: 'KlaviyoApiError', status: 404 })).toBe(false);
    expect(isNotFound(new Error('404'))).toBe(false);
  });

  it('429 after retries: lower concurrency', () => {
    expect(apiErrorHint(getProfiles, 429, [], 9)).toContain('after 9 attempts');
    expect(apiErrorHint(getProfiles, 429, [], 9)).toContain('concurrency');
  });

  it('5xx after retries: Klaviyo is failing, try later', () => {
    expect(apiErrorHint(getProfiles, 503, [], 6)).toMatch(/^Klaviyo is failing after 6 attempts\. Try again later/);
  });

  it('409 names the duplicate profile', () => {
    expect(apiErrorHint(getProfiles, 409, [{ code: 'duplicate_profile', meta: { duplicate_profile_id: '01ABC' } }])).toContain('01ABC');
  });

  it('mentions further errors', () => {
    const e = new KlaviyoApiError({ ...getProfiles, status: 400, errors: [{ detail: 'a' }, { detail: 'b' }, { detail: 'c' }] });
    expect(e.message).toBe('GET /api/profiles failed: 400 a (and 2 more errors)');
    expect(e.errors).toHaveLength(3);
  });
});

describe('errorObjectsOf', () => {
  it('reads the errors array, tolerating anything else', () => {
    expect(errorObjectsOf({ errors: [{ code: 'x' }, null, 3] })).toEqual([{ code: 'x' }]);
    expect(errorObjectsOf('<html>')).toEqual([]);
    expect(errorObjectsOf(null)).toEqual([]);
  });
});

describe('KlaviyoNetworkError and UnknownOutcomeError', () => {
  it('a network error says where it could not connect', () => {
    const e = new KlaviyoNetworkError({ ...getProfiles, code: 'ECONNREFUSED', reason: 'connect ECONNREFUSED', attempts: 6, baseUrl: 'http://127.0.0.1:1' });
    expect(e.message).toBe('GET /api/profiles failed: could not reach Klaviyo at http://127.0.0.1:1: connect ECONNREFUSED (6 attempts)');
    expect(e.hint).toContain('base URL');
    expect(e.exitCode).toBe(ExitCode.Failure);
  });

  it('an unknown outcome says it was not sent again', () => {
    const e = new UnknownOutcomeError({ operationId: 'create_profile', method: 'POST', path: '/api/profiles', reason: 'ECONNRESET' });
    expect(e.message).toContain('outcome is unknown');
    expect(e.message).toContain('not sent again');
    expect(e.name).toBe('UnknownOutcomeError');
  });

  it('scrubbedCause keeps code and scrubs message and stack', () => {
    const original = Object.assign(new Error('failed with pk_secret_0123456789'), { code: 'ECONNRESET' });
    const copy = scrubbedCause(original, (t) => t.replaceAll('pk_secret_0123456789', '[key]'));
    expect(copy.message).toBe('failed with [key]');
    expect(copy.stack).not.toContain('pk_secret');
    expect((copy as Error & { code?: string }).code).toBe('ECONNRESET');
  });
});
