import { describe, expect, it } from 'vitest';
import { Router } from '../../src/emulator/http/router.js';

const router = new Router();

describe('Router (from the metadata path templates)', () => {
  it('finds collection, item, related and relationship operations', () => {
    expect(router.match('GET', '/api/profiles')).toEqual({ kind: 'operation', operationId: 'get_profiles', params: {} });
    expect(router.match('GET', '/api/profiles/')).toMatchObject({ operationId: 'get_profiles' });
    expect(router.match('GET', '/api/profiles/01ABC')).toEqual({ kind: 'operation', operationId: 'get_profile', params: { id: '01ABC' } });
    expect(router.match('GET', '/api/lists/Y6nRLr/profiles')).toMatchObject({ operationId: 'get_profiles_for_list', params: { id: 'Y6nRLr' } });
    expect(router.match('GET', '/api/lists/Y6nRLr/relationships/profiles')).toMatchObject({ operationId: 'get_profile_ids_for_list' });
    expect(router.match('POST', '/api/lists/Y6nRLr/relationships/profiles')).toMatchObject({ operationId: 'add_profiles_to_list' });
    expect(router.match('GET', '/api/campaign-messages/M1/template')).toMatchObject({ operationId: 'get_template_for_campaign_message' });
  });

  it('prefers literal segments over parameters', () => {
    expect(router.match('POST', '/api/profile-import')).toMatchObject({ operationId: 'create_or_update_profile' });
  });

  it('decodes parameters', () => {
    expect(router.match('GET', '/api/catalog-items/%24custom%3A%3A%3A%24default%3A%3A%3AABC')).toMatchObject({
      operationId: 'get_catalog_item',
      params: { id: '$custom:::$default:::ABC' },
    });
  });

  it('answers 405 with the allowed methods on a known path', () => {
    expect(router.match('PUT', '/api/profiles/01ABC')).toEqual({ kind: 'method-not-allowed', allowed: ['GET', 'PATCH'] });
    expect(router.match('DELETE', '/api/accounts')).toEqual({ kind: 'method-not-allowed', allowed: ['GET'] });
  });

  it('answers not-found for unknown paths', () => {
    expect(router.match('GET', '/api/nothing')).toEqual({ kind: 'not-found' });
    expect(router.match('GET', '/api/profiles/1/2/3/4')).toEqual({ kind: 'not-found' });
    expect(router.match('GET', '/api/profiles/%E0%A4%A')).toEqual({ kind: 'not-found' });
  });
});
