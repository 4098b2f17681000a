import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIALECTS,
  createTestContext,
  testSecret,
  type TestContext,
} from '../test-support/harness.js';
import {
  MatrixHarness,
  defineRowCases,
  entryRef,
  folderRef,
  ok,
  row,
  type Caller,
  type Flags,
  type NodeNeed,
  type Row,
  ENTRY_SEEN,
  FOLDER_SEEN,
  entryCase,
  expectAudited,
} from '../access/permission-matrix.support.js';
import type { VaultPermission } from '@strongroom/protocol';
import { SYSTEM_ACTOR } from '../users/context.js';
import { testActor } from '../test-support/actors.js';
import {
  PleasantClient,
  expectErrorMessage,
  type Method,
  type Response,
} from './pleasant.support.js';

/**
 * The permission matrix of the native API (access/permission-matrix.test.ts), repeated through
 * the Pleasant-compatible API for its vault endpoints: the same rows and the same cases (a grant
 * of exactly the required set succeeds; without any one required permission, or with every
 * other permission of the catalogue, it fails with no effect; an administrator without grants
 * succeeds), built with the same harness. Refusals are Pleasant's: 404 `{"error_message"}` when
 * the node becomes invisible (the same answer as a missing node), 403 `{"error_message"}` when
 * it stays visible. Every call sends the bare token, as Pleasant clients do, and the rows use
 * both API versions and the legacy aliases.
 *
 * | Endpoint                                        | Node (grant made on)       | Required |
 * | ----------------------------------------------- | -------------------------- | -------- |
 * | POST folders                                    | parent folder              | A viewFolders¹, addFolders |
 * | GET folders/{id}                                | folder (empty)             | A viewFolders¹ |
 * | GET credentialgroup/{id} (credentials listed)   | folder                     | A viewEntryNames⁴ |
 * | PATCH folders/{id} (Name)                       | folder                     | A viewFolders¹, modifyFolders |
 * | PUT folders/{id} ({"Item"})                     | folder                     | A viewFolders¹, modifyFolders |
 * | PATCH folders/{id} (ParentId: a move)           | folder / source / destination | A viewFolders¹ / moveFolders / viewFolders¹, moveFolders |
 * | DELETE folders/{id} (Archive)                   | folder / entry inside      | A viewFolders¹, archiveFolders / archiveEntries |
 * | DELETE folders/{id} (Delete, not archived yet)  | folder / entry inside      | A viewFolders¹, archiveFolders, deleteFolders / archiveEntries, deleteEntries |
 * | POST entries                                    | folder                     | A viewFolders¹, addEntries |
 * | GET entries/{id}                                | entry's folder             | A viewEntryNames², viewEntryContents |
 * | GET entries/{id} (protected field value)        | entry's folder             | + viewEntryPassword³ |
 * | PATCH entries/{id} (Name)                       | entry's folder             | A viewEntryNames², viewEntryContents, modifyEntries |
 * | PUT credential/{id} ({"Item"})                  | entry's folder             | A viewEntryNames², viewEntryContents, modifyEntries |
 * | PATCH entries/{id} (GroupId: a move)            | source / destination       | A viewEntryNames², moveEntries / viewFolders¹, moveEntries |
 * | PUT entries/{id} (GroupId and Name)             | source / destination       | A viewEntryNames², moveEntries / viewFolders¹, moveEntries, viewEntryNames⁵, viewEntryContents, modifyEntries |
 * | DELETE entries/{id} (Archive)                   | entry's folder             | A viewEntryNames², archiveEntries |
 * | DELETE entries/{id} (Delete, not archived yet)  | entry's folder             | A viewEntryNames², archiveEntries, deleteEntries |
 * | DELETE entries/{id} (Delete, in the Archive)    | Archive item (entry)       | A viewEntryNames², deleteEntries |
 * | GET entries/{id}/password                       | entry's folder             | A viewEntryNames², viewEntryPassword (audited success/denied) |
 * | POST credential/{id}/password                   | entry's folder             | A viewEntryNames², viewEntryPassword (audited) |
 * | GET entries/{id}/attachments                    | entry's folder             | A viewEntryNames², viewEntryContents |
 * | GET entries/{id}/attachments/{aid}              | entry's folder             | A viewEntryNames², viewEntryContents |
 * | GET folders (folder shown)                      | folder (empty)             | A viewFolders⁴ |
 * | GET folders (credential listed)                 | entry's folder             | A viewEntryNames⁴ |
 * | POST search (by name)                           | entry's folder             | A viewEntryNames⁴ |
 * | POST search (by username)                       | entry's folder             | A viewEntryNames, viewEntryContents⁴ |
 * | GET folders/{id}/useraccess                     | folder                     | A viewFolders¹, viewAccess |
 * | GET entries/{id}/useraccess                     | entry's folder             | A viewEntryNames², viewAccess |
 * | POST folders/{id}/useraccess (level L1)         | folder                     | A viewFolders¹; G viewFolders, viewEntryNames |
 * | DELETE folders/{id}/useraccess/{row} (L1)       | folder                     | A viewFolders¹; G viewFolders, viewEntryNames |
 * | POST entries/{id}/useraccess (level L2)         | entry's folder             | A viewEntryNames²; G viewEntryNames, viewEntryContents |
 * | DELETE entries/{id}/useraccess/{row} (L2)       | entry's folder             | A viewEntryNames²; G viewEntryNames, viewEntryContents |
 *
 * ¹ without it the folder is invisible: 404. ² without it the entry is invisible: 404.
 * ³ without it the call succeeds but the protected value is withheld (null).
 * ⁴ a filtered read: without it the item is left out of the answer.
 * ⁵ the change is made where the entry lands: without it there the entry is invisible (404),
 *   and the move is rolled back with the rest.
 * User access rows are tested with the administrator setting on (off, they answer 403 always:
 * see conformance.test.ts). The offline package has its own rules (permanent grants only,
 * administrators' implicit rights don't count) and is compared with the native package there.
 */

const L1: Flags = { allow: ['viewFolders', 'viewEntryNames'], grant: ['viewFolders'] };
const L2: Flags = { allow: ['viewEntryNames', 'viewEntryContents'], grant: ['viewEntryNames'] };
const entryFolder = (allow: VaultPermission[], grant?: VaultPermission[]): NodeNeed => ({
  on: "entry's folder",
  allow,
  ...(grant ? { grant } : {}),
  ...ENTRY_SEEN,
});
const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A call through the Pleasant-compatible API with the caller's bare token. */
function pc(
  h: MatrixHarness,
  c: Caller,
  method: Method,
  path: string,
  payload?: unknown,
  version: 'v5' | 'v6' = 'v5',
): Promise<Response> {
  return new PleasantClient(h.ctx, `/api/${version}/rest`).call(
    c.token,
    method,
    path,
    payload === undefined ? {} : { payload },
  );
}

const ROWS: Row[] = [
  // ---------------------------------------------------------------- folders
  row({
    endpoint: 'POST folders',
    needs: {
      parent: { on: 'parent folder', allow: ['viewFolders', 'addFolders'], ...FOLDER_SEEN },
    },
    okStatus: 200,
    async setup(h) {
      const p = await h.folder(await h.caseFolder());
      return { nodes: { parent: folderRef(p) }, p, name: h.unique('new') };
    },
    call: (h, c, fx) => pc(h, c, 'POST', '/folders', { ParentId: fx.p, Name: fx.name }),
    async verify(h, _c, fx, res, o) {
      const rows = await h.db
        .selectFrom('folders')
        .select('id')
        .where('parent_id', '=', fx.p)
        .where('name', '=', fx.name)
        .execute();
      expect(rows.length).toBe(ok(o) ? 1 : 0);
      if (ok(o)) expect(res.json()).toBe(rows[0]!.id);
    },
  }),
  row({
    endpoint: 'GET folders/{id}',
    needs: { folder: { on: 'folder', allow: ['viewFolders'], ...FOLDER_SEEN } },
    okStatus: 200,
    async setup(h) {
      const name = h.unique('F');
      const f = await h.folder(await h.caseFolder(), name);
      return { nodes: { folder: folderRef(f) }, f, name };
    },
    call: (h, c, fx) => pc(h, c, 'GET', `/folders/${fx.f}`, undefined, 'v6'),
    async verify(_h, _c, fx, res, o) {
      if (ok(o)) expect(res.json()).toMatchObject({ Id: fx.f, Name: fx.name, Children: [] });
      else expect(res.body).not.toContain(fx.name);
    },
  }),
  row({
    endpoint: 'GET credentialgroup/{id} (credentials listed)',
    needs: { folder: { on: 'folder', allow: ['viewEntryNames'] } },
    listing: true,
    okStatus: 200,
    async setup(h) {
      const { f, e } = await entryCase(h);
      return { nodes: { folder: folderRef(f) }, f, e };
    },
    call: (h, c, fx) => pc(h, c, 'GET', `/credentialgroup/${fx.f}`),
    async verify(_h, _c, fx, res, o) {
      if (ok(o)) {
        expect(res.json().Credentials.map((e: { Id: string }) => e.Id)).toEqual([fx.e.id]);
      } else {
        expect([200, 404]).toContain(res.statusCode);
        expect(res.body).not.toContain(fx.e.id);
      }
    },
  }),
  ...(['PATCH', 'PUT'] as const).map((method) =>
    row({
      endpoint: `${method} folders/{id} (${method === 'PUT' ? '{"Item"}' : 'Name'})`,
      needs: {
        folder: { on: 'folder', allow: ['viewFolders', 'modifyFolders'], ...FOLDER_SEEN },
      },
      okStatus: 204,
      async setup(h) {
        const name = h.unique('F');
        const f = await h.folder(await h.caseFolder(), name);
        return { nodes: { folder: folderRef(f) }, f, name, newName: h.unique('renamed') };
      },
      call: (h, c, fx) =>
        pc(
          h,
          c,
          method,
          `/folders/${fx.f}`,
          method === 'PUT' ? { Item: { Id: fx.f, Name: fx.newName } } : { name: fx.newName },
        ),
      async verify(h, _c, fx, _res, o) {
        expect((await h.folderRow(fx.f))!.name).toBe(ok(o) ? fx.newName : fx.name);
      },
    }),
  ),
  row({
    endpoint: 'PATCH folders/{id} (ParentId: a move)',
    needs: {
      folder: { on: 'folder', allow: ['viewFolders'], ...FOLDER_SEEN },
      source: { on: 'source (its parent)', allow: ['moveFolders'] },
      destination: { on: 'destination', allow: ['viewFolders', 'moveFolders'], ...FOLDER_SEEN },
    },
    okStatus: 204,
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
    call: (h, c, fx) => pc(h, c, 'PATCH', `/folders/${fx.f}`, { ParentId: fx.dst }),
    async verify(h, _c, fx, _res, o) {
      expect((await h.folderRow(fx.f))!.parent_id).toBe(ok(o) ? fx.dst : fx.src);
    },
  }),
  row({
    endpoint: 'DELETE folders/{id} (Archive)',
    needs: {
      folder: { on: 'folder', allow: ['viewFolders', 'archiveFolders'], ...FOLDER_SEEN },
      entry: { on: 'entry inside (entry itself)', allow: ['archiveEntries'] },
    },
    okStatus: 204,
    async setup(h) {
      const f = await h.folder(await h.caseFolder());
      const e = await h.entry(await h.folder(f));
      return { nodes: { folder: folderRef(f), entry: entryRef(e.id) }, f, e };
    },
    call: (h, c, fx) => pc(h, c, 'DELETE', `/folders/${fx.f}`, { Action: 'Archive' }),
    async verify(h, _c, fx, _res, o) {
      expect((await h.folderRow(fx.f))!.archived_at !== null).toBe(ok(o));
      expect((await h.entryRow(fx.e.id))!.archived_at).toBeNull();
    },
  }),
  row({
    endpoint: 'DELETE folders/{id} (Delete, not archived yet)',
    needs: {
      folder: {
        on: 'folder',
        allow: ['viewFolders', 'archiveFolders', 'deleteFolders'],
        ...FOLDER_SEEN,
      },
      entry: { on: 'entry inside (entry itself)', allow: ['archiveEntries', 'deleteEntries'] },
    },
    okStatus: 204,
    async setup(h) {
      const f = await h.folder(await h.caseFolder());
      const e = await h.entry(f);
      return { nodes: { folder: folderRef(f), entry: entryRef(e.id) }, f, e };
    },
    call: (h, c, fx) => pc(h, c, 'DELETE', `/folders/${fx.f}`, { Action: 'Delete' }, 'v6'),
    async verify(h, _c, fx, _res, o) {
      const f = await h.folderRow(fx.f);
      // Refused: nothing changed, not even the archiving that comes first.
      if (ok(o)) expect(f).toBeUndefined();
      else expect(f!.archived_at).toBeNull();
      expect(await h.entryRow(fx.e.id)).toEqual(ok(o) ? undefined : expect.anything());
    },
  }),

  // ---------------------------------------------------------------- entries
  row({
    endpoint: 'POST entries',
    needs: { folder: { on: 'folder', allow: ['viewFolders', 'addEntries'], ...FOLDER_SEEN } },
    okStatus: 200,
    async setup(h) {
      const f = await h.folder(await h.caseFolder());
      return { nodes: { folder: folderRef(f) }, f, name: h.unique('new'), pw: testSecret('new') };
    },
    call: (h, c, fx) =>
      pc(h, c, 'POST', '/entries', { GroupId: fx.f, Name: fx.name, Password: fx.pw }, 'v6'),
    async verify(h, _c, fx, res, o) {
      const rows = await h.db
        .selectFrom('entries')
        .select('id')
        .where('folder_id', '=', fx.f)
        .where('name', '=', fx.name)
        .execute();
      expect(rows.length).toBe(ok(o) ? 1 : 0);
      if (ok(o)) expect(res.json()).toBe(rows[0]!.id);
      expect(res.body).not.toContain(fx.pw);
    },
  }),
  row({
    endpoint: 'GET entries/{id}',
    needs: { entry: entryFolder(['viewEntryNames', 'viewEntryContents']) },
    okStatus: 200,
    async setup(h) {
      const { f, e } = await entryCase(h);
      return { nodes: { entry: folderRef(f) }, e };
    },
    call: (h, c, fx) => pc(h, c, 'GET', `/entries/${fx.e.id}`),
    async verify(_h, _c, fx, res, o) {
      if (ok(o)) {
        expect(res.json()).toMatchObject({
          Id: fx.e.id,
          Username: fx.e.username,
          Notes: `notes of ${fx.e.name}`,
          Password: null,
          HasViewEntryContentsAccess: true,
        });
      } else expect(res.body).not.toContain(fx.e.username);
      expect(res.body).not.toContain(fx.e.password);
    },
  }),
  row({
    endpoint: 'GET entries/{id} (protected field value)',
    needs: {
      entry: entryFolder(['viewEntryNames', 'viewEntryContents', 'viewEntryPassword']),
    },
    missing: { 'entry.viewEntryPassword': 'hidden' },
    okStatus: 200,
    async setup(h) {
      const secret = testSecret('pin');
      const { f, e } = await entryCase(h, {
        customFields: [
          { name: 'PIN', value: secret, protected: true },
          { name: 'Plain', value: 'visible', protected: false },
        ],
      });
      return { nodes: { entry: folderRef(f) }, e, secret };
    },
    call: (h, c, fx) => pc(h, c, 'GET', `/entries/${fx.e.id}`, undefined, 'v6'),
    async verify(_h, _c, fx, res, o) {
      if (o === 'ok' || o === 'hidden') {
        expect(res.statusCode).toBe(200);
        expect(res.json().CustomUserFields).toEqual({
          PIN: o === 'ok' ? fx.secret : null,
          Plain: 'visible',
        });
        expect(res.json().HasViewEntryPasswordAccess).toBe(o === 'ok');
      }
      if (o !== 'ok') expect(res.body).not.toContain(fx.secret);
    },
  }),
  ...(
    [
      ['PATCH', '/entries', 'v5'],
      ['PUT', '/credential', 'v6'],
    ] as const
  ).map(([method, base, version]) =>
    row({
      endpoint: `${method} ${base.slice(1)}/{id} (${method === 'PUT' ? '{"Item"}' : 'Name'})`,
      needs: { entry: entryFolder(['viewEntryNames', 'viewEntryContents', 'modifyEntries']) },
      okStatus: 204,
      async setup(h) {
        const { f, e } = await entryCase(h);
        return { nodes: { entry: folderRef(f) }, e, newName: h.unique('renamed') };
      },
      call: (h, c, fx) =>
        pc(
          h,
          c,
          method,
          `${base}/${fx.e.id}`,
          method === 'PUT'
            ? { Item: { Id: fx.e.id, Name: fx.newName, Password: null }, Comment: 'rename' }
            : { Name: fx.newName },
          version,
        ),
      async verify(h, _c, fx, _res, o) {
        const r = (await h.entryRow(fx.e.id))!;
        expect({ name: r.name, version: r.version }).toEqual(
          ok(o) ? { name: fx.newName, version: 2 } : { name: fx.e.name, version: 1 },
        );
      },
    }),
  ),
  row({
    endpoint: 'PATCH entries/{id} (GroupId: a move)',
    needs: {
      source: {
        on: "source (entry's folder)",
        allow: ['viewEntryNames', 'moveEntries'],
        ...ENTRY_SEEN,
      },
      destination: { on: 'destination', allow: ['viewFolders', 'moveEntries'], ...FOLDER_SEEN },
    },
    okStatus: 204,
    async setup(h) {
      const c = await h.caseFolder();
      const src = await h.folder(c);
      const dst = await h.folder(c);
      const e = await h.entry(src);
      return { nodes: { source: folderRef(src), destination: folderRef(dst) }, e, src, dst };
    },
    call: (h, c, fx) => pc(h, c, 'PATCH', `/entries/${fx.e.id}`, { GroupId: fx.dst }),
    async verify(h, _c, fx, _res, o) {
      expect((await h.entryRow(fx.e.id))!.folder_id).toBe(ok(o) ? fx.dst : fx.src);
    },
  }),
  row({
    endpoint: 'PUT entries/{id} (GroupId and Name: a move and a change)',
    needs: {
      source: {
        on: "source (entry's folder)",
        allow: ['viewEntryNames', 'moveEntries'],
        ...ENTRY_SEEN,
      },
      destination: {
        on: 'destination',
        allow: [
          'viewFolders',
          'moveEntries',
          'viewEntryNames',
          'viewEntryContents',
          'modifyEntries',
        ],
        ...FOLDER_SEEN,
      },
    },
    missing: { 'destination.viewEntryNames': 'not_found' },
    okStatus: 204,
    async setup(h) {
      const c = await h.caseFolder();
      const src = await h.folder(c);
      const dst = await h.folder(c);
      const e = await h.entry(src);
      return {
        nodes: { source: folderRef(src), destination: folderRef(dst) },
        e,
        src,
        dst,
        newName: h.unique('renamed'),
      };
    },
    call: (h, c, fx) =>
      pc(h, c, 'PUT', `/entries/${fx.e.id}`, { Item: { GroupId: fx.dst, Name: fx.newName } }),
    async verify(h, _c, fx, _res, o) {
      const r = (await h.entryRow(fx.e.id))!;
      // Both or neither: a refused change rolls the move back.
      expect({ folder: r.folder_id, name: r.name }).toEqual(
        ok(o) ? { folder: fx.dst, name: fx.newName } : { folder: fx.src, name: fx.e.name },
      );
    },
  }),
  row({
    endpoint: 'DELETE entries/{id} (Archive)',
    needs: { entry: entryFolder(['viewEntryNames', 'archiveEntries']) },
    okStatus: 204,
    async setup(h) {
      const { f, e } = await entryCase(h);
      return { nodes: { entry: folderRef(f) }, e };
    },
    call: (h, c, fx) => pc(h, c, 'DELETE', `/entries/${fx.e.id}`, { action: 'archive' }),
    async verify(h, _c, fx, _res, o) {
      expect((await h.entryRow(fx.e.id))!.archived_at !== null).toBe(ok(o));
    },
  }),
  row({
    endpoint: 'DELETE entries/{id} (Delete, not archived yet)',
    needs: { entry: entryFolder(['viewEntryNames', 'archiveEntries', 'deleteEntries']) },
    okStatus: 204,
    async setup(h) {
      const { f, e } = await entryCase(h);
      return { nodes: { entry: folderRef(f) }, e };
    },
    call: (h, c, fx) =>
      pc(h, c, 'DELETE', `/credential/${fx.e.id}`, { Action: 'Delete', Comment: 'gone' }),
    async verify(h, _c, fx, _res, o) {
      const r = await h.entryRow(fx.e.id);
      if (ok(o)) expect(r).toBeUndefined();
      else expect(r!.archived_at).toBeNull();
    },
  }),
  row({
    endpoint: 'DELETE entries/{id} (Delete, in the Archive)',
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
    call: (h, c, fx) => pc(h, c, 'DELETE', `/entries/${fx.e.id}`, { Action: 'Delete' }, 'v6'),
    async verify(h, _c, fx, _res, o) {
      expect(await h.entryRow(fx.e.id)).toEqual(ok(o) ? undefined : expect.anything());
    },
  }),
  ...(
    [
      ['GET', '/entries', 'v5'],
      ['POST', '/credential', 'v6'],
    ] as const
  ).map(([method, base, version]) =>
    row({
      endpoint: `${method} ${base.slice(1)}/{id}/password`,
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
      call: (h, c, fx) =>
        pc(
          h,
          c,
          method,
          `${base}/${fx.e.id}/password`,
          method === 'POST' ? {} : undefined,
          version,
        ),
      async verify(h, c, fx, res, o) {
        if (ok(o)) expect(res.body).toBe(JSON.stringify(fx.e.password));
        else expect(res.body).not.toContain(fx.e.password);
        await expectAudited(h, c, 'Password Fetched', o, fx.path);
      },
    }),
  ),

  // ---------------------------------------------------------------- attachments
  row({
    endpoint: 'GET entries/{id}/attachments',
    needs: { entry: entryFolder(['viewEntryNames', 'viewEntryContents']) },
    okStatus: 200,
    async setup(h) {
      const content = h.unique('file content');
      const { f, e } = await entryCase(h, {
        attachments: [{ fileName: 'a.txt', data: b64(content) }],
      });
      return { nodes: { entry: folderRef(f) }, e, content };
    },
    call: (h, c, fx) => pc(h, c, 'GET', `/entries/${fx.e.id}/attachments`),
    async verify(h, c, fx, res, o) {
      if (ok(o)) {
        expect(res.json()).toEqual([
          {
            CredentialObjectId: fx.e.id,
            AttachmentId: fx.e.attachments[0]!.id,
            FileName: 'a.txt',
            FileData: b64(fx.content),
            FileSize: Buffer.byteLength(fx.content),
          },
        ]);
      } else expect(res.body).not.toContain(b64(fx.content));
      expect((await h.audit(c.loginName, 'Attachment Downloaded')).length).toBe(ok(o) ? 1 : 0);
    },
  }),
  row({
    endpoint: 'GET entries/{id}/attachments/{aid}',
    needs: { entry: entryFolder(['viewEntryNames', 'viewEntryContents']) },
    okStatus: 200,
    async setup(h) {
      const content = h.unique('attachment content');
      const { f, e } = await entryCase(h, {
        attachments: [{ fileName: 'b.txt', data: b64(content) }],
      });
      return { nodes: { entry: folderRef(f) }, e, aid: e.attachments[0]!.id, content };
    },
    call: (h, c, fx) =>
      pc(h, c, 'GET', `/entries/${fx.e.id}/attachments/${fx.aid}`, undefined, 'v6'),
    async verify(h, c, fx, res, o) {
      if (ok(o)) expect(Buffer.from(res.json().FileData, 'base64').toString()).toBe(fx.content);
      else expect(res.body).not.toContain(b64(fx.content));
      expect((await h.audit(c.loginName, 'Attachment Downloaded')).length).toBe(ok(o) ? 1 : 0);
    },
  }),

  // ---------------------------------------------------------------- tree and search
  row({
    endpoint: 'GET folders (folder shown)',
    needs: { folder: { on: 'folder (empty)', allow: ['viewFolders'] } },
    listing: true,
    okStatus: 200,
    async setup(h) {
      const f = await h.folder(await h.caseFolder());
      return { nodes: { folder: folderRef(f) }, f };
    },
    call: (h, c) => pc(h, c, 'GET', '/folders'),
    async verify(_h, _c, fx, res, o) {
      expect(res.statusCode).toBe(200);
      expect(res.body.includes(fx.f)).toBe(ok(o));
    },
  }),
  row({
    endpoint: 'GET folders (credential listed)',
    needs: { entry: { on: "entry's folder", allow: ['viewEntryNames'] } },
    listing: true,
    okStatus: 200,
    async setup(h) {
      const { f, e } = await entryCase(h);
      return { nodes: { entry: folderRef(f) }, e };
    },
    call: (h, c) => pc(h, c, 'GET', '/credentialgroup', undefined, 'v6'),
    async verify(_h, _c, fx, res, o) {
      expect(res.statusCode).toBe(200);
      expect(res.body.includes(fx.e.id)).toBe(ok(o));
    },
  }),
  row({
    endpoint: 'POST search (by name)',
    needs: { entry: { on: "entry's folder", allow: ['viewEntryNames'] } },
    listing: true,
    okStatus: 200,
    async setup(h) {
      const { f, e } = await entryCase(h);
      return { nodes: { entry: folderRef(f) }, e };
    },
    call: (h, c, fx) => pc(h, c, 'POST', '/search', { Search: fx.e.name }),
    async verify(_h, _c, fx, res, o) {
      expect(res.statusCode).toBe(200);
      const hit = res.json().Credentials.find((e: { Id: string }) => e.Id === fx.e.id);
      if (ok(o)) expect(hit).toMatchObject({ Name: fx.e.name, Path: expect.stringMatching(/\/$/) });
      else expect(hit).toBeUndefined();
    },
  }),
  row({
    endpoint: 'POST search (by username)',
    needs: { entry: { on: "entry's folder", allow: ['viewEntryNames', 'viewEntryContents'] } },
    listing: true,
    okStatus: 200,
    async setup(h) {
      const { f, e } = await entryCase(h);
      return { nodes: { entry: folderRef(f) }, e };
    },
    call: (h, c, fx) => pc(h, c, 'POST', '/search', { search: fx.e.username }, 'v6'),
    async verify(_h, _c, fx, res, o) {
      expect(res.statusCode).toBe(200);
      const hit = res.json().Credentials.find((e: { Id: string }) => e.Id === fx.e.id);
      if (ok(o)) expect(hit).toMatchObject({ Username: fx.e.username });
      else expect(hit).toBeUndefined();
    },
  }),

  // ---------------------------------------------------------------- user access
  row({
    endpoint: 'GET folders/{id}/useraccess',
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
    call: (h, c, fx) => pc(h, c, 'GET', `/folders/${fx.f}/useraccess`),
    async verify(h, _c, _fx, res, o) {
      if (ok(o)) {
        expect(res.json().map((g: { UserId: string | null }) => g.UserId)).toContain(
          h.bystander.id,
        );
      } else expect(res.body).not.toContain(h.bystander.id);
    },
  }),
  row({
    endpoint: 'GET entries/{id}/useraccess',
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
    call: (h, c, fx) => pc(h, c, 'GET', `/credential/${fx.e.id}/useraccess`, undefined, 'v6'),
    async verify(h, _c, _fx, res, o) {
      if (ok(o)) {
        expect(res.json().map((g: { UserId: string | null }) => g.UserId)).toContain(
          h.bystander.id,
        );
      } else expect(res.body).not.toContain(h.bystander.id);
    },
  }),
  ...(
    [
      ['folder', L1],
      ['entry', L2],
    ] as const
  ).flatMap(([kind, flags]) => {
    const node = (fx: { f: string; e: { id: string } }) =>
      kind === 'folder' ? `/folders/${fx.f}` : `/entries/${fx.e.id}`;
    const needs: Record<string, NodeNeed> =
      kind === 'folder'
        ? {
            node: {
              on: 'folder',
              allow: ['viewFolders'],
              grant: ['viewFolders', 'viewEntryNames'],
              ...FOLDER_SEEN,
            },
          }
        : { node: entryFolder(['viewEntryNames'], ['viewEntryNames', 'viewEntryContents']) };
    const target = async (h: MatrixHarness, fx: { f: string; e: { id: string } }) =>
      kind === 'folder'
        ? h.ctx.services.vault.folderPath(fx.f)
        : h.ctx.services.vault.entryPath(fx.e.id);
    const grantedOn = (fx: { f: string; e: { id: string } }) =>
      kind === 'folder' ? fx.f : fx.e.id;
    return [
      row({
        endpoint: `POST ${kind === 'folder' ? 'folders' : 'entries'}/{id}/useraccess`,
        needs,
        okStatus: 200,
        async setup(h) {
          const { f, e } = await entryCase(h);
          return { nodes: { node: folderRef(f) }, f, e, level: await h.level(flags) };
        },
        call: (h, c, fx) =>
          pc(h, c, 'POST', `${node(fx)}/useraccess`, {
            UserId: h.bystander.id,
            PermissionSetId: fx.level,
          }),
        async verify(h, c, fx, res, o) {
          const rows = await h.db
            .selectFrom('grants')
            .select('id')
            .where('node_id', '=', grantedOn(fx))
            .where('principal_id', '=', h.bystander.id)
            .execute();
          expect(rows.length).toBe(ok(o) ? 1 : 0);
          if (ok(o)) expect(res.json()).toMatchObject({ Id: rows[0]!.id, UserId: h.bystander.id });
          await expectAudited(h, c, 'Access Added', o, await target(h, fx));
        },
      }),
      row({
        endpoint: `DELETE ${kind === 'folder' ? 'credentialgroup' : 'credential'}/{id}/useraccess/{row}`,
        needs,
        okStatus: 204,
        async setup(h) {
          const { f, e } = await entryCase(h);
          const gid = await h.grant(
            kind === 'folder' ? folderRef(f) : entryRef(e.id),
            { type: 'user', id: h.bystander.id },
            await h.level(flags),
          );
          return { nodes: { node: folderRef(f) }, f, e, gid };
        },
        call: (h, c, fx) =>
          pc(
            h,
            c,
            'DELETE',
            `${node(fx).replace('/folders', '/credentialgroup').replace('/entries', '/credential')}/useraccess/${fx.gid}`,
            { Action: 'Delete' },
          ),
        async verify(h, c, fx, _res, o) {
          expect(await h.grantExists(fx.gid)).toBe(!ok(o));
          await expectAudited(h, c, 'Access Removed', o, await target(h, fx));
        },
      }),
    ];
  }),
];

describe.each(DIALECTS)('permission matrix through the Pleasant-compatible API (%s)', (dialect) => {
  let ctx: TestContext;
  let h: MatrixHarness;

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    h = new MatrixHarness(ctx);
    await h.init();
    await ctx.services.pleasantApi.update(
      testActor({ userId: h.admin.id, loginName: SYSTEM_ACTOR.loginName, isAdministrator: true }),
      { userAccessEnabled: true },
    );
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('covers every Pleasant vault route (each path of each version and alias)', () => {
    const covered = new Set(
      ROWS.map((r) =>
        r.endpoint
          .replace(/ \(.*\)$/, '')
          .replace('credentialgroup', 'folders')
          .replace('credential/', 'entries/')
          .replace(/\{[a-zA-Z]+\}/g, ':'),
      ),
    );
    const routes = ctx.app.routeTable
      .filter((r) => r.url.startsWith('/api/v5/rest/') || r.url.startsWith('/api/v6/rest/'))
      .map(
        (r) =>
          `${r.method} ${r.url
            .replace(/^\/api\/v[56]\/rest\//, '')
            .replace(/^credentialgroup(\/|$)/, 'folders$1')
            .replace(/^credential(\/|$)/, 'entries$1')
            .replace(/:[a-zA-Z]+/g, ':')}`,
      )
      // Not vault permissions: the root id, access levels, server info, strength, the offline
      // package (its own rules, see the header).
      .filter(
        (r) =>
          !/^(GET folders\/root|GET accesslevels|GET getserverinfo|POST passwordstrength|POST offlinepackage)$/.test(
            r,
          ),
      );
    expect([...new Set(routes)].filter((r) => !covered.has(r))).toEqual([]);
  });

  for (const r of ROWS) defineRowCases(r, () => h, expectErrorMessage);
});
