import { newUuid as randomUUID, randomBytesOf as randomBytes } from '@strongroom/crypto';
import {
  DEFAULT_CLIENT_SETTINGS,
  DEFAULT_PASSWORD_REQUIREMENTS,
  OFFLINE_PACKAGE_FORMAT,
  type OfflineEntry,
  type OfflineFolder,
  type OfflinePackage,
} from '@strongroom/protocol';

/**
 * An offline package like the server benchmark's vault: `entries` entries spread over `folders`
 * folders (a tree ten wide under Root), every entry with a username, password, URL, notes and a
 * protected custom field, a third of them tagged, and 1% with a 16 KiB attachment.
 */
export function samplePackage(entries: number, folders: number): OfflinePackage {
  const root: OfflineFolder = { id: randomUUID(), parentId: null, name: 'Root', path: 'Root' };
  const fs: OfflineFolder[] = [root];
  for (let i = 0; i < folders - 1; i++) {
    const parent = fs[Math.floor(i / 10)]!;
    const name = `Folder ${i}`;
    fs.push({ id: randomUUID(), parentId: parent.id, name, path: `${parent.path}/${name}` });
  }
  const es: OfflineEntry[] = [];
  for (let i = 0; i < entries; i++) {
    const f = fs[i % fs.length]!;
    const name = `Entry ${i}`;
    const attachments =
      i % 100 === 0
        ? [
            {
              id: randomUUID(),
              fileName: `file-${i}.bin`,
              size: 16384,
              dataBase64: randomBytes(16384).toString('base64'),
            },
          ]
        : [];
    es.push({
      id: randomUUID(),
      folderId: f.id,
      path: `${f.path}/${name}`,
      name,
      username: `user${i}@corp.example`,
      password: randomBytes(15).toString('base64'),
      url: `https://app${i}.corp.example/login`,
      notes: `Notes for entry ${i}: rotate quarterly, owner team ${i % 17}.`,
      tags: i % 3 === 0 ? ['prod', 'db'] : [],
      customFields: [{ name: 'API key', value: randomBytes(16).toString('hex'), protected: true }],
      attachments,
      clientMeta: {},
      expiresAt: null,
      createdAt: '2026-01-02T03:04:05.678Z',
      modifiedAt: '2026-02-03T04:05:06.789Z',
    });
  }
  return packageShell({
    revision: 'bench',
    createdAt: new Date().toISOString(),
    loginName: 'bench@corp.example',
    displayName: 'Bench User',
    passwordRequirements: { ...DEFAULT_PASSWORD_REQUIREMENTS },
    folders: fs,
    entries: es,
  });
}

/** A package around these folders and entries: new ids, no expiry, the default client rule. */
export function packageShell(
  p: Pick<
    OfflinePackage,
    'revision' | 'createdAt' | 'loginName' | 'passwordRequirements' | 'folders' | 'entries'
  > & { displayName: string },
): OfflinePackage {
  return {
    format: OFFLINE_PACKAGE_FORMAT,
    cacheId: randomUUID(),
    serverId: randomUUID(),
    revision: p.revision,
    createdAt: p.createdAt,
    expiresAt: null,
    maxOfflineUntil: null,
    loginName: p.loginName,
    user: { id: randomUUID(), displayName: p.displayName },
    clientSettings: {
      settings: { ...DEFAULT_CLIENT_SETTINGS },
      ruleId: randomUUID(),
      ruleName: 'Default Rule',
      source: 'default',
    },
    passwordRequirements: p.passwordRequirements,
    folders: p.folders,
    entries: p.entries,
  };
}
