/**
 * Opens the destination a `--to` URL names: the database (src/db, drivers loaded lazily) behind
 * replicate's Destination contract.
 */
import { openDatabase } from '../../db/open.js';
import type { DestinationOptions } from '../destination.js';
import { SqlDestination } from './sql-destination.js';

export { SqlDestination };

/** The default destination of `klv replicate`. */
export const DEFAULT_DESTINATION = 'sqlite:./klaviyo.db';

export async function openDestination(url: string, opts: DestinationOptions & { stagingBatch?: number } = {}): Promise<SqlDestination> {
  const db = await openDatabase(url, { schema: opts.schema });
  return new SqlDestination(db, { tablePrefix: opts.tablePrefix, stagingBatch: opts.stagingBatch });
}
