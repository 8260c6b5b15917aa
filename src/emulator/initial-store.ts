/**
 * The account an emulator starts with and goes back to on POST /_emulator/reset: a store handed
 * over in process, the demo account, an empty one, or a snapshot file.
 */
import { readFileSync } from 'node:fs';
import type { AccountSnapshot, AccountStore } from './store/types.js';
import { createEmptyStore, snapshotOf, storeFromSnapshot } from './store/account-store.js';
import { createDemoStore } from './demo-data/index.js';

export interface InitialStoreOptions {
  store?: AccountStore;
  data?: 'demo' | 'empty' | string;
  profiles?: number;
}

/** A factory for the initial account; reading a snapshot file fails here, at start, not on the first reset. */
export function initialStoreFactory(o: InitialStoreOptions, clock: () => Date, seed: number): () => AccountStore {
  if (o.store) {
    // Reset goes back to the store as it was handed over, so remember it as a snapshot.
    const given = o.store;
    // Copied now: the given store's objects change as requests write to it.
    const snapshot = structuredClone(snapshotOf(given));
    let first = true;
    return () => {
      if (first) {
        first = false;
        return given;
      }
      return storeFromSnapshot(snapshot, { seed, clock });
    };
  }
  const data = o.data ?? 'demo';
  if (data === 'demo') return () => createDemoStore({ profiles: o.profiles, seed, clock });
  if (data === 'empty') return () => createEmptyStore({ seed, clock });
  const snapshot = readSnapshotFile(data);
  storeFromSnapshot(snapshot, { seed, clock }); // a bad file fails at start, not on the first reset
  return () => storeFromSnapshot(snapshot, { seed, clock });
}

function readSnapshotFile(file: string): AccountSnapshot {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`Cannot read the account snapshot ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text) as AccountSnapshot;
  } catch (err) {
    throw new Error(`The account snapshot ${file} is not valid JSON: ${(err as Error).message}`);
  }
}
