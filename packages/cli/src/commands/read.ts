import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { flag, str, type Command } from '../command.js';
import { copyToClipboard, requireClipboard, scheduleClear } from '../clipboard.js';
import { CliError } from '../errors.js';
import type { AttachmentResult, LsResult, SearchResultOut, ShowResult } from '../results.js';
import { withRead } from '../session.js';
import { findEntry, findFolder, isId, rootOf, type VaultSource } from '../vault.js';

/** The entry a path or id names (an id goes to the server as it is; the cache looks it up). */
async function entryIdOf(src: VaultSource, ref: string): Promise<string> {
  return isId(ref) && src.kind === 'server'
    ? ref.toLowerCase()
    : findEntry(await src.tree(), ref).id;
}

/** Offline, a read command opens the cache: its password may come from standard input. */
const CACHE_PASSWORD_STDIN: Command['stdin'] = { 'cache-password-stdin': 'cachePassword' };

export const ls: Command = {
  name: 'ls',
  summary: 'List a folder (default Root)',
  usage: `strongroom ls [<folder path or id>] [-R] [-l] [--cache-password-stdin]

Lists the folders (with a trailing /) and entries in a folder, such as Root/Team/Servers (the
leading Root/ may be left out). Works offline from the cache.

  -R, --recursive           everything below the folder, by full path
  -l, --long                add the user name and URL of each entry (tab-separated)
  --cache-password-stdin    offline: read the cache password from standard input`,
  options: {
    recursive: { type: 'boolean', short: 'R' },
    long: { type: 'boolean', short: 'l' },
  },
  stdin: CACHE_PASSWORD_STDIN,
  positionals: { min: 0, max: 1 },
  async run(ctx, args, secrets): Promise<LsResult> {
    const recursive = flag(args, 'recursive');
    return withRead(ctx, secrets, async (src) => {
      const tree = await src.tree();
      const ref = args.positionals[0];
      const folder = ref === undefined ? rootOf(tree) : findFolder(tree, ref);
      const below = `${folder.path}/`;
      return {
        kind: 'ls',
        source: src.kind,
        folder: { id: folder.id, path: folder.path },
        recursive,
        long: flag(args, 'long'),
        folders: recursive
          ? tree.folders.filter((f) => f.path.startsWith(below))
          : tree.folders.filter((f) => f.parentId === folder.id),
        entries: recursive
          ? tree.entries.filter((e) => e.path.startsWith(below))
          : tree.entries.filter((e) => e.folderId === folder.id),
      };
    });
  },
};

export const show: Command = {
  name: 'show',
  summary: 'Show an entry (password hidden unless --reveal; --copy to the clipboard)',
  usage: `strongroom show <entry path or id> [--reveal] [--copy] [--cache-password-stdin]

Shows an entry's fields. The password and protected fields stay hidden unless --reveal is given.
--copy puts the password on the clipboard and clears it after the seconds set in your client
settings (if it still holds the password then). Each password fetch is audited on the server;
offline, each reveal or copy is written to the offline journal, uploaded at the next connect.

  --cache-password-stdin    offline: read the cache password from standard input`,
  options: {
    reveal: { type: 'boolean' },
    copy: { type: 'boolean' },
  },
  stdin: CACHE_PASSWORD_STDIN,
  positionals: { min: 1, max: 1 },
  async run(ctx, args, secrets): Promise<ShowResult> {
    const ref = args.positionals[0]!;
    const reveal = flag(args, 'reveal');
    const copy = flag(args, 'copy');
    // Before anything is fetched (and audited): is there a clipboard at all?
    const clip = copy ? requireClipboard(ctx.env) : null;
    return withRead(ctx, secrets, async (src) => {
      const id = await entryIdOf(src, ref);
      const entry = await src.entry(id);
      const hasProtected = entry.customFields.some((f) => f.protected);
      let password: string | undefined;
      if (reveal && (entry.hasPassword || (src.kind === 'cache' && hasProtected))) {
        password = await src.password(id, 'viewed');
      }
      let clearSeconds: number | null = null;
      if (clip) {
        if (!entry.hasPassword)
          throw new CliError('not_found', `${entry.path} has no password to copy`);
        const value = await src.password(id, 'copied');
        await copyToClipboard(clip, value, ctx.env);
        clearSeconds = await src.clipboardSeconds();
        scheduleClear(clip, value, clearSeconds, ctx.env);
      }
      const shown = reveal
        ? entry
        : {
            ...entry,
            customFields: entry.customFields.map((f) => (f.protected ? { ...f, value: null } : f)),
          };
      return {
        kind: 'show',
        source: src.kind,
        entry: shown,
        revealed: reveal,
        ...(reveal ? { password: entry.hasPassword ? (password ?? '') : '' } : {}),
        copied: clip !== null,
        clipboardClearSeconds: clearSeconds,
      };
    });
  },
};

export const search: Command = {
  name: 'search',
  summary: 'Search names, user names, URLs, tags and notes',
  usage: `strongroom search <text> [--cache-password-stdin]

Finds entries whose name, user name, URL, tags or notes contain the text (any case), and folders
whose name does. Works offline from the cache.

  --cache-password-stdin    offline: read the cache password from standard input`,
  options: {},
  stdin: CACHE_PASSWORD_STDIN,
  positionals: { min: 1, max: 1 },
  async run(ctx, args, secrets): Promise<SearchResultOut> {
    const text = args.positionals[0]!;
    if (text.trim() === '') throw new CliError('usage', 'search for what? give some text');
    return withRead(ctx, secrets, async (src) => {
      const hits = await src.search(text);
      return { kind: 'search', source: src.kind, query: text, ...hits };
    });
  },
};

export const attachment: Command = {
  name: 'attachment',
  summary: "Save an entry's attachment to a file",
  usage: `strongroom attachment <entry path or id> <file name> --out <path> [--force] [--cache-password-stdin]

Writes the attachment (as listed by show) to <path>, mode 0600; --force replaces an existing
file. Online the download is audited; offline it comes from the cache.

  --cache-password-stdin    offline: read the cache password from standard input`,
  options: { out: { type: 'string', short: 'o' }, force: { type: 'boolean' } },
  stdin: CACHE_PASSWORD_STDIN,
  positionals: { min: 2, max: 2 },
  async run(ctx, args, secrets): Promise<AttachmentResult> {
    const [ref, fileName] = args.positionals as [string, string];
    const out = str(args, 'out');
    if (!out) throw new CliError('usage', 'where to? give --out <path>');
    const path = resolve(out);
    return withRead(ctx, secrets, async (src) => {
      const id = await entryIdOf(src, ref);
      const entry = await src.entry(id);
      const found = entry.attachments.filter((a) => a.fileName === fileName || a.id === fileName);
      if (found.length === 0)
        throw new CliError('not_found', `${entry.path} has no attachment ${fileName}`);
      if (found.length > 1) {
        throw new CliError(
          'ambiguous',
          `${entry.path} has ${found.length} attachments named ${fileName}; give one of their ids: ${found.map((a) => a.id).join(', ')}`,
        );
      }
      const bytes = await src.attachment(id, found[0]!.id);
      try {
        await writeFile(path, bytes, { mode: 0o600, flag: flag(args, 'force') ? 'w' : 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new CliError('usage', `${path} exists already (--force replaces it)`);
        }
        throw new CliError(
          'failed',
          `cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
        );
      }
      return {
        kind: 'attachment',
        source: src.kind,
        entry: entry.path,
        fileName: found[0]!.fileName,
        size: bytes.length,
        path,
      };
    });
  },
};
