import { flag, type Command } from '../command.js';
import { copyToClipboard, requireClipboard, scheduleClear } from '../clipboard.js';
import { CliError } from '../errors.js';
import type { LsResult, SearchResultOut, ShowResult } from '../results.js';
import { withRead } from '../session.js';
import { findEntry, findFolder, isId, rootOf } from '../vault.js';

export const ls: Command = {
  name: 'ls',
  summary: 'List a folder (default Root)',
  usage: `strongroom ls [<folder path or id>] [-R] [-l]

Lists the folders (with a trailing /) and entries in a folder, such as Root/Team/Servers (the
leading Root/ may be left out). Works offline from the cache.

  -R, --recursive   everything below the folder, by full path
  -l, --long        add the user name and URL of each entry (tab-separated)`,
  options: {
    recursive: { type: 'boolean', short: 'R' },
    long: { type: 'boolean', short: 'l' },
  },
  stdin: { 'cache-password-stdin': 'cachePassword' },
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
  usage: `strongroom show <entry path or id> [--reveal] [--copy]

Shows an entry's fields. The password and protected fields stay hidden unless --reveal is given.
--copy puts the password on the clipboard and clears it after the seconds set in your client
settings (if it still holds the password then). Each password fetch is audited on the server;
offline, each reveal or copy is written to the offline journal, uploaded at the next connect.`,
  options: {
    reveal: { type: 'boolean' },
    copy: { type: 'boolean' },
  },
  stdin: { 'cache-password-stdin': 'cachePassword' },
  positionals: { min: 1, max: 1 },
  async run(ctx, args, secrets): Promise<ShowResult> {
    const ref = args.positionals[0]!;
    const reveal = flag(args, 'reveal');
    const copy = flag(args, 'copy');
    // Before anything is fetched (and audited): is there a clipboard at all?
    const clip = copy ? requireClipboard(ctx.env) : null;
    return withRead(ctx, secrets, async (src) => {
      const id =
        isId(ref) && src.kind === 'server'
          ? ref.toLowerCase()
          : findEntry(await src.tree(), ref).id;
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
  usage: `strongroom search <text>

Finds entries whose name, user name, URL, tags or notes contain the text (any case), and folders
whose name does. Works offline from the cache.`,
  options: {},
  stdin: { 'cache-password-stdin': 'cachePassword' },
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
