import type {
  AuditConfig,
  AuditListQuery,
  AuditPage,
  AuditRecord,
  AuditVerifyResult,
} from '@strongroom/protocol';
import type { Store } from '../db/connect.js';
import type { Clock } from '../shared/clock.js';
import { invalid } from '../shared/errors.js';
import { parseStoredJson } from '../shared/json.js';
import { csvLine } from './csv.js';
import { ALWAYS_ON_EVENTS, AUDIT_EVENTS, type AuditEventName } from './events.js';
import type { AuditActor, AuditRecorder } from './recorder.js';
import { AuditRepository, type AuditFilter, type AuditRow } from './repository.js';
import { verifyAuditChain } from './verify.js';

export const AUDIT_PAGE_DEFAULT = 100;
export const AUDIT_PAGE_MAX = 1000;
const EXPORT_PAGE = 1000;

/** The filter fields of a query string, as strings (see AuditFilterQuerySchema). */
export interface AuditFilterQuery {
  from?: string;
  to?: string;
  user?: string;
  event?: string;
  target?: string;
  status?: 'success' | 'denied';
}

export type AuditExportFormat = 'csv' | 'jsonl';

export interface AuditExport {
  contentType: string;
  fileName: string;
  /** The file, produced page by page as it is read. */
  chunks: AsyncIterable<string>;
}

function parseTime(field: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (!Number.isFinite(t)) throw invalid(field, `${field.slice(1)} must be an ISO 8601 time.`);
  return t;
}

/** Checks and converts the filter fields; every failure names its field. */
export function parseAuditFilter(q: AuditFilterQuery): AuditFilter {
  const f: AuditFilter = {};
  const from = parseTime('/from', q.from);
  const to = parseTime('/to', q.to);
  if (from !== undefined) f.from = from;
  if (to !== undefined) f.to = to;
  if (from !== undefined && to !== undefined && from > to) {
    throw invalid('/to', 'to must not be earlier than from.');
  }
  if (q.user !== undefined) f.user = q.user;
  if (q.event !== undefined) {
    if (!(AUDIT_EVENTS as readonly string[]).includes(q.event)) {
      throw invalid('/event', `Unknown audit event "${q.event}"; see GET /api/v1/audit/config.`);
    }
    f.event = q.event;
  }
  if (q.target !== undefined) f.target = q.target;
  if (q.status !== undefined) f.status = q.status;
  return f;
}

export function toAuditRecord(row: AuditRow): AuditRecord {
  const details = parseStoredJson<unknown>(row.details, {});
  return {
    seq: Number(row.seq),
    id: row.id,
    time: new Date(Number(row.at)).toISOString(),
    user: row.login_name,
    ip: row.ip,
    event: row.event,
    status: row.status === 'denied' ? 'denied' : 'success',
    target: row.target,
    details:
      details && typeof details === 'object' && !Array.isArray(details)
        ? (details as Record<string, unknown>)
        : { value: details },
    offline: Number(row.offline) === 1,
    occurredAt: row.occurred_at === null ? null : new Date(Number(row.occurred_at)).toISOString(),
  };
}

const CSV_COLUMNS = [
  'seq',
  'time',
  'user',
  'ip',
  'event',
  'status',
  'target',
  'details',
  'offline',
  'occurredAt',
  'hash',
] as const;

function csvRecord(row: AuditRow): string {
  const r = toAuditRecord(row);
  return csvLine([
    r.seq,
    r.time,
    r.user,
    r.ip,
    r.event,
    r.status,
    r.target,
    row.details,
    r.offline,
    r.occurredAt,
    row.hash,
  ]);
}

function jsonlRecord(row: AuditRow): string {
  return `${JSON.stringify({ ...toAuditRecord(row), hash: row.hash })}\n`;
}

/** Viewing, exporting, configuring and verifying the audit log (spec §6). */
export class AuditLogService {
  private readonly repo: AuditRepository;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditRecorder,
    private readonly clock: Clock,
  ) {
    this.repo = new AuditRepository(store.db, store.dialect);
  }

  /** Newest first. Page with `cursor` (from the previous page's `nextCursor`) or `offset`. */
  async list(query: AuditListQuery): Promise<AuditPage> {
    const filter = parseAuditFilter(query);
    const limit = query.limit === undefined ? AUDIT_PAGE_DEFAULT : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_PAGE_MAX) {
      throw invalid('/limit', `limit must be between 1 and ${AUDIT_PAGE_MAX}.`);
    }
    if (query.cursor !== undefined && query.offset !== undefined) {
      throw invalid('/offset', 'Give either cursor or offset, not both.');
    }
    const rows = await this.repo.listNewestFirst(filter, {
      limit: limit + 1,
      ...(query.cursor !== undefined ? { beforeSeq: Number(query.cursor) } : {}),
      ...(query.offset !== undefined ? { offset: Number(query.offset) } : {}),
    });
    const items = rows.slice(0, limit).map(toAuditRecord);
    const more = rows.length > limit;
    return { items, nextCursor: more ? String(items[items.length - 1]!.seq) : null };
  }

  /**
   * Exports the records that match, oldest first, as they were when the export was asked for.
   * The export itself is recorded (`Audit Exported`) before the first byte is produced.
   */
  async export(
    query: AuditFilterQuery,
    format: AuditExportFormat,
    actor: AuditActor,
  ): Promise<AuditExport> {
    const filter = parseAuditFilter(query);
    const upTo = (await this.repo.lastSeq()) ?? 0;
    const filters = Object.fromEntries(
      Object.entries(query).filter(([, v]) => v !== undefined),
    ) as Record<string, string>;
    await this.audit.record({
      event: 'Audit Exported',
      status: 'success',
      actor,
      details: { format, filters, upToSeq: upTo },
    });
    const repo = this.repo;
    async function* chunks(): AsyncGenerator<string> {
      if (format === 'csv') yield csvLine([...CSV_COLUMNS]);
      let after = -1;
      for (;;) {
        const rows = await repo.pageOldestFirst(filter, after, upTo, EXPORT_PAGE);
        if (rows.length > 0) {
          yield rows.map(format === 'csv' ? csvRecord : jsonlRecord).join('');
          after = Number(rows[rows.length - 1]!.seq);
        }
        if (rows.length < EXPORT_PAGE) break;
      }
    }
    const stamp = new Date(this.clock.now())
      .toISOString()
      .slice(0, 19)
      .replace(/[-:]/g, '')
      .replace('T', '-');
    return {
      contentType: format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
      fileName: `strongroom-audit-${stamp}.${format}`,
      chunks: chunks(),
    };
  }

  async getConfig(): Promise<AuditConfig> {
    const disabled = new Set(await this.repo.disabledEvents());
    return {
      disabledEvents: AUDIT_EVENTS.filter((e) => disabled.has(e)),
      events: [...AUDIT_EVENTS],
      alwaysOnEvents: AUDIT_EVENTS.filter((e) => ALWAYS_ON_EVENTS.has(e)),
    };
  }

  /** Replaces the set of switched-off event types. Always-on events can't be switched off. */
  async setConfig(disabledEvents: readonly string[], actor: AuditActor): Promise<AuditConfig> {
    const wanted = new Set<AuditEventName>();
    disabledEvents.forEach((name, i) => {
      if (!(AUDIT_EVENTS as readonly string[]).includes(name)) {
        throw invalid(`/disabledEvents/${i}`, `Unknown audit event "${name}".`);
      }
      const event = name as AuditEventName;
      if (ALWAYS_ON_EVENTS.has(event)) {
        throw invalid(`/disabledEvents/${i}`, `The event "${name}" can't be switched off.`);
      }
      wanted.add(event);
    });
    const next = AUDIT_EVENTS.filter((e) => wanted.has(e));
    await this.store.transaction(async (trx) => {
      const before = new Set(await this.repo.disabledEvents(trx));
      await this.repo.setDisabledEvents(trx, next);
      await this.audit.record(
        {
          event: 'Audit Configuration Changed',
          status: 'success',
          actor,
          details: {
            disabledEvents: next,
            switchedOff: next.filter((e) => !before.has(e)),
            switchedOn: AUDIT_EVENTS.filter((e) => before.has(e) && !wanted.has(e)),
          },
        },
        trx,
      );
    });
    this.audit.invalidateSettings();
    return this.getConfig();
  }

  verify(): Promise<AuditVerifyResult> {
    return verifyAuditChain(this.store);
  }
}
