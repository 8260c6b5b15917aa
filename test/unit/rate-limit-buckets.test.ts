import { describe, it, expect } from 'vitest';
import { rateLimitBucket, limitsForBucketKey } from '../../src/klaviyo/rate-limit-buckets.js';

describe('rate-limit buckets', () => {
  it('uses the endpoint\'s own limits by default', () => {
    expect(rateLimitBucket('get_list', {})).toEqual({ key: 'get_list', limit: { burst: 75, steady: 750, daily: null } });
  });

  it('moves profile_count requests to the 1/s, 15/m tier, counted apart', () => {
    const b = rateLimitBucket('get_list', { 'additional-fields[list]': 'profile_count' });
    expect(b).toEqual({ key: 'get_list[additional-fields[list]=profile_count]', limit: { burst: 1, steady: 15, daily: null } });
    expect(limitsForBucketKey(b!.key)).toEqual(b!.limit);
  });

  it('reads comma lists and URLSearchParams alike', () => {
    const q = new URLSearchParams('include=push-tokens,lists');
    expect(rateLimitBucket('get_profile', q)?.limit).toEqual({ burst: 1, steady: 15, daily: null });
    expect(rateLimitBucket('get_profiles', { 'additional-fields[profile]': ['subscriptions', 'predictive_analytics'] })?.limit.steady).toBe(150);
    expect(rateLimitBucket('get_profiles', { 'additional-fields[profile]': ['subscriptions'] })?.limit.steady).toBe(750);
  });

  it('knows nothing of unknown operations', () => {
    expect(rateLimitBucket('no_such_op')).toBeUndefined();
    expect(limitsForBucketKey('no_such_op')).toBeUndefined();
  });
});
