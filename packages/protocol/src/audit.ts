import { Type, type Static } from 'typebox';

/** One audit record as the API returns it (spec §6). Times are ISO 8601 UTC. */
export const AuditRecordSchema = Type.Object({
  /** Position in the hash chain (ascending, gaps possible). */
  seq: Type.Integer(),
  id: Type.String(),
  time: Type.String({ format: 'date-time' }),
  /** Login name of the user, or what was typed at a failed login; empty for the system. */
  user: Type.String(),
  ip: Type.String(),
  event: Type.String(),
  status: Type.Union([Type.Literal('success'), Type.Literal('denied')]),
  /** Full path of the folder or entry, or the name of the user / role / level concerned. */
  target: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
  /** True when the action happened on an offline client and was reported later. */
  offline: Type.Boolean(),
  /** For offline reports: when the action happened on the client. */
  occurredAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export type AuditRecord = Static<typeof AuditRecordSchema>;

/**
 * Filters of the audit view and export. Query-string values are strings: numbers are written in
 * decimal. `from` is inclusive, `to` exclusive.
 */
export const AuditFilterQuerySchema = {
  from: Type.Optional(Type.String({ format: 'date-time', maxLength: 40 })),
  to: Type.Optional(Type.String({ format: 'date-time', maxLength: 40 })),
  /** Login name, matched whole and without regard to case. */
  user: Type.Optional(Type.String({ minLength: 1, maxLength: 320 })),
  /** Event name, exactly as listed by GET /audit/config. */
  event: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  /** Part of the target path, without regard to case. */
  target: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })),
  status: Type.Optional(Type.Union([Type.Literal('success'), Type.Literal('denied')])),
};

export const AuditListQuerySchema = Type.Object(
  {
    ...AuditFilterQuerySchema,
    /** 1..1000, default 100. */
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,7}$' })),
    /** From `nextCursor` of the previous page. */
    cursor: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,15}$' })),
    /** Records to skip (alternative to `cursor`). */
    offset: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$' })),
  },
  { additionalProperties: false },
);
export type AuditListQuery = Static<typeof AuditListQuerySchema>;

export const AuditPageSchema = Type.Object({
  /** Newest first. */
  items: Type.Array(AuditRecordSchema),
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type AuditPage = Static<typeof AuditPageSchema>;

export const AuditExportQuerySchema = Type.Object(
  {
    ...AuditFilterQuerySchema,
    format: Type.Union([Type.Literal('csv'), Type.Literal('jsonl')]),
  },
  { additionalProperties: false },
);
export type AuditExportQuery = Static<typeof AuditExportQuerySchema>;

export const AuditConfigSchema = Type.Object({
  /** Event types that are not recorded. */
  disabledEvents: Type.Array(Type.String()),
  /** Every event type the server records. */
  events: Type.Array(Type.String()),
  /** Event types that can never be switched off. */
  alwaysOnEvents: Type.Array(Type.String()),
});
export type AuditConfig = Static<typeof AuditConfigSchema>;

export const AuditConfigUpdateSchema = Type.Object(
  {
    disabledEvents: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 200 }),
  },
  { additionalProperties: false },
);
export type AuditConfigUpdate = Static<typeof AuditConfigUpdateSchema>;

export const AuditVerifyResultSchema = Type.Object({
  ok: Type.Boolean(),
  /** Records checked. */
  records: Type.Integer(),
  /** Sequence number of the first record that does not fit the chain. */
  firstBadSeq: Type.Optional(Type.Integer()),
  reason: Type.Optional(Type.String()),
  /** The newest record checked: write it down elsewhere to detect a later cut at the end. */
  lastSeq: Type.Union([Type.Integer(), Type.Null()]),
  lastHash: Type.Union([Type.String(), Type.Null()]),
});
export type AuditVerifyResult = Static<typeof AuditVerifyResultSchema>;
