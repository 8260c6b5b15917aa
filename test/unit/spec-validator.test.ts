/**
 * The spec validator must be able to say no: these tests feed it hand-written exchanges, valid
 * and broken, and check that it accepts the valid ones and names what is wrong in the others.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadSpec } from '../helpers/spec.js';
import { checkFilter, SpecValidator, toJsonSchema, type RecordedExchange } from '../helpers/spec-validator.js';

const spec = loadSpec();
const validator = spec ? new SpecValidator(spec) : undefined;
const v = () => validator!;

function validAccounts(): any {
  return {
    data: [
      {
        type: 'account',
        id: 'KlvDmo',
        attributes: {
          test_account: false,
          contact_information: {
            default_sender_name: 'Demo Store',
            default_sender_email: 'hello@demo.example',
            website_url: null,
            organization_name: 'Demo Store',
            street_address: { address1: '1 Main St', address2: null, city: 'Boston', region: 'MA', country: 'US', zip: '02110' },
          },
          industry: null,
          timezone: 'US/Eastern',
          preferred_currency: 'USD',
          public_api_key: 'KlvDmo',
          locale: 'en-US',
        },
        links: { self: 'https://a.klaviyo.com/api/accounts/KlvDmo/' },
      },
    ],
    links: { self: 'https://a.klaviyo.com/api/accounts/' },
  };
}

const headers = { revision: '2026-07-15', accept: 'application/vnd.api+json' };
const getProfiles = (query: Record<string, string>) =>
  v().validateRequest('get_profiles', { method: 'GET', path: '/api/profiles', query, headers });

describe('spec location', () => {
  it('reports a missing spec once, with its path, instead of failing', async () => {
    vi.resetModules();
    vi.stubEnv('KLV_OPENAPI_SPEC', join(tmpdir(), 'klv-no-such-spec', 'stable.json'));
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const fresh = await import('../helpers/spec.js');
      expect(fresh.loadSpec()).toBeNull();
      expect(fresh.loadSpec()).toBeNull();
      expect(fresh.specAbsentReason()).toMatch(/Klaviyo OpenAPI spec not found at .*klv-no-such-spec.*; spec checks skipped/);
      expect(warn).toHaveBeenCalledTimes(1);
    } finally {
      warn.mockRestore();
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });
});

describe('toJsonSchema (OpenAPI 3.0 -> JSON Schema)', () => {
  it('turns nullable types into a null alternative and drops OpenAPI-only keywords', () => {
    expect(toJsonSchema({ type: 'string', nullable: true, example: 'x', 'x-foo': 1 })).toEqual({ type: ['string', 'null'] });
    expect(toJsonSchema({ type: 'string', enum: ['a'], nullable: true })).toEqual({ type: ['string', 'null'], enum: ['a', null] });
    const wrapped = toJsonSchema({ $ref: '#/components/schemas/X', nullable: true, description: 'd' });
    expect(wrapped.anyOf[0]).toEqual({ type: 'null' });
    expect(wrapped.anyOf[1].$ref).toMatch(/#\/components\/schemas\/X$/);
  });

  it("checks oneOf as anyOf, because Klaviyo's alternatives overlap", () => {
    const alternatives = [{ type: 'object' }, { type: 'object' }];
    const converted = toJsonSchema({ oneOf: alternatives, description: 'send options' });
    expect(converted.oneOf).toBeUndefined();
    expect(converted.anyOf).toEqual(alternatives);
  });

  it('keeps only structural required lists in sparse-fieldset mode', () => {
    const s = { type: 'object', required: ['type', 'attributes'], properties: { attributes: { type: 'object', required: ['email'] } } };
    const sparse = toJsonSchema(s, true);
    expect(sparse.required).toEqual(['type', 'attributes']);
    expect(sparse.properties.attributes.required).toBeUndefined();
  });
});

describe('checkFilter', () => {
  const declared = {
    email: { operators: { single: ['equals'], list: ['any', 'equals'] } },
    updated: { operators: { single: ['greater-than', 'less-than'] } },
  };
  it('accepts declared fields and operators, including inside and()', () => {
    expect(checkFilter('and(equals(email,"a(b,c)@x.io"),greater-than(updated,2024-01-01T00:00:00Z))', declared)).toEqual([]);
    expect(checkFilter("any(email,['a@x.io','b@x.io'])", declared)).toEqual([]);
  });
  it('rejects an undeclared field, an undeclared operator and a value that is no expression', () => {
    expect(checkFilter('equals(first_name,"Ann")', declared).join()).toMatch(/'first_name' is not filterable/);
    expect(checkFilter('contains(email,"@x.io")', declared).join()).toMatch(/operator 'contains' is not allowed on 'email'/);
    expect(checkFilter('email=a@x.io', declared).join()).toMatch(/no operator/);
  });
});

describe.skipIf(!spec)('SpecValidator against the Klaviyo spec', () => {
  describe('responses', () => {
    it('accepts a valid get_accounts response', () => {
      expect(v().validateResponse('get_accounts', 200, validAccounts())).toEqual([]);
    });

    it('rejects a response missing a required attribute', () => {
      const body = validAccounts();
      delete body.data[0].attributes.timezone;
      expect(v().validateResponse('get_accounts', 200, body).join('\n')).toMatch(/\/data\/0\/attributes: must have required property 'timezone'/);
    });

    it('rejects a wrong type', () => {
      const body = validAccounts();
      body.data[0].attributes.test_account = 'no';
      expect(v().validateResponse('get_accounts', 200, body).join('\n')).toMatch(/\/data\/0\/attributes\/test_account: must be boolean/);
    });

    it('rejects a wrong resource type, a null where the spec does not allow one, and a relative link', () => {
      const body = validAccounts();
      body.data[0].type = 'profile';
      body.data[0].attributes.locale = null;
      body.links.self = '/api/accounts/';
      const problems = v().validateResponse('get_accounts', 200, body).join('\n');
      expect(problems).toMatch(/\/data\/0\/type: must be equal to one of the allowed values/);
      expect(problems).toMatch(/\/data\/0\/attributes\/locale: must be string/);
      expect(problems).toMatch(/\/links\/self: must match format "uri"/);
    });

    it('rejects an attribute the spec never declares for the type (typos)', () => {
      const body = validAccounts();
      body.data[0].attributes.time_zone = 'UTC';
      expect(v().validateResponse('get_accounts', 200, body).join()).toMatch(/'time_zone' is not an attribute the spec declares for account/);
    });

    it('accepts missing required attributes only when the request used sparse fieldsets', () => {
      const body = validAccounts();
      body.data[0].attributes = { timezone: 'UTC' };
      expect(v().validateResponse('get_accounts', 200, body)).not.toEqual([]);
      expect(v().validateResponse('get_accounts', 200, body, { sparseFieldsets: true })).toEqual([]);
      delete body.data[0].type;
      expect(v().validateResponse('get_accounts', 200, body, { sparseFieldsets: true }).join()).toMatch(/required property 'type'/);
    });

    it('checks errors against the ClientError schema for 4xx and the ServerError schema for 5xx', () => {
      const error = { errors: [{ id: 'e1', code: 'throttled', title: 'Request was throttled.', detail: 'Try again in 1 second.' }] };
      expect(v().validateResponse('get_accounts', 429, error)).toEqual([]);
      expect(v().validateResponse('get_accounts', 503, error)).toEqual([]);
      expect(v().validateResponse('get_accounts', 401, { errors: [{ id: 'e1', code: 'not_authenticated' }] }).join()).toMatch(
        /required property 'title'/,
      );
      expect(v().validateResponse('get_accounts', 400, { message: 'bad' }).join()).toMatch(/required property 'errors'/);
    });

    it('rejects undeclared statuses and bodies on 204', () => {
      expect(v().validateResponse('get_accounts', 302, null).join()).toMatch(/status 302 is not a response get_accounts declares/);
      expect(v().validateResponse('delete_list', 204, null)).toEqual([]);
      expect(v().validateResponse('delete_list', 204, { data: null }).join()).toMatch(/has no body in the spec/);
      expect(v().validateResponse('get_accounts', 200, null).join()).toMatch(/must have a application\/vnd.api\+json body/);
    });

    it('accepts profile subscriptions only because additional-fields declares them, and checks their shape', () => {
      const profile = {
        type: 'profile',
        id: '01HZ0000000000000000000000',
        attributes: {
          email: 'ann@example.com', phone_number: null, external_id: null, first_name: 'Ann', last_name: null,
          organization: null, locale: null, title: null, image: null,
          created: '2024-01-01T00:00:00+00:00', updated: '2024-01-02T00:00:00+00:00', last_event_date: null,
          location: null, properties: {},
          subscriptions: { email: { marketing: { can_receive_email_marketing: 'yes' } } },
        },
        links: { self: 'https://a.klaviyo.com/api/profiles/01HZ0000000000000000000000/' },
      };
      const problems = v().validateResponse('get_profiles', 200, { data: [profile], links: { self: 'https://a.klaviyo.com/api/profiles/' } });
      expect(problems.join('\n')).toMatch(/subscriptions\/email\/marketing\/can_receive_email_marketing: must be boolean/);
      expect(problems.join('\n')).not.toMatch(/'subscriptions' is not an attribute/);
    });
  });

  describe('requests', () => {
    it('accepts a valid get_profiles request', () => {
      expect(
        getProfiles({
          'page[size]': '100',
          'fields[profile]': 'email,first_name,location.city',
          'additional-fields[profile]': 'subscriptions',
          filter: 'greater-than(updated,2024-01-01T00:00:00Z)',
          sort: '-updated',
          'page[cursor]': 'bmV4dA',
        }),
      ).toEqual([]);
    });

    it('rejects an unknown query parameter and a page[size] out of range', () => {
      expect(getProfiles({ 'page[limit]': '10' }).join()).toMatch(/query parameter 'page\[limit\]' is not one get_profiles declares/);
      expect(getProfiles({ 'page[size]': '101' }).join()).toMatch(/'page\[size\]=101' \/: must be <= 100/);
      expect(getProfiles({ 'page[size]': '0' }).join()).toMatch(/must be >= 1/);
      expect(getProfiles({ 'page[size]': 'ten' }).join()).toMatch(/is not a number/);
    });

    it('rejects a bad enum value in fields[profile], include, sort and additional-fields', () => {
      expect(getProfiles({ 'fields[profile]': 'email,nickname' }).join()).toMatch(/'fields\[profile\]=email,nickname' \/1: must be equal to one of the allowed values/);
      expect(getProfiles({ include: 'events' }).join()).toMatch(/'include=events'/);
      expect(getProfiles({ sort: 'first_name' }).join()).toMatch(/'sort=first_name'/);
      expect(getProfiles({ 'additional-fields[profile]': 'everything' }).join()).toMatch(/additional-fields/);
    });

    it('rejects a filter on a field the operation does not allow', () => {
      expect(getProfiles({ filter: 'equals(first_name,"Ann")' }).join()).toMatch(/'first_name' is not filterable/);
    });

    it('requires the revision header and the required query parameters', () => {
      expect(v().validateRequest('get_accounts', { method: 'GET', path: '/api/accounts', query: {}, headers: {} }).join()).toMatch(
        /missing required header 'revision'/,
      );
      expect(
        v().validateRequest('get_accounts', { method: 'GET', path: '/api/accounts', query: {}, headers: { revision: 'latest' } }).join(),
      ).toMatch(/not YYYY-MM-DD/);
      expect(
        v().validateRequest('get_campaigns', { method: 'GET', path: '/api/campaigns', query: {}, headers }).join(),
      ).toMatch(/missing required query parameter 'filter'/);
      expect(
        v().validateRequest('get_campaigns', { method: 'GET', path: '/api/campaigns', query: { filter: "equals(messages.channel,'email')" }, headers }),
      ).toEqual([]);
    });

    it('checks method, path and the request body', () => {
      expect(v().validateRequest('get_accounts', { method: 'POST', path: '/api/lists', query: {}, headers }).join('\n')).toMatch(
        /method POST but get_accounts is GET[\s\S]*does not match/,
      );
      const create = (body: unknown, h: Record<string, string> = { ...headers, 'content-type': 'application/vnd.api+json' }) =>
        v().validateRequest('create_list', { method: 'POST', path: '/api/lists', query: {}, headers: h, body });
      expect(create({ data: { type: 'list', attributes: { name: 'VIP' } } })).toEqual([]);
      expect(create({ data: { type: 'list', attributes: {} } }).join()).toMatch(/request body \/data\/attributes: must have required property 'name'/);
      expect(create({ data: { type: 'list', attributes: { name: 'VIP' } } }, headers).join()).toMatch(/without a content-type/);
      expect(create(null).join()).toMatch(/requires a request body/);
      expect(getProfiles({}).length).toBe(0);
      expect(
        v().validateRequest('get_profiles', { method: 'GET', path: '/api/profiles', query: {}, headers, body: { data: {} } }).join(),
      ).toMatch(/takes no request body/);
    });
  });

  describe('operationFor', () => {
    it('maps concrete paths to operation ids', () => {
      expect(v().operationFor('GET', '/api/accounts')).toBe('get_accounts');
      expect(v().operationFor('get', '/api/accounts/?page[size]=1')).toBe('get_accounts');
      expect(v().operationFor('GET', '/api/lists/Y6nRLr/profiles')).toBe('get_profiles_for_list');
      expect(v().operationFor('GET', '/api/profiles/01HZ0000000000000000000000')).toBe('get_profile');
      expect(v().operationFor('POST', '/api/profile-bulk-import-jobs')).toBe('bulk_import_profiles');
      expect(v().operationFor('GET', '/api/profile-bulk-import-jobs/01J0')).toBe('get_bulk_import_profiles_job');
      expect(v().operationFor('GET', '/api/nothing-here')).toBeNull();
      expect(v().operationFor('PUT', '/api/accounts')).toBeNull();
    });
  });

  describe('validateRecording', () => {
    const dir = mkdtempSync(join(tmpdir(), 'klv-specval-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const exchange = (over: Partial<RecordedExchange>): RecordedExchange => ({
      operationId: 'get_accounts',
      method: 'GET',
      path: '/api/accounts',
      query: {},
      requestHeaders: { revision: '2026-07-15', accept: 'application/vnd.api+json' },
      requestBody: null,
      status: 200,
      responseBody: validAccounts(),
      ...over,
    });

    it('checks every line, labels problems with the line and skips admin calls and ignored exchanges', () => {
      const file = join(dir, 'rec.ndjson');
      const lines = [
        exchange({}),
        exchange({ status: 401, responseBody: { errors: [{ id: 'x', code: 'not_authenticated', title: 'Bad key', detail: 'no' }] } }),
        exchange({ query: { 'page[size]': '5' } }),
        exchange({ operationId: 'get_account' }),
        exchange({ operationId: null, method: 'POST', path: '/_emulator/reset', requestHeaders: {} }),
        exchange({ requestHeaders: {}, status: 400, responseBody: { errors: [] } }),
        exchange({ operationId: null, path: '/api/unknown' }),
      ];
      writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\nnot json\n`);
      const report = v().validateRecording(file, { ignore: (e) => e.status === 400 });
      expect(report.exchanges).toBe(5);
      expect(report.skipped).toBe(2);
      const text = report.problems.join('\n');
      expect(text).toMatch(/^#3 GET \/api\/accounts\?page\[size\]=5 \(get_accounts\) request: query parameter 'page\[size\]' is not one get_accounts declares/m);
      expect(text).toMatch(/^#4 .*recorded as get_account, but the spec routes GET \/api\/accounts to get_accounts/m);
      expect(text).toMatch(/^#7 .*no operation in the spec for GET \/api\/unknown/m);
      expect(text).toMatch(/^#8: not a JSON line/m);
      expect(text).not.toMatch(/^#[126] /m);
      expect(report.problems).toHaveLength(4);
    });
  });
});
