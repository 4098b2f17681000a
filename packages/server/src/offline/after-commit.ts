import type { Store } from '../db/connect.js';

/**
 * The store with a hook awaited after every write transaction commits (not after one that
 * rolls back: the error goes to the caller as before). The composition root uses it to re-check
 * offline caches after any change that can take offline access away — grants, access levels,
 * block inheritance, memberships, roles, users — whichever service or command made it: the hook
 * reads a few revision counters and does more only when one moved. The caller's promise settles
 * once the hook is done, so a request that removed someone's last offline grant answers after
 * their caches are revoked. The hook must not throw (a failure there must not turn a committed
 * change into an error) and must not use this wrapped store itself.
 */
export function withAfterCommit(store: Store, hook: () => Promise<void>): Store {
  return {
    db: store.db,
    dialect: store.dialect,
    close: () => store.close(),
    transaction: async (fn) => {
      const result = await store.transaction(fn);
      await hook();
      return result;
    },
    exclusive: async (name, fn) => {
      const result = await store.exclusive(name, fn);
      await hook();
      return result;
    },
  };
}

/**
 * Runs `task` for every caller, coalescing calls that arrive while one run is under way into
 * one more run after it: each caller's promise settles after a run that started after the call.
 */
export class Coalescer {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly task: () => Promise<void>) {}

  run(): Promise<void> {
    if (!this.running) {
      const p = this.task().finally(() => {
        if (this.running === p) this.running = undefined;
      });
      this.running = p;
      return p;
    }
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.run();
      });
    return this.queued;
  }
}
