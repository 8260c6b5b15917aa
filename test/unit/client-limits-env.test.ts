/** KLV_MAX_RETRY_AFTER and KLV_MAX_RESPONSE_MB: read once per command, refused when unreadable. */
import { describe, expect, it } from 'vitest';
import { maxResponseBytesFromEnv, maxRetryAfterMsFromEnv } from '../../src/cli/context.js';
import { UsageError } from '../../src/core/errors.js';

describe('KLV_MAX_RETRY_AFTER', () => {
  it('is seconds, fractions allowed; unset or empty leaves the default', () => {
    expect(maxRetryAfterMsFromEnv({})).toBeUndefined();
    expect(maxRetryAfterMsFromEnv({ KLV_MAX_RETRY_AFTER: ' ' })).toBeUndefined();
    expect(maxRetryAfterMsFromEnv({ KLV_MAX_RETRY_AFTER: '900' })).toBe(900_000);
    expect(maxRetryAfterMsFromEnv({ KLV_MAX_RETRY_AFTER: '0.5' })).toBe(500);
    expect(maxRetryAfterMsFromEnv({ KLV_MAX_RETRY_AFTER: '0' })).toBe(0);
  });
  it.each(['-1', 'ten', '1e9', 'Infinity'])('refuses %s as a usage error naming the variable', (value) => {
    expect(() => maxRetryAfterMsFromEnv({ KLV_MAX_RETRY_AFTER: value })).toThrow(UsageError);
    expect(() => maxRetryAfterMsFromEnv({ KLV_MAX_RETRY_AFTER: value })).toThrow(/KLV_MAX_RETRY_AFTER must be a number of seconds/);
  });
});

describe('KLV_MAX_RESPONSE_MB', () => {
  it('is megabytes', () => {
    expect(maxResponseBytesFromEnv({})).toBeUndefined();
    expect(maxResponseBytesFromEnv({ KLV_MAX_RESPONSE_MB: '1' })).toBe(1_048_576);
  });
  it.each(['0', '-5', 'lots', '5000'])('refuses %s', (value) => {
    expect(() => maxResponseBytesFromEnv({ KLV_MAX_RESPONSE_MB: value })).toThrow(/KLV_MAX_RESPONSE_MB must be a number of megabytes/);
  });
});
