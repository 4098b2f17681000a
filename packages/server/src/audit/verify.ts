import type { AuditVerifyResult } from '@strongroom/protocol';
import type { Store } from '../db/connect.js';
import { GENESIS_HASH, recordHash } from './recorder.js';
import { AuditRepository } from './repository.js';

export type { AuditVerifyResult };

export interface VerifyOptions {
  /** Records read per query (memory stays flat however long the log is). */
  pageSize?: number;
}

/**
 * Walks the whole audit log in seq order and recomputes every record's hash from its fields and
 * the previous record's hash. The first record that does not fit is reported:
 * - its `prev_hash` is not the hash of the record before it: a record was deleted, inserted or
 *   moved (for a deletion, the record after the gap is named);
 * - its `hash` is not the hash of its own fields: the record was edited.
 *
 * A cut at the very end of the log leaves a valid shorter chain; `lastSeq`/`lastHash` name the
 * head so that it can be compared with a copy kept elsewhere (the audit sink, an earlier run).
 */
export async function verifyAuditChain(
  store: Store,
  opts: VerifyOptions = {},
): Promise<AuditVerifyResult> {
  const pageSize = opts.pageSize ?? 5000;
  const repo = new AuditRepository(store.db, store.dialect);
  let prev = GENESIS_HASH;
  let afterSeq = -1;
  let records = 0;
  let lastSeq: number | null = null;
  for (;;) {
    const rows = await repo.pageOldestFirst({}, afterSeq, null, pageSize);
    for (const row of rows) {
      const seq = Number(row.seq);
      records++;
      const bad = (reason: string): AuditVerifyResult => ({
        ok: false,
        records,
        firstBadSeq: seq,
        reason,
        lastSeq,
        lastHash: lastSeq === null ? null : prev,
      });
      if (row.prev_hash !== prev) {
        return bad(
          records === 1
            ? 'the first record does not start the chain: earlier records were deleted'
            : 'the record does not follow the one before it: a record was deleted, inserted or moved',
        );
      }
      const expected = recordHash(prev, {
        id: row.id,
        at: Number(row.at),
        user_id: row.user_id,
        login_name: row.login_name,
        ip: row.ip,
        event: row.event,
        status: row.status,
        target: row.target,
        details: row.details,
        offline: Number(row.offline),
        occurred_at: row.occurred_at === null ? null : Number(row.occurred_at),
      });
      if (row.hash !== expected) {
        return bad('the record was changed after it was written (its hash does not match)');
      }
      prev = row.hash;
      lastSeq = seq;
      afterSeq = seq;
    }
    if (rows.length < pageSize) break;
  }
  return { ok: true, records, lastSeq, lastHash: lastSeq === null ? null : prev };
}
