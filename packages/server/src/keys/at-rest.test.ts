import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { newUuid } from '@strongroom/crypto';
import { DIALECTS, createTestContext, testSecret } from '../test-support/harness.js';
import { adminActor } from '../test-support/vault.js';
import { createUser } from '../test-support/identity.js';

/**
 * The ways a secret could sit in a file or a row dump without being encrypted: as UTF-8 text,
 * as hex (PostgreSQL prints bytea as hex), and as base64 / base64url at each of the three
 * alignments it could have inside a longer encoded value.
 */
function encodings(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const out = [secret, bytes.toString('hex'), bytes.toString('hex').toUpperCase()];
  for (let k = 0; k < 3; k++) {
    const b64 = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64');
    // Only the characters that encode secret bytes alone.
    const start = k === 0 ? 0 : 4;
    const end = Math.floor((k + bytes.length) / 3) * 4;
    const core = b64.slice(start, end);
    out.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

function expectAbsent(haystack: string, secrets: string[], where: string): void {
  for (const secret of secrets) {
    for (const form of encodings(secret)) {
      expect({ where, secret, found: haystack.includes(form) }).toEqual({
        where,
        secret,
        found: false,
      });
    }
  }
}

describe.each(DIALECTS)('encryption at rest (%s)', (dialect) => {
  it('a copy of the database holds no secret, in any encoding', async () => {
    const ctx = await createTestContext(dialect);
    const { services } = ctx;
    const admin = adminActor();
    const marker = `AtRestVisibleName${newUuid().slice(0, 8)}`;
    const secrets = {
      sealedPassword: testSecret('direct-password'),
      sealedNotes: testSecret('direct-notes'),
      sealedCustom: testSecret('direct-custom'),
      password: testSecret('vault-password'),
      newPassword: testSecret('vault-new-password'),
      notes: testSecret('vault-notes'),
      protectedField: testSecret('vault-protected'),
      attachment: testSecret('vault-attachment'),
      addedAttachment: testSecret('vault-added-attachment'),
      totpSeed: testSecret('totp-seed'),
      loginPassword: testSecret('login-password'),
    };
    const all = Object.values(secrets);
    let closed = false;
    try {
      // 1. Sealed directly through the sealer into a real entry row.
      const directId = newUuid();
      const now = services.clock.now();
      const seal = (value: string, column: string) =>
        services.sealer.sealSecret(value, `entries:${directId}:${column}`);
      await services.store.db
        .insertInto('entries')
        .values({
          id: directId,
          folder_id: services.vault.rootId,
          name: `${marker}-direct`,
          username: 'svc-account',
          url: '',
          tags: '[]',
          notes_sealed: seal(secrets.sealedNotes, 'notes'),
          password_sealed: seal(secrets.sealedPassword, 'password'),
          custom_fields_sealed: seal(
            JSON.stringify([{ name: 'pin', value: secrets.sealedCustom, protected: true }]),
            'custom_fields',
          ),
          client_meta: '{}',
          expires_at: null,
          created_at: now,
          modified_at: now,
          modified_by: null,
          version: 1,
          archived_at: null,
        })
        .execute();
      const row = await services.store.db
        .selectFrom('entries')
        .selectAll()
        .where('id', '=', directId)
        .executeTakeFirstOrThrow();
      expect(
        services.sealer.openSecretText(row.password_sealed!, `entries:${directId}:password`),
      ).toBe(secrets.sealedPassword);

      // 2. Through the vault: password, notes, a protected custom field, attachments, and a
      //    second save so that the history holds a sealed snapshot of the first version.
      const entry = await services.vault.createEntry(admin, {
        folderId: services.vault.rootId,
        name: `${marker}-vault`,
        username: 'db-admin',
        password: secrets.password,
        notes: secrets.notes,
        customFields: [
          { name: 'Recovery PIN', value: secrets.protectedField, protected: true },
          { name: 'Region', value: 'eu-west-1', protected: false },
        ],
        attachments: [{ fileName: 'key.txt', data: Buffer.from(secrets.attachment, 'utf8') }],
      });
      const added = await services.vault.addAttachment(admin, entry.id, {
        fileName: 'second.txt',
        data: Buffer.from(secrets.addedAttachment, 'utf8').toString('base64'),
      });
      await services.vault.updateEntry(admin, entry.id, { password: secrets.newPassword });
      // The values are really stored: they come back through the service.
      expect(await services.vault.getPassword(admin, entry.id)).toBe(secrets.newPassword);
      const att = await services.vault.getAttachment(admin, entry.id, added.id);
      expect(Buffer.from(att.data, 'base64').toString('utf8')).toBe(secrets.addedAttachment);
      const versions = await services.store.db
        .selectFrom('entry_versions')
        .select('id')
        .where('entry_id', '=', entry.id)
        .execute();
      expect(versions.length).toBeGreaterThanOrEqual(1);

      // 3. A user with a login password (hashed) and a TOTP seed (sealed).
      const user = await createUser(services, {
        loginName: `${marker}-user`,
        password: secrets.loginPassword,
      });
      await services.store.db
        .updateTable('users')
        .set({
          totp_secret_sealed: services.sealer.sealSecret(secrets.totpSeed, `users:${user.id}:totp`),
        })
        .where('id', '=', user.id)
        .execute();

      if (dialect === 'postgres') {
        // Every row of every table of the schema, as PostgreSQL prints it.
        const tables = await sql<{ table_name: string }>`
          select table_name from information_schema.tables
          where table_schema = ${ctx.db.pgSchema!} and table_type = 'BASE TABLE'`.execute(
          services.store.db,
        );
        expect(tables.rows.map((t) => t.table_name)).toEqual(
          expect.arrayContaining([
            'entries',
            'entry_versions',
            'attachments',
            'users',
            'audit_log',
          ]),
        );
        let dump = '';
        for (const { table_name } of tables.rows) {
          const rows = await sql<{ row: string }>`select t::text as row from ${sql.table(
            table_name,
          )} t`.execute(services.store.db);
          dump += `${rows.rows.map((r) => r.row).join('\n')}\n`;
        }
        expect(dump).toContain(marker);
        expectAbsent(dump, all, 'PostgreSQL rows');
      } else {
        const dir = ctx.db.dataDir;
        const files = ['strongroom.db', 'strongroom.db-wal', 'strongroom.db-shm'];
        const read = () =>
          files
            .filter((f) => existsSync(join(dir, f)))
            .map((f) => readFileSync(join(dir, f)).toString('latin1'))
            .join('\n');
        // While the server runs, recent writes sit in the write-ahead log.
        expect(existsSync(join(dir, 'strongroom.db-wal'))).toBe(true);
        const live = read();
        expect(live).toContain(marker);
        expectAbsent(live, all, 'SQLite files while open');
        await ctx.app.close();
        await services.close();
        closed = true;
        const atRest = read();
        expect(atRest).toContain(marker);
        expectAbsent(atRest, all, 'SQLite files after close');
      }
    } finally {
      if (closed) await ctx.db.drop();
      else await ctx.close();
    }
  });
});
