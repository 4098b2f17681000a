/**
 * Serialised tree responses, per caller, kept while nothing they show can have changed: the
 * `vault` revision counter (folders, entries, attachments, grants, levels) is the same, the
 * caller has the same roles, and none of the caller's time-limited grants has expired since.
 * Bounded by total size (least recently used out first). Each body has an ETag, so clients can
 * ask again with If-None-Match and get 304.
 */
export interface CachedTree {
  revision: number;
  /** The tree stops being valid at this time (the caller's next grant expiry). */
  validUntil: number;
  etag: string;
  /** The serialised tree (UTF-8 JSON). */
  body: Buffer;
}

export class TreeResponseCache {
  private readonly items = new Map<string, CachedTree>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string, revision: number, now: number): CachedTree | undefined {
    const item = this.items.get(key);
    if (!item) return undefined;
    if (item.revision !== revision || now >= item.validUntil) {
      this.delete(key);
      return undefined;
    }
    // Most recently used last.
    this.items.delete(key);
    this.items.set(key, item);
    return item;
  }

  set(key: string, item: CachedTree): void {
    this.delete(key);
    const size = item.body.length;
    if (size > this.maxBytes) return;
    this.items.set(key, item);
    this.bytes += size;
    for (const [k] of this.items) {
      if (this.bytes <= this.maxBytes) break;
      this.delete(k);
    }
  }

  private delete(key: string): void {
    const item = this.items.get(key);
    if (!item) return;
    this.items.delete(key);
    this.bytes -= item.body.length;
  }
}
