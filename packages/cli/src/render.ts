import type { Result } from './results.js';
import { formatTime } from './session.js';

/** The one place that turns a command's result into output: text for people, or JSON. */
export function render(result: Result, json: boolean): string {
  if (json) {
    if (result.kind === 'text') return `${JSON.stringify({ text: result.text })}\n`;
    const { kind: _kind, ...data } = result;
    return `${JSON.stringify(data, null, 2)}\n`;
  }
  const lines = text(result);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

const HIDDEN = '********';

function when(iso: string | null, none = 'never'): string {
  return iso ? formatTime(iso) : none;
}

function age(seconds: number): string {
  if (seconds < 120) return `${Math.max(0, Math.round(seconds))} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} days`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** What limits the cache's life, in words. */
function expiry(expiresAt: string | null, maxOfflineUntil: string | null): string {
  const parts = [
    expiresAt ? `the cache expires ${when(expiresAt)}` : 'the cache does not expire',
    ...(maxOfflineUntil ? [`offline use ends ${when(maxOfflineUntil)} at the latest`] : []),
  ];
  return parts.join('; ');
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function text(r: Result): string[] {
  switch (r.kind) {
    case 'text':
      return [r.text.replace(/\n$/, '')];
    case 'login':
      return r.mode === 'online'
        ? [
            `Logged in to ${r.serverUrl} as ${r.loginName} (${r.displayName}); the session ends ${when(r.sessionExpiresAt)}.`,
            ...(r.journal
              ? [`Offline journal uploaded: ${plural(r.journal.records, 'record')}.`]
              : []),
          ]
        : [
            `Working Offline as ${r.loginName} since ${when(r.offlineSince)}, from the cache made ${when(r.cache?.createdAt ?? null)} (read-only).`,
          ];
    case 'logout':
      return [
        r.loggedOut
          ? r.serverSessionEnded
            ? 'Logged out.'
            : 'Logged out here; the server could not be told, so the session ends when it expires.'
          : 'Not logged in.',
        ...(r.mode === 'offline'
          ? ['The client is still Working Offline: strongroom connect goes back online.']
          : []),
      ];
    case 'status': {
      const out: string[] = [];
      if (r.mode === 'offline') {
        out.push(`Working Offline since ${when(r.offlineSince)} (${r.offlineReason ?? ''})`);
        out.push(`  as:      ${r.loginName ?? ''} on ${r.serverUrl ?? ''}`);
      } else if (r.loginName) {
        const reach =
          r.serverReachable === false
            ? 'server not answering'
            : r.session?.valid === false
              ? 'session ended: log in again'
              : 'online';
        out.push(
          `Online: ${r.loginName} (${r.displayName ?? ''}) on ${r.serverUrl ?? ''} — ${reach}`,
        );
        if (r.session) out.push(`  session: ends ${when(r.session.expiresAt)}`);
      } else {
        out.push('Not logged in.');
      }
      if (r.cache) {
        const c = r.cache;
        out.push(
          `Offline cache: ${c.entryCount} entries of ${c.loginName}, made ${when(c.createdAt)} (${age(c.ageSeconds)} ago)`,
        );
        out.push(`  ${expiry(c.expiresAt, c.maxOfflineUntil)}`);
        if (c.journalRecords) {
          out.push(
            `  journal: ${plural(c.journalRecords, 'record')} to upload at the next connect`,
          );
        }
        out.push(`  file:    ${c.file}`);
      } else {
        out.push('No offline cache (strongroom disconnect makes one).');
      }
      return out;
    }
    case 'ls': {
      if (r.recursive) {
        return [
          ...r.folders.map((f) => `${f.path}/`),
          ...r.entries.map((e) =>
            r.long ? `${e.path}\t${e.username ?? ''}\t${e.url ?? ''}` : e.path,
          ),
        ];
      }
      return [
        ...r.folders.map((f) => `${f.name}/`),
        ...r.entries.map((e) =>
          r.long ? `${e.name}\t${e.username ?? ''}\t${e.url ?? ''}` : e.name,
        ),
      ];
    }
    case 'show': {
      const e = r.entry;
      const out = [e.path, `  id:        ${e.id}`, `  username:  ${e.username}`];
      if (r.revealed && r.password !== undefined) out.push(`  password:  ${r.password}`);
      else if (e.hasPassword) out.push(`  password:  ${HIDDEN}`);
      if (r.copied) {
        out.push(
          `  (password copied to the clipboard${r.clipboardClearSeconds ? `; cleared in ${r.clipboardClearSeconds} s` : ''})`,
        );
      }
      if (e.url) out.push(`  url:       ${e.url}`);
      if (e.tags.length) out.push(`  tags:      ${e.tags.join(', ')}`);
      for (const f of e.customFields) {
        const v = f.protected && !r.revealed ? HIDDEN : (f.value ?? HIDDEN);
        out.push(`  ${f.name}: ${v}`);
      }
      if (e.notes) {
        out.push('  notes:');
        for (const line of e.notes.split('\n')) out.push(`    ${line}`);
      }
      for (const a of e.attachments) out.push(`  attachment: ${a.fileName} (${bytes(a.size)})`);
      if (e.expiresAt) out.push(`  expires:   ${when(e.expiresAt)}`);
      out.push(`  modified:  ${when(e.modifiedAt)}`);
      return out;
    }
    case 'search':
      return [
        ...r.folders.map((f) => `${f.path}/`),
        ...r.entries.map((e) => `${e.path}${e.username ? `\t${e.username}` : ''}`),
        ...(r.truncated ? ['(more matched; refine the search)'] : []),
      ];
    case 'change': {
      const what = r.type === 'entry' ? 'Entry' : 'Folder';
      const verb = {
        added: 'added',
        edited: 'changed',
        moved: 'moved to',
        archived: 'moved to the Archive:',
      }[r.action];
      if (r.action === 'moved') return [`${what} moved: ${r.path}`];
      if (r.action === 'archived') return [`${what} ${verb} ${r.path}`];
      return [
        `${what} ${verb}: ${r.path}${r.fields?.length ? ` (${r.fields.join(', ')})` : ''}`,
        ...(r.generatedPassword
          ? ['A new password was generated (strongroom show --reveal shows it).']
          : []),
      ];
    }
    case 'disconnect':
      return [
        r.usedPreviousCache
          ? `The server does not answer: Working Offline from the previous cache, made ${when(r.cache.createdAt)}.`
          : `Offline cache written: ${r.cache.entryCount} entries (${r.cache.file}).`,
        `Working Offline since ${when(r.offlineSince)}; ${expiry(r.cache.expiresAt, r.cache.maxOfflineUntil)}.`,
      ];
    case 'connect':
      return [
        `Back online: ${r.loginName} on ${r.serverUrl}.`,
        ...(r.journal
          ? [
              `Offline journal uploaded: ${plural(r.journal.records, 'record')} (${r.journal.accepted} new).`,
            ]
          : []),
        ...(r.cache === 'refreshed'
          ? ['The offline cache was out of date and has been refreshed.']
          : []),
        ...(r.cache === 'deleted'
          ? [`The offline cache was deleted (${r.cacheDeletedBecause ?? ''}).`]
          : []),
      ];
    case 'clear-cache':
      return r.cleared
        ? [
            `Offline cache ${r.cacheId ?? ''} erased.`,
            r.serverTold ? 'The server was told.' : 'The server will be told at the next contact.',
          ]
        : ['There is no offline cache here.'];
    case 'import-cache':
      return [
        `Imported the offline cache made ${when(r.createdAt)} (${r.entryCount} entries)${r.reencrypted ? ', re-encrypted with the new cache password' : ''}.`,
      ];
    case 'attachment':
      return [`Saved ${r.fileName} of ${r.entry} (${bytes(r.size)}) to ${r.path}.`];
    case 'export-key-file':
      return [
        `Key file written: ${r.path} (keep it as safe as the cache password).`,
        `Open the cache in KeePassXC with it and the cache password, e.g.:`,
        `  keepassxc-cli ls -R -k '${r.path}' '${r.cacheFile}'`,
      ];
  }
}
