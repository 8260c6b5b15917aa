/**
 * `--demo`: an in-process emulator serving the demo account, so any command can be tried
 * without a Klaviyo account. It enforces the spec's rate limits like the real API, so what
 * works against the demo works against Klaviyo.
 */
import { DEMO_PRIVATE_KEY, DEMO_PUBLIC_KEY } from './demo-data/index.js';
import { startEmulator, type EmulatorOptions } from './server.js';

/** `quirks`: real-world quirks to switch on (see http/quirks.ts), for in-process tests of klv against them. */
export async function startDemoEmulator(
  options: Pick<EmulatorOptions, 'quirks'> = {},
): Promise<{ url: string; privateKey: string; publicKey: string; close(): Promise<void> }> {
  const emulator = await startEmulator({ data: 'demo', rateLimits: 'spec', key: DEMO_PRIVATE_KEY, quirks: options.quirks });
  return {
    url: emulator.url,
    privateKey: DEMO_PRIVATE_KEY,
    publicKey: DEMO_PUBLIC_KEY,
    close: () => emulator.close(),
  };
}
