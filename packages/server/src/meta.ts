import { newUuid } from '@strongroom/crypto';
import type { Store } from './db/connect.js';

/** The server's identity (a GUID made at first start), shared by every process on one database. */
export async function ensureServerIdentity(store: Store): Promise<string> {
  return store.transaction(async (trx) => {
    const row = await trx
      .selectFrom('meta')
      .select('value')
      .where('key', '=', 'server_id')
      .executeTakeFirst();
    if (row) return row.value;
    const id = newUuid();
    await trx.insertInto('meta').values({ key: 'server_id', value: id }).execute();
    return id;
  });
}
