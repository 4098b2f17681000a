import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VaultPermission } from '@strongroom/protocol';
import {
  DIALECTS,
  createTestContext,
  testSecret,
  type TestContext,
} from '../test-support/harness.js';
import { createRole } from '../test-support/identity.js';
import {
  ALL,
  MatrixHarness,
  defineRowCases,
  entryRef,
  expectError,
  folderRef,
  ok,
  row,
  type Caller,
  type CreatedEntry,
  type Flags,
  type NodeNeed,
  type Row,
  ENTRY_SEEN,
  FOLDER_SEEN,
  entryCase,
  expectAudited,
} from './permission-matrix.support.js';

/**
 * The permission matrix (spec §3): every vault endpoint, and every access endpoint that acts on a
 * vault node, succeeds exactly when the caller's effective permissions allow it.
 *
 * Each row of ROWS names the permissions the endpoint requires, per node (the grant is made on
 * that node). For each row, with a fresh user per case:
 *  1. a grant of exactly the required set on each node: the call succeeds, with its effect;
 *  2. for each required permission, the same grants without it: the call fails — 404 when the
 *     node becomes invisible, 403 `not_allowed` when it stays visible — with no effect;
 *  3. for each required permission, a grant of every other permission of the catalogue (A and G
 *     flags alike) on that node, but not that one: the call still fails the same way;
 *  4. an administrator with no grant at all: the call succeeds.
 * Filtered reads (tree, search, listings) "succeed" when the item is in the answer and "fail"
 * when it is left out.
 *
 * Endpoint → required permissions (A = may do, G = may grant; "entry's folder" = the grant is made
 * on the folder holding the entry; an entry-level grant says "entry itself"):
 *
 * | Endpoint                                    | Node (grant made on)           | Required        |
 * | ------------------------------------------- | ------------------------------ | --------------- |
 * | POST /folders                               | parent folder                  | A viewFolders¹, addFolders |
 * | GET /folders/:id (details)                  | folder (empty)                 | A viewFolders¹ |
 * | GET /folders/:id (entries listed)           | folder                         | A viewEntryNames⁴ |
 * | PATCH /folders/:id                          | folder                         | A viewFolders¹, modifyFolders |
 * | POST /folders/:id/move                      | folder                         | A viewFolders¹ |
 * |                                             | source (its parent)            | A moveFolders |
 * |                                             | destination                    | A viewFolders¹, moveFolders |
 * | POST /folders/:id/archive                   | folder (sub-folders inherit)   | A viewFolders¹, archiveFolders |
 * |                                             | entry inside (entry itself)    | A archiveEntries |
 * | POST /folders/:id/restore                   | Archive item (the folder)      | A viewFolders¹, archiveFolders |
 * |                                             | destination                    | A viewFolders¹, addFolders |
 * | DELETE /folders/:id                         | Archive item (the folder)      | A viewFolders¹, deleteFolders |
 * |                                             | entry inside (entry itself)    | A deleteEntries |
 * | POST /entries                               | folder                         | A viewFolders¹, addEntries |
 * | GET /entries/:id                            | entry's folder                 | A viewEntryNames², viewEntryContents |
 * | GET /entries/:id (protected field value)    | entry's folder                 | A viewEntryNames², viewEntryContents, viewEntryPassword³ |
 * | PATCH /entries/:id                          | entry's folder                 | A viewEntryNames², viewEntryContents, modifyEntries |
 * | GET /entries/:id/password                   | entry's folder                 | A viewEntryNames², viewEntryPassword (audited success/denied) |
 * | POST /entries/:id/move                      | source (entry's folder)        | A viewEntryNames², moveEntries |
 * |                                             | destination                    | A viewFolders¹, moveEntries |
 * | POST /entries/:id/archive                   | entry's folder                 | A viewEntryNames², archiveEntries |
 * | POST /entries/:id/restore                   | Archive item (entry itself)    | A viewEntryNames², archiveEntries |
 * |                                             | destination                    | A viewFolders¹, addEntries |
 * | DELETE /entries/:id                         | Archive item (entry itself)    | A viewEntryNames², deleteEntries |
 * | GET /entries/:id/attachments                | entry's folder                 | A viewEntryNames², viewEntryContents |
 * | POST /entries/:id/attachments               | entry's folder                 | A viewEntryNames², viewEntryContents, modifyEntries |
 * | GET /entries/:id/attachments/:aid           | entry's folder                 | A viewEntryNames², viewEntryContents |
 * | GET …/attachments/:aid (removed one)        | entry's folder                 | A viewEntryNames², viewEntryContents, viewEntryHistory (404 without) |
 * | DELETE /entries/:id/attachments/:aid        | entry's folder                 | A viewEntryNames², viewEntryContents, modifyEntries |
 * | GET /entries/:id/history                    | entry's folder                 | A viewEntryNames², viewEntryHistory |
 * | GET /entries/:id/history/:version           | entry's folder                 | A viewEntryNames², viewEntryHistory, viewEntryContents |
 * | GET /entries/:id/history/:version/password  | entry's folder                 | A viewEntryNames², viewEntryHistory, viewEntryPassword (audited) |
 * | POST /entries/:id/history/:version/restore  | entry's folder                 | A viewEntryNames², viewEntryContents, viewEntryHistory, modifyEntries |
 * | GET /vault/tree (folder shown)              | folder (empty)                 | A viewFolders⁴ |
 * | GET /vault/tree (entry listed)              | entry's folder                 | A viewEntryNames⁴ |
 * | GET /vault/search (by entry name)           | entry's folder                 | A viewEntryNames⁴ |
 * | GET /vault/search (by username)             | entry's folder                 | A viewEntryNames, viewEntryContents⁴ |
 * | GET /vault/archive (entry listed)           | Archive item (entry itself)    | A viewEntryNames⁴ |
 * | GET /vault/archive (folder listed)          | Archive item (the folder)      | A viewFolders⁴ |
 * | GET /folders/:id/access                     | folder                         | A viewFolders¹, viewAccess |
 * | GET /entries/:id/access                     | entry's folder                 | A viewEntryNames², viewAccess |
 * | POST /folders/:id/access (level L1)         | folder                         | A viewFolders¹; G viewFolders, viewEntryNames |
 * | DELETE /folders/:id/access/:gid (L1)        | folder                         | A viewFolders¹; G viewFolders, viewEntryNames |
 * | POST /entries/:id/access (level L2)         | entry's folder                 | A viewEntryNames²; G viewEntryNames, viewEntryContents |
 * | DELETE /entries/:id/access/:gid (L2)        | entry's folder                 | A viewEntryNames²; G viewEntryNames, viewEntryContents |
 * | PUT /folders/:id/block-inheritance          | folder                         | A viewFolders¹, setBlockInheritance |
 *
 * L1 = {A viewFolders, viewEntryNames; G viewFolders}, L2 = {A viewEntryNames, viewEntryContents;
 * G viewEntryNames}: granting or removing a level needs every A and G flag of it as a G flag.
 * ¹ without it the folder is invisible: 404. ² without it the entry is invisible: 404.
 * ³ without it the call succeeds but the protected value is withheld (null).
 * ⁴ a filtered read: without it the item is left out of the answer.
 * Not in the matrix: POST /users/:userId/private-folder (an application permission, not a vault
 * one), and View Entry Offline, which no endpoint of the vault needs (offline caches use it).
 */

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** An entry whose current version is 2 (the name and password were changed once). */
async function entryWithHistory(h: MatrixHarness) {
  const { f, e } = await entryCase(h);
  const newName = h.unique('renamed');
  const newPassword = testSecret('pw2');
  await h.asAdmin('PATCH', `/entries/${e.id}`, { name: newName, password: newPassword });
  return { f, e, newName, newPassword };
}

const entryFolder = (allow: VaultPermission[], grant?: VaultPermission[]): NodeNeed => ({
  on: "entry's folder",
  allow,
  ...(grant ? { grant } : {}),
  ...ENTRY_SEEN,
});

/** Levels granted by the access-route rows. */
const L1: Flags = { allow: ['viewFolders', 'viewEntryNames'], grant: ['viewFolders'] };
const L2: Flags = { allow: ['viewEntryNames', 'viewEntryContents'], grant: ['viewEntryNames'] };

const ROWS: Row[] = [
  // ---------------------------------------------------------------- folders
  row({
    endpoint: 'POST /folders',
    needs: {
      parent: { on: 'parent folder', allow: ['viewFolders', 'addFolders'], ...FOLDER_SEEN },
    },
    okStatus: 201,
    async setup(h) {
      const p = await h.folder(await h.caseFolder());
      return { nodes: { parent: folderRef(p) }, p, name: h.unique('new') };
    },
    call: (h, c, fx) => h.call(c.token, 'POST', '/folders', { parentId: fx.p, name: fx.name }),
    async verify(h, _c, fx, res, o) {
      const rows = await h.db
        .selectFrom('folders')
        .select('id')
        .where('parent_id', '=', fx.p)
        .where('name', '=', fx.name)
        .execute();
      expect(rows.length).toBe(ok(o) ? 1 : 0);
      if (ok(o)) expect(res.json()).toMatchObject({ id: rows[0]!.id, name: fx.name });
    },
  }),
  row({
    endpoint: 'GET /folders/:id (details)',
    needs: { folder: { on: 'folder', allow: ['viewFolders'], ...FOLDER_SEEN } },
    okStatus: 200,
    async setup(h) {
      const name = h.unique('F');
      const f = await h.folder(await h.caseFolder(), name);
      return { nodes: { folder: folderRef(f) }, f, name };
    },
    call: (h, c, fx) => h.call(c.token, 'GET', `/folders/${fx.f}`),
    async verify(_h, _c, fx, res, o) {
      if (ok(o)) {
        expect(res.json().folder).toMatchObject({ id: fx.f, name: fx.name, visible: true });
      } else expect(res.body).not.toContain(fx.name);
    },
  }),
  row({
    endpoint: 'GET /folders/:id (entries listed)',
    needs: { folder: { on: 'folder', allow: ['viewEntryNames'] } },
    listing: true,
    okStatus: 200,
    async setup(h) {
      const { f, e } = await entryCase(h);
      return { nodes: { folder: folderRef(f) }, f, e };
    },
    call: (h, c, fx) => h.call(c.token, 'GET', `/folders/${fx.f}`),
    async verify(_h, _c, fx, res, o) {
      if (ok(o)) {
        expect(res.json().entries.map((e: { id: string }) => e.id)).toEqual([fx.e.id]);
      } else {
        // Nothing visible left: the folder is "not found", or (with View Folders) it is empty.
        expect([200, 404]).toContain(res.statusCode);
        expect(res.body).not.toContain(fx.e.id);
      }
    },
  }),
  row({
    endpoint: 'PATCH /folders/:id',
    needs: { folder: { on: 'folder', allow: ['viewFolders', 'modifyFolders'], ...FOLDER_SEEN } },
    okStatus: 200,
    async setup(h) {
      const name = h.unique('F');
      const f = await h.folder(await h.caseFolder(), name);
      return { nodes: { folder: folderRef(f) }, f, name, newName: h.unique('renamed') };
    },
    call: (h, c, fx) => h.call(c.token, 'PATCH', `/folders/${fx.f}`, { name: fx.newName }),
    async verify(h, _c, fx, _res, o) {
      expect((await h.folderRow(fx.f))!.name).toBe(ok(o) ? fx.newName : fx.name);
    },
  }),
  row({
    endpoint: 'POST /folders/:id/move',
    needs: {
      folder: { on: 'folder', allow: ['viewFolders'], ...FOLDER_SEEN },
      source: { on: 'source (its parent)', allow: ['moveFolders'] },
      destination: { on: 'destination', allow: ['viewFolders', 'moveFolders'], ...FOLDER_SEEN },
    },
    okStatus: 200,
    async setup(h) {
      const c = await h.caseFolder();
      const src = await h.folder(c);
      const dst = await h.folder(c);
      const f = await h.folder(src);
      return {
        nodes: { folder: folderRef(f), source: folderRef(src), destination: folderRef(dst) },
        f,
        src,
        dst,
      };
    },
    call: (h, c, fx) => h.call(c.token, 'POST', `/folders/${fx.f}/move`, { parentId: fx.dst }),
    async verify(h, _c, fx, _res, o) {
      expect((await h.folderRow(fx.f))!.parent_id).toBe(ok(o) ? fx.dst : fx.src);
    },
  }),
  row({
    endpoint: 'POST /folders/:id/archive',
    needs: {
      folder: { on: 'folder', allow: ['viewFolders', 'archiveFolders'], ...FOLDER_SEEN },
      entry: { on: 'entry inside (entry itself)', allow: ['archiveEntries'] },
    },
    okStatus: 204,
    async setup(h) {
      const f = await h.folder(await h.caseFolder());
      const sub = await h.folder(f);
      const e = await h.entry(sub);
      return { nodes: { folder: folderRef(f), entry: entryRef(e.id) }, f, e };
    },
    call: (h, c, fx) => h.call(c.token, 'POST', `/folders/${fx.f}/archive`),
    async verify(h, _c, fx, _res, o) {
      expect((await h.folderRow(fx.f))!.archived_at !== null).toBe(ok(o));
      expect((await h.entryRow(fx.e.id))!.archived_at).toBeNull();
    },
  }),
  row({
    endpoint: 'POST /folders/:id/restore',
    needs: {
      item: {
        on: 'Archive item (the folder)',
        allow: ['viewFolders', 'archiveFolders'],
        ...FOLDER_SEEN,
      },
      destination: { on: 'destination', allow: ['viewFolders', 'addFolders'], ...FOLDER_SEEN },
    },
    okStatus: 200,
    async setup(h) {
      const c = await h.caseFolder();
      const orig = await h.folder(c);
      const dst = await h.folder(c);
      const f = await h.folder(orig);
      return {
        nodes: { item: folderRef(f), destination: folderRef(dst) },
        arrange: () => h.archiveFolder(f),
        f,
        orig,
        dst,
      };
    },
    call: (h, c, fx) => h.call(c.token, 'POST', `/folders/${fx.f}/restore`, { parentId: fx.dst }),
    async verify(h, _c, fx, _res, o) {
      const r = (await h.folderRow(fx.f))!;
      expect({ archived: r.archived_at !== null, parent: r.parent_id }).toEqual(
        ok(o) ? { archived: false, parent: fx.dst } : { archived: true, parent: fx.orig },
      );
    },
  }),
  row({
    endpoint: 'DELETE /folders/:id',
    needs: {
      item: {
        on: 'Archive item (the folder)',
        allow: ['viewFolders', 'deleteFolders'],
        ...FOLDER_SEEN,
      },
      entry: { on: 'entry inside (entry itself)', allow: ['deleteEntries'] },
    },
    okStatus: 204,
    async setup(h) {
      const f = await h.folder(await h.caseFolder());
      const e = await h.entry(f);
      return {
        nodes: { item: folderRef(f), entry: entryRef(e.id) },
        arrange: () => h.archiveFolder(f),
        f,
        e,
      };
    },
    call: (h, c, fx) => h.call(c.token, 'DELETE', `/folders/${fx.f}`),
    async verify(h, _c, fx, _res, o) {
      expect(await h.folderRow(fx.f)).toEqual(ok(o) ? undefined : expect.anything());
      expect(await h.entryRow(fx.e.id)).toEqual(ok(o) ? undefined : expect.anything());
    },
  }),

  // ---------------------------------------------------------------- entries
  row({
    endpoint: 'POST /entries',
    needs: { folder: { on: 'folder', allow: ['viewFolders', 'addEntries'], ...FOLDER_SEEN } },
    okStatus: 201,
    async setup(h) {
      const f = await h.folder(await h.caseFolder());
      return {
        nodes: { folder: folderRef(f) },
        f,
        name: h.unique('new'),
        password: testSecret('new'),
      };
    },
    call: (h, c, fx) =>
      h.call(c.token, 'POST', '/entries', {
        folderId: fx.f,
        name: fx.name,
        username: 'svc',
        password: fx.password,
      }),
    async verify(h, _c, fx, res, o) {
      const rows = await h.db
        .selectFrom('entries')
        .select('id')
        .where('folder_id', '=', fx.f)
        .where('name', '=', fx.name)
        .execute();
      expect(rows.length).toBe(ok(o) ? 1 : 0);
      expect(res.body).not.toContain(fx.password);
    },
  }),
  row({
    endpoint: 'GET /entries/:id',
    needs: { entry: entryFolder(['viewEntryNames', 'viewEntryContents']) },
    okStatus: 200,
    async setup(h) {
      const { f, e } = await entryCase(h);
      return { nodes: { entry: folderRef(f) }, e };
    },
    call: (h, c, fx) => h.call(c.token, 'GET', `/entries/${fx.e.id}`),
    async verify(_h, _c, fx, res, o) {
      if (ok(o)) {
        expect(res.json()).toMatchObject({
          id: fx.e.id,
          username: fx.e.username,
          notes: `notes of ${fx.e.name}`,
          hasPassword: true,
        });
      } else expect(res.body).not.toContain(fx.e.username);
      expect(res.body).not.toContain(fx.e.password);
    },
  }),
  row({
    endpoint: 'GET /entries/:id (protected field value)',
    needs: {
      entry: entryFolder(['viewEntryNames', 'viewEntryContents', 'viewEntryPassword']),
    },
    missing: { 'entry.viewEntryPassword': 'hidden' },
    okStatus: 200,
    async setup(h) {
      const secret = testSecret('pin');
      const { f, e } = await entryCase(h, {
        customFields: [{ name: 'pin', value: secret, protected: true }],
      });
      return { nodes: { entry: folderRef(f) }, e, secret };
    },
    call: (h, c, fx) => h.call(c.token, 'GET', `/entries/${fx.e.id}`),
    async verify(_h, _c, fx, res, o) {
      if (ok(o)) {
        expect(res.json().customFields).toEqual([
          { name: 'pin', value: fx.secret, protected: true },
        ]);
        return;
      }
      if (o === 'hidden') {
        expect(res.statusCode).toBe(200);
        expect(res.json().customFields).toEqual([{ name: 'pin', value: null, protected: true }]);
      }
      expect(res.body).not.toContain(fx.secret);
    },
  }),
  row({
    endpoint: 'PATCH /entries/:id',
    needs: { entry: entryFolder(['viewEntryNames', 'viewEntryContents', 'modifyEntries']) },
    okStatus: 200,
    async setup(h) {
      const { f, e } = await entryCase(h);
      return { nodes: { entry: folderRef(f) }, e, newName: h.unique('renamed') };
    },
    call: (h, c, fx) => h.call(c.token, 'PATCH', `/entries/${fx.e.id}`, { name: fx.newName }),
    async verify(h, _c, fx, _res, o) {
      const r = (await h.entryRow(fx.e.id))!;
      expect({ name: r.name, version: r.version }).toEqual(
        ok(o) ? { name: fx.newName, version: 2 } : { name: fx.e.name, version: 1 },
      );
    },
  }),
  row({
    endpoint: 'GET /entries/:id/password',
    needs: { entry: entryFolder(['viewEntryNames', 'viewEntryPassword']) },
    okStatus: 200,
    async setup(h) {
      const { f, e } = await entryCase(h);
      return {
        nodes: { entry: folderRef(f) },
        e,
        path: await h.ctx.services.vault.entryPath(e.id),
      };
    },
    call: (h, c, fx) => h.call(c.token, 'GET', `/entries/${fx.e.id}/password`),
    async verify(h, c, fx, res, o) {
      if (ok(o)) expect(res.json()).toEqual({ password: fx.e.password });
      else expect(res.body).not.toContain(fx.e.password);
      await expectAudited(h, c, 'Password Fetched', o, fx.path);
    },
  }),
  row({
    endpoint: 'POST /entries/:id/move',
    needs: {
      source: {
        on: "source (entry's folder)",
        allow: ['viewEntryNames', 'moveEntries'],
        ...ENTRY_SEEN,
      },
      destination: { on: 'destination', allow: ['viewFolders', 'moveEntries'], ...FOLDER_SEEN },
    },
    okStatus: 200,
    async setup(h) {
      const c = await h.caseFolder();
      const src = await h.folder(c);
      const dst = await h.folder(c);
      const e = await h.entry(src);
      return { nodes: { source: folderRef(src), destination: folderRef(dst) }, e, src, dst };
    },
    call: (h, c, fx) => h.call(c.token, 'POST', `/entries/${fx.e.id}/move`, { folderId: fx.dst }),
    async verify(h, _c, fx, _res, o) {
      expect((await h.entryRow(fx.e.id))!.folder_id).toBe(ok(o) ? fx.dst : fx.src);
    },
  }),
  row({
    endpoint: 'POST /entries/:id/archive',
    needs: { entry: entryFolder(['viewEntryNames', 'archiveEntries']) },
    okStatus: 204,
    async setup(h) {
      const { f, e } = await entryCase(h);
      return { nodes: { entry: folderRef(f) }, e };
    },
    call: (h, c, fx) => h.call(c.token, 'POST', `/entries/${fx.e.id}/archive`),
    async verify(h, _c, fx, _res, o) {
      expect((await h.entryRow(fx.e.id))!.archived_at !== null).toBe(ok(o));
    },
  }),
  row({
    endpoint: 'POST /entries/:id/restore',
    needs: {
      item: {
        on: 'Archive item (entry itself)',
        allow: ['viewEntryNames', 'archiveEntries'],
        ...ENTRY_SEEN,
      },
      destination: { on: 'destination', allow: ['viewFolders', 'addEntries'], ...FOLDER_SEEN },
    },
    okStatus: 200,
    async setup(h) {
      const c = await h.caseFolder();
      const orig = await h.folder(c);
      const dst = await h.folder(c);
      const e = await h.entry(orig);
      return {
        nodes: { item: entryRef(e.id), destination: folderRef(dst) },
        arrange: () => h.archiveEntry(e.id),
        e,
        orig,
        dst,
      };
    },
    call: (h, c, fx) =>
      h.call(c.token, 'POST', `/entries/${fx.e.id}/restore`, { folderId: fx.dst }),
    async verify(h, _c, fx, _res, o) {
      const r = (await h.entryRow(fx.e.id))!;
      expect({ archived: r.archived_at !== null, folder: r.folder_id }).toEqual(
        ok(o) ? { archived: false, folder: fx.dst } : { archived: true, folder: fx.orig },
      );
    },
  }),
  row({
    endpoint: 'DELETE /entries/:id',
    needs: {
      item: {
        on: 'Archive item (entry itself)',
        allow: ['viewEntryNames', 'deleteEntries'],
        ...ENTRY_SEEN,
      },
    },
    okStatus: 204,
    async setup(h) {
      const { e } = await entryCase(h);
      return { nodes: { item: entryRef(e.id) }, arrange: () => h.archiveEntry(e.id), e };
    },
    call: (h, c, fx) => h.call(c.token, 'DELETE', `/entries/${fx.e.id}`),
    async verify(h, _c, fx, _res, o) {
      expect(await h.entryRow(fx.e.id)).toEqual(ok(o) ? undefined : expect.anything());
    },
  }),

  // ---------------------------------------------------------------- attachments
  row({
    endpoint: 'GET /entries/:id/attachments',
    needs: { entry: entryFolder(['viewEntryNames', 'viewEntryContents']) },
    okStatus: 200,
    async setup(h) {
      const fileName = `${h.unique('file')}.txt`;
      const { f, e } = await entryCase(h, { attachments: [{ fileName, data: b64('hello') }] });
      return { nodes: { entry: folderRef(f) }, e, fileName };
    },
    call: (h, c, fx) => h.call(c.token, 'GET', `/entries/${fx.e.id}/attachments`),
    async verify(_h, _c, fx, res, o) {
      if (ok(o)) {
        expect(res.json().attachments).toMatchObject([{ fileName: fx.fileName, size: 5 }]);
      } else expect(res.body).not.toContain(fx.fileName);
    },
  }),
  row({
    endpoint: 'POST /entries/:id/attachments',
    needs: { entry: entryFolder(['viewEntryNames', 'viewEntryContents', 'modifyEntries']) },
    okStatus: 201,
    async setup(h) {
      const { f, e } = await entryCase(h);
      return { nodes: { entry: folderRef(f) }, e };
    },
    call: (h, c, fx) =>
      h.call(c.token, 'POST', `/entries/${fx.e.id}/attachments`, {
        fileName: 'added.txt',
        data: b64('added'),
      }),
    async verify(h, _c, fx, _res, o) {
      const live = await h.db
        .selectFrom('attachments')
        .select('file_name')
        .where('entry_id', '=', fx.e.id)
        .where('removed_at', 'is', null)
        .execute();
      expect(live.map((a) => a.file_name)).toEqual(ok(o) ? ['added.txt'] : []);
      expect((await h.entryRow(fx.e.id))!.version).toBe(ok(o) ? 2 : 1);
    },
  }),
  row({
    endpoint: 'GET /entries/:id/attachments/:aid',
    needs: { entry: entryFolder(['viewEntryNames', 'viewEntryContents']) },
    okStatus: 200,
    async setup(h) {
      const content = h.unique('attachment content');
      const { f, e } = await entryCase(h, {
        attachments: [{ fileName: 'a.txt', data: b64(content) }],
      });
      return { nodes: { entry: folderRef(f) }, e, aid: e.attachments[0]!.id, content };
    },
    call: (h, c, fx) => h.call(c.token, 'GET', `/entries/${fx.e.id}/attachments/${fx.aid}`),
    async verify(h, c, fx, res, o) {
      if (ok(o)) expect(Buffer.from(res.json().data, 'base64').toString()).toBe(fx.content);
      else expect(res.body).not.toContain(b64(fx.content));
      expect((await h.audit(c.loginName, 'Attachment Downloaded')).length).toBe(ok(o) ? 1 : 0);
    },
  }),
  row({
    endpoint: 'GET /entries/:id/attachments/:aid (removed from the current version)',
    needs: {
      entry: entryFolder(['viewEntryNames', 'viewEntryContents', 'viewEntryHistory']),
    },
    missing: { 'entry.viewEntryHistory': 'not_found' },
    okStatus: 200,
    async setup(h) {
      const content = h.unique('old attachment');
      const { f, e } = await entryCase(h, {
        attachments: [{ fileName: 'old.txt', data: b64(content) }],
      });
      const aid = e.attachments[0]!.id;
      await h.asAdmin('DELETE', `/entries/${e.id}/attachments/${aid}`, undefined, 204);
      return { nodes: { entry: folderRef(f) }, e, aid, content };
    },
    call: (h, c, fx) => h.call(c.token, 'GET', `/entries/${fx.e.id}/attachments/${fx.aid}`),
    async verify(h, c, fx, res, o) {
      if (ok(o)) expect(Buffer.from(res.json().data, 'base64').toString()).toBe(fx.content);
      else expect(res.body).not.toContain(b64(fx.content));
      expect((await h.audit(c.loginName, 'Attachment Downloaded')).length).toBe(ok(o) ? 1 : 0);
    },
  }),
  row({
    endpoint: 'DELETE /entries/:id/attachments/:aid',
    needs: { entry: entryFolder(['viewEntryNames', 'viewEntryContents', 'modifyEntries']) },
    okStatus: 204,
    async setup(h) {
      const { f, e } = await entryCase(h, { attachments: [{ fileName: 'a.txt', data: b64('a') }] });
      return { nodes: { entry: folderRef(f) }, e, aid: e.attachments[0]!.id };
    },
    call: (h, c, fx) => h.call(c.token, 'DELETE', `/entries/${fx.e.id}/attachments/${fx.aid}`),
    async verify(h, _c, fx, _res, o) {
      const a = await h.db
        .selectFrom('attachments')
        .select('removed_at')
        .where('id', '=', fx.aid)
        .executeTakeFirstOrThrow();
      expect(a.removed_at !== null).toBe(ok(o));
    },
  }),

  // ---------------------------------------------------------------- history
  row({
    endpoint: 'GET /entries/:id/history',
    needs: { entry: entryFolder(['viewEntryNames', 'viewEntryHistory']) },
    okStatus: 200,
    async setup(h) {
      const { f, e } = await entryWithHistory(h);
      return { nodes: { entry: folderRef(f) }, e };
    },
    call: (h, c, fx) => h.call(c.token, 'GET', `/entries/${fx.e.id}/history`),
    async verify(h, c, fx, res, o) {
      if (ok(o)) {
        expect(res.json().versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
      }
      expect((await h.audit(c.loginName, 'History Viewed')).length).toBe(ok(o) ? 1 : 0);
    },
  }),
  row({
    endpoint: 'GET /entries/:id/history/:version',
    needs: { entry: entryFolder(['viewEntryNames', 'viewEntryHistory', 'viewEntryContents']) },
    okStatus: 200,
    async setup(h) {
      const { f, e } = await entryWithHistory(h);
      return { nodes: { entry: folderRef(f) }, e };
    },
    call: (h, c, fx) => h.call(c.token, 'GET', `/entries/${fx.e.id}/history/1`),
    async verify(h, c, fx, res, o) {
      if (ok(o)) expect(res.json()).toMatchObject({ version: 1, name: fx.e.name, current: false });
      else expect(res.body).not.toContain(fx.e.username);
      expect((await h.audit(c.loginName, 'History Viewed')).length).toBe(ok(o) ? 1 : 0);
    },
  }),
  row({
    endpoint: 'GET /entries/:id/history/:version/password',
    needs: { entry: entryFolder(['viewEntryNames', 'viewEntryHistory', 'viewEntryPassword']) },
    okStatus: 200,
    async setup(h) {
      const { f, e } = await entryWithHistory(h);
      return {
        nodes: { entry: folderRef(f) },
        e,
        path: await h.ctx.services.vault.entryPath(e.id),
      };
    },
    call: (h, c, fx) => h.call(c.token, 'GET', `/entries/${fx.e.id}/history/1/password`),
    async verify(h, c, fx, res, o) {
      if (ok(o)) expect(res.json()).toEqual({ password: fx.e.password });
      else expect(res.body).not.toContain(fx.e.password);
      await expectAudited(h, c, 'Password Fetched', o, fx.path);
    },
  }),
  row({
    endpoint: 'POST /entries/:id/history/:version/restore',
    needs: {
      entry: entryFolder([
        'viewEntryNames',
        'viewEntryContents',
        'viewEntryHistory',
        'modifyEntries',
      ]),
    },
    okStatus: 200,
    async setup(h) {
      const { f, e, newName } = await entryWithHistory(h);
      return { nodes: { entry: folderRef(f) }, e, newName };
    },
    call: (h, c, fx) => h.call(c.token, 'POST', `/entries/${fx.e.id}/history/1/restore`),
    async verify(h, _c, fx, _res, o) {
      const r = (await h.entryRow(fx.e.id))!;
      expect({ name: r.name, version: r.version }).toEqual(
        ok(o) ? { name: fx.e.name, version: 3 } : { name: fx.newName, version: 2 },
      );
    },
  }),

  // ---------------------------------------------------------------- tree, search, archive
  row({
    endpoint: 'GET /vault/tree (folder shown)',
    needs: { folder: { on: 'folder (empty)', allow: ['viewFolders'] } },
    listing: true,
    okStatus: 200,
    async setup(h) {
      const f = await h.folder(await h.caseFolder());
      return { nodes: { folder: folderRef(f) }, f };
    },
    call: (h, c) => h.call(c.token, 'GET', '/vault/tree'),
    async verify(_h, _c, fx, res, o) {
      expect(res.statusCode).toBe(200);
      const found = res.json().folders.find((f: { id: string }) => f.id === fx.f);
      if (ok(o)) expect(found).toMatchObject({ visible: true });
      else expect(found).toBeUndefined();
    },
  }),
  row({
    endpoint: 'GET /vault/tree (entry listed)',
    needs: { entry: { on: "entry's folder", allow: ['viewEntryNames'] } },
    listing: true,
    okStatus: 200,
    async setup(h) {
      const { f, e } = await entryCase(h);
      return { nodes: { entry: folderRef(f) }, e };
    },
    call: (h, c) => h.call(c.token, 'GET', '/vault/tree'),
    async verify(_h, _c, fx, res, o) {
      expect(res.statusCode).toBe(200);
      const ids = res.json().entries.map((e: { id: string }) => e.id);
      expect(ids.includes(fx.e.id)).toBe(ok(o));
    },
  }),
  row({
    endpoint: 'GET /vault/search (by entry name)',
    needs: { entry: { on: "entry's folder", allow: ['viewEntryNames'] } },
    listing: true,
    okStatus: 200,
    async setup(h) {
      const { f, e } = await entryCase(h);
      return { nodes: { entry: folderRef(f) }, e };
    },
    call: (h, c, fx) => h.call(c.token, 'GET', `/vault/search?q=${encodeURIComponent(fx.e.name)}`),
    async verify(_h, _c, fx, res, o) {
      expect(res.statusCode).toBe(200);
      const hit = res.json().entries.find((e: { id: string }) => e.id === fx.e.id);
      if (ok(o)) expect(hit.matched).toContain('name');
      else expect(hit).toBeUndefined();
    },
  }),
  row({
    endpoint: 'GET /vault/search (by username)',
    needs: { entry: { on: "entry's folder", allow: ['viewEntryNames', 'viewEntryContents'] } },
    listing: true,
    okStatus: 200,
    async setup(h) {
      const { f, e } = await entryCase(h);
      return { nodes: { entry: folderRef(f) }, e };
    },
    call: (h, c, fx) =>
      h.call(c.token, 'GET', `/vault/search?q=${encodeURIComponent(fx.e.username)}`),
    async verify(_h, _c, fx, res, o) {
      expect(res.statusCode).toBe(200);
      const hit = res.json().entries.find((e: { id: string }) => e.id === fx.e.id);
      if (ok(o)) expect(hit).toMatchObject({ matched: ['username'], username: fx.e.username });
      else expect(hit).toBeUndefined();
    },
  }),
  row({
    endpoint: 'GET /vault/archive (entry listed)',
    needs: { item: { on: 'Archive item (entry itself)', allow: ['viewEntryNames'] } },
    listing: true,
    okStatus: 200,
    async setup(h) {
      const { e } = await entryCase(h);
      return { nodes: { item: entryRef(e.id) }, arrange: () => h.archiveEntry(e.id), e };
    },
    call: (h, c) => h.call(c.token, 'GET', '/vault/archive'),
    async verify(_h, _c, fx, res, o) {
      expect(res.statusCode).toBe(200);
      const ids = res.json().entries.map((e: { id: string }) => e.id);
      expect(ids.includes(fx.e.id)).toBe(ok(o));
    },
  }),
  row({
    endpoint: 'GET /vault/archive (folder listed)',
    needs: { item: { on: 'Archive item (the folder)', allow: ['viewFolders'] } },
    listing: true,
    okStatus: 200,
    async setup(h) {
      const f = await h.folder(await h.caseFolder());
      return { nodes: { item: folderRef(f) }, arrange: () => h.archiveFolder(f), f };
    },
    call: (h, c) => h.call(c.token, 'GET', '/vault/archive'),
    async verify(_h, _c, fx, res, o) {
      expect(res.statusCode).toBe(200);
      const ids = res.json().folders.map((f: { id: string }) => f.id);
      expect(ids.includes(fx.f)).toBe(ok(o));
    },
  }),

  // ---------------------------------------------------------------- access on vault nodes
  row({
    endpoint: 'GET /folders/:id/access',
    needs: { folder: { on: 'folder', allow: ['viewFolders', 'viewAccess'], ...FOLDER_SEEN } },
    okStatus: 200,
    async setup(h) {
      const f = await h.folder(await h.caseFolder());
      await h.grant(
        folderRef(f),
        { type: 'user', id: h.bystander.id },
        await h.builtinLevel('read-only'),
      );
      return { nodes: { folder: folderRef(f) }, f };
    },
    call: (h, c, fx) => h.call(c.token, 'GET', `/folders/${fx.f}/access`),
    async verify(h, _c, _fx, res, o) {
      if (ok(o)) {
        const ids = res.json().grants.map((g: { principal: { id: string } }) => g.principal.id);
        expect(ids).toContain(h.bystander.id);
      } else expect(res.body).not.toContain(h.bystander.id);
    },
  }),
  row({
    endpoint: 'GET /entries/:id/access',
    needs: { entry: entryFolder(['viewEntryNames', 'viewAccess']) },
    okStatus: 200,
    async setup(h) {
      const { f, e } = await entryCase(h);
      await h.grant(
        entryRef(e.id),
        { type: 'user', id: h.bystander.id },
        await h.builtinLevel('read-only'),
      );
      return { nodes: { entry: folderRef(f) }, e };
    },
    call: (h, c, fx) => h.call(c.token, 'GET', `/entries/${fx.e.id}/access`),
    async verify(h, _c, _fx, res, o) {
      if (ok(o)) {
        const ids = res.json().grants.map((g: { principal: { id: string } }) => g.principal.id);
        expect(ids).toContain(h.bystander.id);
      } else expect(res.body).not.toContain(h.bystander.id);
    },
  }),
  row({
    endpoint: 'POST /folders/:id/access',
    needs: {
      folder: {
        on: 'folder',
        allow: ['viewFolders'],
        grant: ['viewFolders', 'viewEntryNames'],
        ...FOLDER_SEEN,
      },
    },
    okStatus: 201,
    async setup(h) {
      const f = await h.folder(await h.caseFolder());
      return { nodes: { folder: folderRef(f) }, f, level: await h.level(L1) };
    },
    call: (h, c, fx) =>
      h.call(c.token, 'POST', `/folders/${fx.f}/access`, {
        principalType: 'user',
        principalId: h.bystander.id,
        accessLevelId: fx.level,
      }),
    async verify(h, c, fx, _res, o) {
      const rows = await h.db
        .selectFrom('grants')
        .select('id')
        .where('node_id', '=', fx.f)
        .where('principal_id', '=', h.bystander.id)
        .execute();
      expect(rows.length).toBe(ok(o) ? 1 : 0);
      await expectAudited(h, c, 'Access Added', o, await h.ctx.services.vault.folderPath(fx.f));
    },
  }),
  row({
    endpoint: 'DELETE /folders/:id/access/:grantId',
    needs: {
      folder: {
        on: 'folder',
        allow: ['viewFolders'],
        grant: ['viewFolders', 'viewEntryNames'],
        ...FOLDER_SEEN,
      },
    },
    okStatus: 204,
    async setup(h) {
      const f = await h.folder(await h.caseFolder());
      const gid = await h.grant(
        folderRef(f),
        { type: 'user', id: h.bystander.id },
        await h.level(L1),
      );
      return { nodes: { folder: folderRef(f) }, f, gid };
    },
    call: (h, c, fx) => h.call(c.token, 'DELETE', `/folders/${fx.f}/access/${fx.gid}`),
    async verify(h, c, fx, _res, o) {
      expect(await h.grantExists(fx.gid)).toBe(!ok(o));
      await expectAudited(h, c, 'Access Removed', o, await h.ctx.services.vault.folderPath(fx.f));
    },
  }),
  row({
    endpoint: 'POST /entries/:id/access',
    needs: { entry: entryFolder(['viewEntryNames'], ['viewEntryNames', 'viewEntryContents']) },
    okStatus: 201,
    async setup(h) {
      const { f, e } = await entryCase(h);
      return {
        nodes: { entry: folderRef(f) },
        e,
        level: await h.level(L2),
        path: await h.ctx.services.vault.entryPath(e.id),
      };
    },
    call: (h, c, fx) =>
      h.call(c.token, 'POST', `/entries/${fx.e.id}/access`, {
        principalType: 'user',
        principalId: h.bystander.id,
        accessLevelId: fx.level,
      }),
    async verify(h, c, fx, _res, o) {
      const rows = await h.db
        .selectFrom('grants')
        .select('id')
        .where('node_id', '=', fx.e.id)
        .where('principal_id', '=', h.bystander.id)
        .execute();
      expect(rows.length).toBe(ok(o) ? 1 : 0);
      await expectAudited(h, c, 'Access Added', o, fx.path);
    },
  }),
  row({
    endpoint: 'DELETE /entries/:id/access/:grantId',
    needs: { entry: entryFolder(['viewEntryNames'], ['viewEntryNames', 'viewEntryContents']) },
    okStatus: 204,
    async setup(h) {
      const { f, e } = await entryCase(h);
      const gid = await h.grant(
        entryRef(e.id),
        { type: 'user', id: h.bystander.id },
        await h.level(L2),
      );
      return {
        nodes: { entry: folderRef(f) },
        e,
        gid,
        path: await h.ctx.services.vault.entryPath(e.id),
      };
    },
    call: (h, c, fx) => h.call(c.token, 'DELETE', `/entries/${fx.e.id}/access/${fx.gid}`),
    async verify(h, c, fx, _res, o) {
      expect(await h.grantExists(fx.gid)).toBe(!ok(o));
      await expectAudited(h, c, 'Access Removed', o, fx.path);
    },
  }),
  row({
    endpoint: 'PUT /folders/:id/block-inheritance',
    needs: {
      folder: { on: 'folder', allow: ['viewFolders', 'setBlockInheritance'], ...FOLDER_SEEN },
    },
    okStatus: 200,
    async setup(h) {
      const f = await h.folder(await h.caseFolder());
      return { nodes: { folder: folderRef(f) }, f, path: await h.ctx.services.vault.folderPath(f) };
    },
    call: (h, c, fx) =>
      h.call(c.token, 'PUT', `/folders/${fx.f}/block-inheritance`, { block: true }),
    async verify(h, c, fx, _res, o) {
      expect((await h.folderRow(fx.f))!.block_inheritance).toBe(ok(o) ? 1 : 0);
      await expectAudited(h, c, 'Inheritance Blocked', o, fx.path);
    },
  }),
];

/** Routes that act on vault nodes but need no vault permission (an application permission). */
const NOT_IN_MATRIX = ['POST /api/v1/users/:userId/private-folder'];

describe.each(DIALECTS)('permission matrix (%s)', (dialect) => {
  let ctx: TestContext;
  let h: MatrixHarness;

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    h = new MatrixHarness(ctx);
    await h.init();
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('covers every vault route and every permission the vault uses', () => {
    const rowRoutes = new Set(ROWS.map((r) => r.endpoint.replace(/ \(.*\)$/, '')));
    const normalise = (url: string) => url.replace('/api/v1', '').replace(':attachmentId', ':aid');
    // Every route on folders, entries and the vault is in the table, and every row is a route.
    const nodeRoutes = ctx.app.routeTable
      .filter((r) => /^\/api\/v1\/(folders|entries|vault)(\/|$)/.test(r.url))
      .map((r) => `${r.method} ${normalise(r.url)}`);
    expect(nodeRoutes.filter((r) => !rowRoutes.has(r))).toEqual([]);
    expect([...rowRoutes].filter((r) => !nodeRoutes.includes(r))).toEqual([]);
    const privateFolder = ctx.app.routeTable.filter((r) =>
      NOT_IN_MATRIX.includes(`${r.method} ${r.url}`),
    );
    expect(privateFolder.map((r) => r.auth)).toEqual([{ app: 'createPrivateFolders' }]);

    const used = new Set(
      ROWS.flatMap((r) => Object.values(r.needs).flatMap((n) => [...n.allow, ...(n.grant ?? [])])),
    );
    expect(ALL.filter((p) => !used.has(p))).toEqual(['viewEntryOffline']);
  });

  // ---------------------------------------------------------------- paths

  /**
   * How a permission reaches a user (spec §3), each on the same representative calls: entry
   * details, fetch the password, modify the entry, add an entry to its folder, add a grant
   * (Read-Only to someone else). The level granted is the built-in Full + Grant unless stated.
   */
  describe('paths by which a permission reaches a user', () => {
    type Op = 'details' | 'password' | 'modify' | 'addEntry' | 'addGrant';
    interface Target {
      x: string;
      e: CreatedEntry;
      path: () => Promise<string>;
    }
    const ALLOWED: Record<Op, number> = {
      details: 200,
      password: 200,
      modify: 200,
      addEntry: 201,
      addGrant: 201,
    };
    const INVISIBLE: Record<Op, number> = {
      details: 404,
      password: 404,
      modify: 404,
      addEntry: 404,
      addGrant: 404,
    };
    let fullGrant: string;
    let readOnly: string;

    beforeAll(async () => {
      fullGrant = await h.builtinLevel('full-grant');
      readOnly = await h.builtinLevel('read-only');
    });

    /** Folder X under `parent` holding entry E. */
    async function target(parent: string): Promise<Target> {
      const x = await h.folder(parent);
      const e = await h.entry(x);
      return { x, e, path: () => ctx.services.vault.entryPath(e.id) };
    }

    const user = (id: string) => ({ type: 'user' as const, id });
    const role = (id: string) => ({ type: 'role' as const, id });

    /**
     * Runs the representative calls and checks that each one's effect matches its status; with
     * `onEntry` the grant is added on the entry rather than on its folder.
     */
    async function representative(
      c: Caller,
      t: Target,
      onEntry = false,
    ): Promise<Record<Op, number>> {
      await h.markAudit();
      const path = await t.path();
      const details = await h.call(c.token, 'GET', `/entries/${t.e.id}`);
      if (details.statusCode === 200) expect(details.json().username).toBe(t.e.username);
      else expect(details.body).not.toContain(t.e.username);

      const password = await h.call(c.token, 'GET', `/entries/${t.e.id}/password`);
      if (password.statusCode === 200) expect(password.json()).toEqual({ password: t.e.password });
      else expect(password.body).not.toContain(t.e.password);
      const fetched = await h.audit(c.loginName, 'Password Fetched');
      expect(fetched.map((r) => [r.status, r.target])).toEqual(
        password.statusCode === 200
          ? [['success', path]]
          : password.statusCode === 403
            ? [['denied', path]]
            : [],
      );

      const newName = h.unique('renamed');
      const modify = await h.call(c.token, 'PATCH', `/entries/${t.e.id}`, { name: newName });
      if (modify.statusCode === 200) t.e.name = newName;
      expect((await h.entryRow(t.e.id))!.name).toBe(t.e.name);

      const added = h.unique('added');
      const addEntry = await h.call(c.token, 'POST', '/entries', {
        folderId: t.x,
        name: added,
        password: testSecret('added'),
      });
      const addedRows = await h.db
        .selectFrom('entries')
        .select('id')
        .where('folder_id', '=', t.x)
        .where('name', '=', added)
        .execute();
      expect(addedRows.length).toBe(addEntry.statusCode === 201 ? 1 : 0);

      const grantee = await h.grantee();
      const node = onEntry ? `/entries/${t.e.id}` : `/folders/${t.x}`;
      const addGrant = await h.call(c.token, 'POST', `${node}/access`, {
        principalType: 'user',
        principalId: grantee,
        accessLevelId: readOnly,
      });
      const grants = await h.db
        .selectFrom('grants')
        .select('node_id')
        .where('principal_id', '=', grantee)
        .execute();
      expect(grants).toEqual(
        addGrant.statusCode === 201 ? [{ node_id: onEntry ? t.e.id : t.x }] : [],
      );

      return {
        details: details.statusCode,
        password: password.statusCode,
        modify: modify.statusCode,
        addEntry: addEntry.statusCode,
        addGrant: addGrant.statusCode,
      };
    }

    it('a grant to the user directly (and nothing without it)', async () => {
      const t = await target(await h.caseFolder());
      const u = await h.user();
      expect(await representative(u, t)).toEqual(INVISIBLE);
      await h.grant(folderRef(t.x), user(u.id), fullGrant);
      expect(await representative(u, t)).toEqual(ALLOWED);
    });

    it('a grant to a role the user is a member of', async () => {
      const t = await target(await h.caseFolder());
      const r = await createRole(ctx.services, h.unique('role'));
      const member = await h.user([r]);
      const other = await h.user();
      await h.grant(folderRef(t.x), role(r), fullGrant);
      expect(await representative(member, t)).toEqual(ALLOWED);
      expect(await representative(other, t)).toEqual(INVISIBLE);
    });

    it('a grant to an outer role reaches members of a sub-role two levels down, not the reverse', async () => {
      const outer = await createRole(ctx.services, h.unique('outer'));
      const middle = await createRole(ctx.services, h.unique('middle'), { parent: outer });
      const inner = await createRole(ctx.services, h.unique('inner'), { parent: middle });
      const innerMember = await h.user([inner]);
      const outerMember = await h.user([outer]);

      const t = await target(await h.caseFolder());
      await h.grant(folderRef(t.x), role(outer), fullGrant);
      expect(await representative(innerMember, t)).toEqual(ALLOWED);

      const t2 = await target(await h.caseFolder());
      await h.grant(folderRef(t2.x), role(inner), fullGrant);
      expect(await representative(outerMember, t2)).toEqual(INVISIBLE);
      expect(await representative(innerMember, t2)).toEqual(ALLOWED);
    });

    it('a grant on a grandparent folder is inherited', async () => {
      const grandparent = await h.caseFolder();
      const t = await target(await h.folder(grandparent));
      const u = await h.user();
      await h.grant(folderRef(grandparent), user(u.id), fullGrant);
      expect(await representative(u, t)).toEqual(ALLOWED);
    });

    it('a blocking folder stops grants made above it; grants on it or below it count', async () => {
      const top = await h.caseFolder();
      const blocking = await h.folder(top);
      await h.asAdmin('PUT', `/folders/${blocking}/block-inheritance`, { block: true });
      const t = await target(blocking);
      const above = await h.user();
      const on = await h.user();
      const below = await h.user();
      await h.grant(folderRef(top), user(above.id), fullGrant);
      await h.grant(folderRef(blocking), user(on.id), fullGrant);
      await h.grant(folderRef(t.x), user(below.id), fullGrant);

      expect(await representative(above, t)).toEqual(INVISIBLE);
      // The grant above is real: it still works on the folder it was made on.
      expect((await h.call(above.token, 'GET', `/folders/${top}`)).statusCode).toBe(200);
      expect((await h.call(above.token, 'GET', `/folders/${blocking}`)).statusCode).toBe(404);
      expect(await representative(on, t)).toEqual(ALLOWED);
      expect(await representative(below, t)).toEqual(ALLOWED);
    });

    it('an entry-level grant works on an entry in a folder the user cannot see', async () => {
      const t = await target(await h.caseFolder());
      const u = await h.user();
      await h.grant(entryRef(t.e.id), user(u.id), fullGrant);
      expect(await representative(u, t, true)).toEqual({ ...ALLOWED, addEntry: 404 });
      // The folder is only a path to the entry: shown without details, and not found directly.
      const tree = (await h.call(u.token, 'GET', '/vault/tree')).json();
      expect(tree.folders.find((f: { id: string }) => f.id === t.x)).toEqual({
        id: t.x,
        parentId: expect.any(String),
        name: expect.any(String),
        path: expect.any(String),
        visible: false,
      });
      expect(tree.entries.map((e: { id: string }) => e.id)).toEqual([t.e.id]);
      expectError(await h.call(u.token, 'GET', `/folders/${t.x}/access`), 404);
    });

    it('a time-limited grant works until it expires, and not after, even before the sweep', async () => {
      const t = await target(await h.caseFolder());
      const u = await h.user();
      const minute = 60_000;
      const grantId = await h.grant(
        folderRef(t.x),
        user(u.id),
        fullGrant,
        ctx.clock.now() + 10 * minute,
      );
      ctx.clock.advance(9 * minute);
      expect(await representative(u, t)).toEqual(ALLOWED);
      ctx.clock.advance(2 * minute);
      expect(await representative(u, t)).toEqual(INVISIBLE);
      expect(await h.grantExists(grantId)).toBe(true);
    });

    it('grants add up: read from one grant, modify from another', async () => {
      const t = await target(await h.caseFolder());
      const read = await h.level({
        allow: ['viewFolders', 'viewEntryNames', 'viewEntryContents'],
        grant: [],
      });
      const modify = await h.level({ allow: ['modifyEntries'], grant: [] });
      const r = await createRole(ctx.services, h.unique('editors'));
      const u = await h.user([r]);
      const modifyOnly = await h.user();
      await h.grant(folderRef(t.x), user(u.id), read);
      await h.grant(entryRef(t.e.id), user(modifyOnly.id), modify);

      const rename = (c: Caller) =>
        h.call(c.token, 'PATCH', `/entries/${t.e.id}`, { name: h.unique('renamed') });
      expect((await h.call(u.token, 'GET', `/entries/${t.e.id}`)).statusCode).toBe(200);
      expectError(await rename(u), 403);
      expectError(await rename(modifyOnly), 404);
      expect((await h.entryRow(t.e.id))!.name).toBe(t.e.name);

      // Modify Entries from a role's grant on the entry, View … from the user's on the folder.
      await h.grant(entryRef(t.e.id), role(r), modify);
      const renamed = await rename(u);
      expect(renamed.statusCode).toBe(200);
      expect((await h.entryRow(t.e.id))!.name).toBe(renamed.json().name);
      // The sum holds nothing neither grant has.
      expectError(await h.call(u.token, 'GET', `/entries/${t.e.id}/password`), 403);
    });

    it('an administrator is always allowed, with no grant, even below a blocking folder', async () => {
      const top = await h.caseFolder();
      const blocking = await h.folder(top);
      await h.asAdmin('PUT', `/folders/${blocking}/block-inheritance`, { block: true });
      const t = await target(blocking);
      expect(await representative(h.admin, t)).toEqual(ALLOWED);
      expect(await representative(h.admin, t, true)).toEqual(ALLOWED);
    });
  });

  for (const r of ROWS) defineRowCases(r, () => h, expectError);
});
