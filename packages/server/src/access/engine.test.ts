import { describe, expect, it } from 'vitest';
import { Kysely, SqliteDialect, type LogEvent } from 'kysely';
import BetterSqlite3 from 'better-sqlite3';
import {
  BUILTIN_ACCESS_LEVELS,
  VAULT_PERMISSIONS,
  type VaultPermission,
} from '@strongroom/protocol';
import type { Database } from '../db/schema.js';
import { migrate } from '../db/migrator.js';
import { EffectivePermissions, type FolderShape, type GrantShape } from './engine.js';
import { loadEffectivePermissions } from './load.js';
import { FOLDER_DEFAULTS } from './test-fixture.js';
import { Perms } from './permission-set.js';

/** Pure tests of the permission engine (spec §3): no database except the query-count test. */

const level = (key: string): Perms => {
  const l = BUILTIN_ACCESS_LEVELS.find((x) => x.key === key);
  if (!l) throw new Error(key);
  return Perms.fromFlags(l);
};
const LEVELS = new Map(BUILTIN_ACCESS_LEVELS.map((l) => [l.key, Perms.fromFlags(l)]));
const custom = (allow: VaultPermission[], grant: VaultPermission[] = []) =>
  Perms.fromFlags({ allow, grant });

const NOW = Date.UTC(2026, 2, 1);

/** Root ─ A ─ B ─ C ─ D, Root ─ X. */
function tree(blocking: string[] = []): Map<string, FolderShape> {
  const parents: Array<[string, string | null]> = [
    ['root', null],
    ['A', 'root'],
    ['B', 'A'],
    ['C', 'B'],
    ['D', 'C'],
    ['X', 'root'],
  ];
  return new Map(
    parents.map(([id, parentId]) => [
      id,
      { id, parentId, blockInheritance: blocking.includes(id) },
    ]),
  );
}

const onFolder = (nodeId: string, accessLevelId: string, expiresAt: number | null = null) =>
  ({ nodeType: 'folder', nodeId, accessLevelId, expiresAt }) satisfies GrantShape;
const onEntry = (nodeId: string, accessLevelId: string, expiresAt: number | null = null) =>
  ({ nodeType: 'entry', nodeId, accessLevelId, expiresAt }) satisfies GrantShape;

function engine(
  grants: GrantShape[],
  opts: { blocking?: string[]; admin?: boolean; levels?: Map<string, Perms> } = {},
) {
  return new EffectivePermissions(
    tree(opts.blocking),
    grants,
    opts.levels ?? LEVELS,
    NOW,
    opts.admin ?? false,
  );
}

describe('effective permissions', () => {
  it('several grants on one node add up (union of A and G flags)', () => {
    const levels = new Map([
      ['view', custom(['viewFolders', 'viewEntryNames'])],
      ['edit', custom(['modifyEntries'], ['viewFolders'])],
    ]);
    const p = engine([onFolder('A', 'view'), onFolder('A', 'edit')], { levels }).folder('A');
    expect(p.has('viewFolders')).toBe(true);
    expect(p.has('viewEntryNames')).toBe(true);
    expect(p.has('modifyEntries')).toBe(true);
    expect(p.canGrant('viewFolders')).toBe(true);
    expect(p.has('viewEntryPassword')).toBe(false);
    expect(p.canGrant('modifyEntries')).toBe(false);
  });

  it('a grant on a folder reaches every folder below it, several levels down', () => {
    const e = engine([onFolder('A', 'read-only')]);
    for (const id of ['A', 'B', 'C', 'D']) {
      expect(e.folder(id).has('viewEntryPassword')).toBe(true);
      expect(e.folder(id).has('modifyEntries')).toBe(false);
    }
    // Not upwards, not sideways.
    expect(e.folder('root').isEmpty).toBe(true);
    expect(e.folder('X').isEmpty).toBe(true);
  });

  it('grants at several depths add up on the folders below both', () => {
    const e = engine([onFolder('root', 'read-only'), onFolder('C', 'full')]);
    expect(e.folder('B').has('modifyEntries')).toBe(false);
    expect(e.folder('D').has('modifyEntries')).toBe(true);
    expect(e.folder('D').has('viewAccess')).toBe(true);
  });

  it('block inheritance stops grants made above, but not grants on the blocking folder or below', () => {
    const e = engine(
      [
        onFolder('root', 'full'),
        onFolder('A', 'full-offline'),
        onFolder('B', 'read-only'),
        onFolder('D', 'grant-only'),
      ],
      { blocking: ['B'] },
    );
    // Above the block: everything from root and A counts.
    expect(e.folder('A').has('viewEntryOffline')).toBe(true);
    // The blocking folder keeps only its own grant.
    expect(e.folder('B').toFlags()).toEqual(level('read-only').toFlags());
    // Below it: the blocking folder's grant is inherited, the ones above stay stopped.
    expect(e.folder('C').toFlags()).toEqual(level('read-only').toFlags());
    expect(e.folder('D').has('modifyEntries')).toBe(false);
    expect(e.folder('D').has('viewEntryOffline')).toBe(false);
    expect(e.folder('D').canGrant('viewEntryOffline')).toBe(true);
    // A sibling branch is untouched by the block.
    expect(e.folder('X').has('modifyEntries')).toBe(true);
  });

  it('a blocking folder with no grant of its own gives nothing, even to holders of access above', () => {
    const e = engine([onFolder('root', 'full-grant-block')], { blocking: ['C'] });
    expect(e.folder('B').has('setBlockInheritance')).toBe(true);
    expect(e.folder('C').isEmpty).toBe(true);
    expect(e.folder('D').isEmpty).toBe(true);
  });

  it('expired grants never count, exactly at the expiry time too', () => {
    const e = engine([
      onFolder('A', 'read-only', NOW), // expires exactly now
      onFolder('B', 'full', NOW - 1),
      onFolder('C', 'full-offline', NOW + 1), // still valid for one millisecond
    ]);
    expect(e.folder('A').isEmpty).toBe(true);
    expect(e.folder('B').isEmpty).toBe(true);
    expect(e.folder('C').has('viewEntryOffline')).toBe(true);
    expect(e.folder('D').has('viewEntryOffline')).toBe(true);
  });

  it('an entry grant adds to the permissions of its folder, for that entry only', () => {
    const e = engine([onFolder('B', 'read-only'), onEntry('e1', 'full-offline')]);
    const own = e.entry('e1', 'B');
    expect(own.has('viewEntryPassword')).toBe(true);
    expect(own.has('modifyEntries')).toBe(true);
    expect(own.has('viewEntryOffline')).toBe(true);
    const other = e.entry('e2', 'B');
    expect(other.has('viewEntryPassword')).toBe(true);
    expect(other.has('modifyEntries')).toBe(false);
    // The entry grant does not make its folder visible.
    expect(e.folder('B').has('modifyEntries')).toBe(false);
    expect(e.entriesWithOwnGrants()).toEqual(['e1']);
  });

  it('an entry grant counts inside a folder the caller cannot see', () => {
    const e = engine([onEntry('e1', 'read-only')]);
    expect(e.canSeeFolder('C')).toBe(false);
    expect(e.canSeeEntry('e1', 'C')).toBe(true);
    expect(e.canSeeEntry('e2', 'C')).toBe(false);
  });

  it('roles count through the principal list: grants to any of the caller’s roles apply', async () => {
    const db = new Kysely<Database>({
      dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }),
    });
    try {
      await migrate(db, 'sqlite');
      const t = NOW;
      await db
        .insertInto('folders')
        .values([
          {
            ...FOLDER_DEFAULTS,
            id: 'root',
            parent_id: null,
            name: 'Root',
            kind: 'root',
            created_at: t,
            modified_at: t,
          },
          {
            ...FOLDER_DEFAULTS,
            id: 'A',
            parent_id: 'root',
            name: 'A',
            kind: 'folder',
            created_at: t,
            modified_at: t,
          },
          {
            ...FOLDER_DEFAULTS,
            id: 'B',
            parent_id: 'root',
            name: 'B',
            kind: 'folder',
            created_at: t,
            modified_at: t,
          },
          {
            ...FOLDER_DEFAULTS,
            id: 'C',
            parent_id: 'root',
            name: 'C',
            kind: 'folder',
            created_at: t,
            modified_at: t,
          },
        ])
        .execute();
      await db
        .insertInto('access_levels')
        .values(
          BUILTIN_ACCESS_LEVELS.map((l) => ({
            id: l.key,
            name: l.name,
            name_key: l.key,
            description: '',
            builtin_key: l.key,
            allow: JSON.stringify(l.allow),
            grant_flags: JSON.stringify(l.grant),
            created_at: t,
            updated_at: t,
          })),
        )
        .execute();
      const g = (id: string, nodeId: string, type: string, principal: string, lvl: string) => ({
        id,
        node_type: 'folder',
        node_id: nodeId,
        principal_type: type,
        principal_id: principal,
        access_level_id: lvl,
        created_at: t,
      });
      await db
        .insertInto('grants')
        .values([
          g('g1', 'A', 'user', 'u1', 'read-only'),
          g('g2', 'B', 'role', 'r-outer', 'full'), // u1 is in r-outer through a sub-role
          g('g3', 'C', 'role', 'r-other', 'full'), // a role u1 is not in
          g('g4', 'C', 'user', 'r-outer', 'full'), // a *user* grant whose id equals a role id
        ])
        .execute();
      const eff = await loadEffectivePermissions(
        db,
        { userId: 'u1', roleIds: ['r-inner', 'r-outer'], isAdministrator: false },
        NOW,
      );
      expect(eff.folder('A').has('viewEntryPassword')).toBe(true);
      expect(eff.folder('B').has('modifyEntries')).toBe(true);
      expect(eff.folder('C').isEmpty).toBe(true);
      expect(eff.folder('root').isEmpty).toBe(true);
    } finally {
      await db.destroy();
    }
  });

  it('an administrator holds every permission on every folder and entry, blocks included', () => {
    const e = engine([], { admin: true, blocking: ['B'] });
    for (const id of ['root', 'A', 'B', 'D', 'X']) {
      for (const p of VAULT_PERMISSIONS) {
        expect(e.folder(id).has(p)).toBe(true);
        expect(e.folder(id).canGrant(p)).toBe(true);
      }
      expect(e.canSeeFolder(id)).toBe(true);
    }
    expect(e.entry('any', 'D').has('viewEntryOffline')).toBe(true);
    expect(e.folder('no-such-folder').isEmpty).toBe(true);
    expect(e.administrator).toBe(true);
  });

  it('a corrupt tree with a parent cycle does not hang the engine', () => {
    const folders = new Map<string, FolderShape>([
      ['P', { id: 'P', parentId: 'Q', blockInheritance: false }],
      ['Q', { id: 'Q', parentId: 'P', blockInheritance: false }],
    ]);
    const e = new EffectivePermissions(folders, [onFolder('Q', 'full')], LEVELS, NOW, false);
    expect(e.folder('P').has('modifyEntries')).toBe(true);
  });
});

describe('the granting rule (Perms.mayGrantLevel) on the built-in levels', () => {
  const keys = BUILTIN_ACCESS_LEVELS.map((l) => l.key);

  it('Full + Grant can grant Read-Only, Full and Full + Grant, but not Full + Offline', () => {
    const holder = level('full-grant');
    expect(holder.mayGrantLevel(level('read-only'))).toBe(true);
    expect(holder.mayGrantLevel(level('full'))).toBe(true);
    expect(holder.mayGrantLevel(level('full-grant'))).toBe(true);
    expect(holder.mayGrantLevel(level('full-offline'))).toBe(false);
    expect(holder.mayGrantLevel(level('grant-only'))).toBe(false);
  });

  it('Grant Only can grant every built-in level', () => {
    const holder = level('grant-only');
    for (const k of keys) expect(holder.mayGrantLevel(level(k))).toBe(true);
  });

  it('levels without G flags can grant nothing', () => {
    for (const k of ['read-only', 'full', 'full-offline']) {
      for (const target of keys) expect(level(k).mayGrantLevel(level(target))).toBe(false);
    }
  });

  it('a G flag on every A permission of a level is not enough when the level itself carries G flags', () => {
    const holder = custom([], ['viewFolders', 'viewEntryNames']);
    expect(holder.mayGrantLevel(custom(['viewFolders', 'viewEntryNames']))).toBe(true);
    expect(holder.mayGrantLevel(custom(['viewFolders'], ['viewEntryNames']))).toBe(true);
    expect(holder.mayGrantLevel(custom(['viewFolders'], ['viewEntryPassword']))).toBe(false);
  });

  it('the rule applies to effective G flags: grants on the node and above add up', () => {
    const levels = new Map([
      ['g-view', custom([], ['viewFolders', 'viewEntryNames', 'viewEntryContents'])],
      ['g-pass', custom([], ['viewEntryPassword', 'viewEntryHistory', 'viewAccess'])],
    ]);
    const e = engine([onFolder('A', 'g-view'), onFolder('C', 'g-pass')], { levels });
    expect(e.folder('B').mayGrantLevel(level('read-only'))).toBe(false);
    expect(e.folder('C').mayGrantLevel(level('read-only'))).toBe(true);
    expect(e.folder('D').mayGrantLevel(level('read-only'))).toBe(true);
  });
});

describe('whole-tree computation is bounded in queries', () => {
  async function countQueries(folderCount: number, grantCount: number): Promise<number> {
    let queries = 0;
    const raw = new BetterSqlite3(':memory:');
    const setup = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
    const counted = new Kysely<Database>({
      dialect: new SqliteDialect({ database: raw }),
      log: (e: LogEvent) => {
        if (e.level === 'query') queries++;
      },
    });
    try {
      await migrate(setup, 'sqlite');
      const t = NOW;
      const folders = [
        {
          id: 'f0',
          parent_id: null as string | null,
          name: 'Root',
          kind: 'root',
          block_inheritance: 0,
        },
      ];
      for (let i = 1; i < folderCount; i++) {
        // A deep and wide tree: every folder hangs under one of the previous ten; some block.
        folders.push({
          id: `f${i}`,
          parent_id: `f${Math.max(0, i - 1 - (i % 10))}`,
          name: `F${i}`,
          kind: 'folder',
          block_inheritance: i % 7 === 3 ? 1 : 0,
        });
      }
      for (let i = 0; i < folders.length; i += 200) {
        await setup
          .insertInto('folders')
          .values(
            folders
              .slice(i, i + 200)
              .map((f) => ({ ...FOLDER_DEFAULTS, ...f, created_at: t, modified_at: t })),
          )
          .execute();
      }
      await setup
        .insertInto('access_levels')
        .values(
          BUILTIN_ACCESS_LEVELS.map((l) => ({
            id: l.key,
            name: l.name,
            name_key: l.key,
            description: '',
            builtin_key: l.key,
            allow: JSON.stringify(l.allow),
            grant_flags: JSON.stringify(l.grant),
            created_at: t,
            updated_at: t,
          })),
        )
        .execute();
      const grants = Array.from({ length: grantCount }, (_, i) => ({
        id: `g${i}`,
        node_type: i % 5 === 0 ? 'entry' : 'folder',
        node_id: i % 5 === 0 ? `e${i}` : `f${(i * 37) % folderCount}`,
        principal_type: i % 2 === 0 ? 'user' : 'role',
        principal_id: i % 2 === 0 ? 'u1' : 'r1',
        access_level_id: BUILTIN_ACCESS_LEVELS[i % BUILTIN_ACCESS_LEVELS.length]!.key,
        created_at: t,
      }));
      for (let i = 0; i < grants.length; i += 100) {
        await setup
          .insertInto('grants')
          .values(grants.slice(i, i + 100))
          .execute();
      }
      const eff = await loadEffectivePermissions(
        counted,
        { userId: 'u1', roleIds: ['r1'], isAdministrator: false },
        NOW,
      );
      // Asking about every folder and entry costs no further query.
      let visible = 0;
      for (const f of folders) if (eff.folder(f.id).has('viewFolders')) visible++;
      for (const g of grants) if (g.node_type === 'entry') eff.entry(g.node_id, 'f1');
      expect(visible).toBeGreaterThan(0);
      return queries;
    } finally {
      await counted.destroy();
    }
  }

  it('loads 500 folders and 200 grants in at most three queries, the same as for 50 folders', async () => {
    const large = await countQueries(500, 200);
    const small = await countQueries(50, 20);
    expect(large).toBeGreaterThan(0);
    expect(large).toBeLessThanOrEqual(3);
    expect(large).toBe(small);
  });
});
