import { closeSync, openSync, writeSync } from 'node:fs';

export interface AuditSink {
  /** Called once per committed record, in chain order. */
  write(record: Record<string, unknown>): void;
  close(): void;
}

/**
 * The SIEM sink: one JSON object per line, appended to a file (created with mode 0600) that a log
 * forwarder can tail. Each line is written synchronously after the record commits, so the file
 * keeps the chain order. A failing write never fails the request that caused the record (the
 * record is already in the database); it is reported once through `onError` until a write
 * succeeds again.
 */
export function openFileSink(
  path: string,
  onError: (err: Error) => void = (err) =>
    process.emitWarning(`the audit sink file can't be written: ${err.message}`),
): AuditSink {
  const fd = openSync(path, 'a', 0o600);
  let failing = false;
  let closed = false;
  return {
    write(record) {
      if (closed) return;
      try {
        writeSync(fd, `${JSON.stringify(record)}\n`);
        failing = false;
      } catch (err) {
        if (!failing) onError(err as Error);
        failing = true;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
}
