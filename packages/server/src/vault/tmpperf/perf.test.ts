import { randomUUID } from 'node:crypto';
import { describe, it } from 'vitest';
import { DIALECTS, createTestContext } from '../../test-support/harness.js';
import { adminActor, grant, userActor } from '../../test-support/vault.js';
import { adminToken, createUser, login } from '../../test-support/identity.js';

describe.each(DIALECTS)('perf %s', (dialect) => {
  it('tree', async () => {
    const ctx = await createTestContext(dialect, { config: { logLevel: 'warn' } });
    const v = ctx.services.vault;
    const admin = adminActor();
    const db = ctx.services.store.db;
    const now = Date.now();
    const folders: string[] = [];
    const top: string[] = [];
    for (let i = 0; i < 20; i++) { const id = randomUUID(); top.push(id); folders.push(id);
      await db.insertInto('folders').values({ id, parent_id: v.rootId, name: `top${i}`, kind: 'folder', notes: '', tags: '[]', custom_fields: '[]', client_meta: '{}', block_inheritance: 0, owner_user_id: null, expires_at: null, created_at: now, modified_at: now, archived_at: null }).execute(); }
    const rows = [];
    for (let i = 0; i < 480; i++) { const id = randomUUID(); folders.push(id);
      rows.push({ id, parent_id: top[i % 20]!, name: `f${i}`, kind: 'folder', notes: '', tags: '[]', custom_fields: '[]', client_meta: '{}', block_inheritance: 0, owner_user_id: null, expires_at: null, created_at: now, modified_at: now, archived_at: null }); }
    for (let i = 0; i < rows.length; i += 100) await db.insertInto('folders').values(rows.slice(i, i + 100)).execute();
    const pw = ctx.services.sealer.sealSecret('x', 'y');
    const entries: any[] = [];
    for (let i = 0; i < 10000; i++) entries.push({ id: randomUUID(), folder_id: folders[i % 500]!, name: `entry-${i}`, username: `user${i}`, url: `https://host${i}.example`, tags: '["a","b"]', notes_sealed: pw, password_sealed: pw, custom_fields_sealed: null, client_meta: '{}', expires_at: null, created_at: now, modified_at: now, modified_by: null, version: 1, archived_at: null });
    for (let i = 0; i < entries.length; i += 500) await db.insertInto('entries').values(entries.slice(i, i + 500)).execute();
    const user = userActor('u');
    for (let i = 0; i < 10; i++) await grant(ctx.services, { node: top[i]!, to: user.userId, level: 'read-only' });
    const time = async (label: string, fn: () => Promise<unknown>) => {
      const ts: number[] = [];
      for (let i = 0; i < 30; i++) { const t = performance.now(); await fn(); ts.push(performance.now() - t); }
      ts.sort((a, b) => a - b);
      console.log(dialect, label, 'p50', ts[15]!.toFixed(1), 'max', ts[29]!.toFixed(1));
    };
    await time('admin tree svc', () => v.tree(admin));
    await time('user tree svc', () => v.tree(user));
    const token = await adminToken(ctx);
    await time('admin tree http', () => ctx.app.inject({ method: 'GET', url: '/api/v1/vault/tree', headers: { authorization: `Bearer ${token}` } }));
    const u = await createUser(ctx.services, { loginName: 'bob' });
    for (let i = 0; i < 10; i++) await grant(ctx.services, { node: top[i]!, to: u.id, level: 'read-only' });
    const ut = await login(ctx.app, 'bob', u.password);
    await time('user tree http', () => ctx.app.inject({ method: 'GET', url: '/api/v1/vault/tree', headers: { authorization: `Bearer ${ut}` } }));
    const tr = await v.tree(admin);
    await time('stringify', async () => JSON.stringify(tr));
    const r = await ctx.app.inject({ method: 'GET', url: '/api/v1/vault/tree', headers: { authorization: `Bearer ${token}` } });
    console.log('len', r.body.length, r.headers['content-type']);
    await time('health', () => ctx.app.inject({ method: 'GET', url: '/api/v1/health' }));
    await time('admin entry get', () => v.getEntry(admin, entries[5]!.id).catch(() => 0));
    
    await ctx.close();
  }, 300_000);
});
