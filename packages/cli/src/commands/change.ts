import { generatePassword } from '@strongroom/crypto';
import type {
  CreateEntry,
  CustomFieldInput,
  EffectiveClientConfig,
  Entry,
  EntryLocation,
  Folder,
  UpdateEntry,
} from '@strongroom/protocol';
import { flag, list, str, type Args, type Command } from '../command.js';
import type { Ctx } from '../context.js';
import { CliError } from '../errors.js';
import type { Api } from '../http.js';
import { OnlineSource } from '../online.js';
import type { ChangeResult } from '../results.js';
import type { Secrets } from '../secrets.js';
import { withChange } from '../session.js';
import { findEntry, findFolder, findNode, normalisePath } from '../vault.js';

/** Online changes (add, edit, mv, rm) through the native API; refused while Working Offline. */

const PASSWORD_OPTIONS = {
  'prompt-password': { type: 'boolean' },
  generate: { type: 'boolean' },
} as const;

const FIELD_OPTIONS = {
  username: { type: 'string' },
  url: { type: 'string' },
  notes: { type: 'string' },
  tag: { type: 'string', multiple: true },
  field: { type: 'string', multiple: true },
} as const;

/** The entry's new password, if one of --password-stdin, --prompt-password, --generate says so. */
async function newPassword(
  ctx: Ctx,
  api: Api,
  args: Args,
  secrets: Secrets,
): Promise<{ password: string; generated: boolean } | null> {
  const ways = [
    flag(args, 'password-stdin'),
    flag(args, 'prompt-password'),
    flag(args, 'generate'),
  ];
  if (ways.filter(Boolean).length > 1) {
    throw new CliError('usage', 'give only one of --password-stdin, --prompt-password, --generate');
  }
  if (flag(args, 'password-stdin')) {
    return {
      password: await secrets.get('entryPassword', '', 'the entry password'),
      generated: false,
    };
  }
  if (flag(args, 'prompt-password')) {
    if (!ctx.io.interactive)
      throw new CliError(
        'input_needed',
        '--prompt-password needs a terminal (use --password-stdin)',
      );
    const a = await ctx.io.promptHidden('Password for the entry: ');
    const b = await ctx.io.promptHidden('Repeat it: ');
    if (a !== b) throw new CliError('usage', 'the two passwords differ');
    return { password: a, generated: false };
  }
  if (flag(args, 'generate')) {
    const cfg = await api.get<EffectiveClientConfig>('/client-config/effective');
    return { password: generatePassword(cfg.settings.passwordGenerator), generated: true };
  }
  return null;
}

function parseFields(args: Args): { name: string; value: string }[] {
  return list(args, 'field').map((f) => {
    const i = f.indexOf('=');
    if (i <= 0) throw new CliError('usage', `--field takes NAME=VALUE: ${f}`);
    return { name: f.slice(0, i), value: f.slice(i + 1) };
  });
}

/** Splits `Root/A/B/Name` into the folder path and the name. */
function splitPath(ref: string): { parent: string; name: string } {
  const p = normalisePath(ref);
  const i = p.lastIndexOf('/');
  if (i < 0) throw new CliError('usage', 'give the path of the new item, such as Root/Team/Name');
  return { parent: p.slice(0, i), name: p.slice(i + 1) };
}

export const add: Command = {
  name: 'add',
  summary: 'Add an entry (or, with --folder, a folder)',
  usage: `strongroom add <path> [--username U] [--url U] [--notes N] [--tag T]... [--field NAME=VALUE]...
               [--password-stdin | --prompt-password | --generate]
strongroom add --folder <path> [--notes N] [--tag T]...

Creates the entry (or folder) at <path>, such as Root/Team/Mail; the folder must exist. The
password never comes from the command line: --password-stdin reads it from standard input,
--prompt-password asks for it twice, --generate makes one with your client settings.`,
  options: { folder: { type: 'boolean' }, ...FIELD_OPTIONS, ...PASSWORD_OPTIONS },
  stdin: { 'password-stdin': 'entryPassword' },
  positionals: { min: 1, max: 1 },
  async run(ctx, args, secrets): Promise<ChangeResult> {
    const { parent, name } = splitPath(args.positionals[0]!);
    return withChange(ctx, 'add', async (api) => {
      const tree = await new OnlineSource(api).tree();
      const folder = findFolder(tree, parent);
      const tags = list(args, 'tag');
      if (flag(args, 'folder')) {
        const f = await api.post<Folder>('/folders', {
          parentId: folder.id,
          name,
          ...(str(args, 'notes') !== undefined ? { notes: str(args, 'notes') } : {}),
          ...(tags.length ? { tags } : {}),
        });
        return { kind: 'change', action: 'added', type: 'folder', id: f.id, path: f.path };
      }
      const pw = await newPassword(ctx, api, args, secrets);
      const fields = parseFields(args);
      const body: CreateEntry = {
        folderId: folder.id,
        name,
        ...(str(args, 'username') !== undefined ? { username: str(args, 'username') } : {}),
        ...(str(args, 'url') !== undefined ? { url: str(args, 'url') } : {}),
        ...(str(args, 'notes') !== undefined ? { notes: str(args, 'notes') } : {}),
        ...(tags.length ? { tags } : {}),
        ...(fields.length ? { customFields: fields.map((f) => ({ ...f, protected: false })) } : {}),
        ...(pw ? { password: pw.password } : {}),
      };
      const e = await api.post<Entry>('/entries', body);
      return {
        kind: 'change',
        action: 'added',
        type: 'entry',
        id: e.id,
        path: e.path,
        ...(pw?.generated ? { generatedPassword: true } : {}),
      };
    });
  },
};

export const edit: Command = {
  name: 'edit',
  summary: 'Change fields of an entry',
  usage: `strongroom edit <entry path or id> [--name N] [--username U] [--url U] [--notes N]
               [--tag T]... [--no-tags] [--field NAME=VALUE]... [--remove-field NAME]...
               [--password-stdin | --prompt-password | --generate]

Changes only what is given (the server keeps a new version). --tag replaces the tags; --no-tags
removes them. --field sets a custom field (keeping whether it is protected), --remove-field
removes one.`,
  options: {
    name: { type: 'string' },
    'no-tags': { type: 'boolean' },
    'remove-field': { type: 'string', multiple: true },
    ...FIELD_OPTIONS,
    ...PASSWORD_OPTIONS,
  },
  stdin: { 'password-stdin': 'entryPassword' },
  positionals: { min: 1, max: 1 },
  async run(ctx, args, secrets): Promise<ChangeResult> {
    const ref = args.positionals[0]!;
    return withChange(ctx, 'edit', async (api) => {
      const target = findEntry(await new OnlineSource(api).tree(), ref);
      const patch: UpdateEntry = {};
      for (const k of ['name', 'username', 'url', 'notes'] as const) {
        const v = str(args, k);
        if (v !== undefined) patch[k] = v;
      }
      const tags = list(args, 'tag');
      if (tags.length && flag(args, 'no-tags'))
        throw new CliError('usage', 'give --tag or --no-tags, not both');
      if (tags.length) patch.tags = tags;
      if (flag(args, 'no-tags')) patch.tags = [];
      const sets = parseFields(args);
      const removes = list(args, 'remove-field');
      if (sets.length || removes.length) {
        const current = await api.get<Entry>(`/entries/${target.id}`);
        // A protected value sent as null keeps the value the server holds.
        let fields: CustomFieldInput[] = current.customFields.map((f) => ({
          name: f.name,
          value: f.protected ? null : f.value,
          protected: f.protected,
        }));
        for (const r of removes) {
          if (!fields.some((f) => f.name === r))
            throw new CliError('not_found', `${target.path} has no field ${r}`);
          fields = fields.filter((f) => f.name !== r);
        }
        for (const s of sets) {
          const existing = fields.find((f) => f.name === s.name);
          if (existing) existing.value = s.value;
          else fields.push({ name: s.name, value: s.value, protected: false });
        }
        patch.customFields = fields;
      }
      const pw = await newPassword(ctx, api, args, secrets);
      if (pw) patch.password = pw.password;
      const changed = Object.keys(patch);
      if (changed.length === 0) {
        throw new CliError(
          'usage',
          'nothing to change: give --name, --username, --url, --notes, --tag, --field or a password option',
        );
      }
      const e = await api.patch<Entry>(`/entries/${target.id}`, patch);
      return {
        kind: 'change',
        action: 'edited',
        type: 'entry',
        id: e.id,
        path: e.path,
        fields: changed,
        ...(pw?.generated ? { generatedPassword: true } : {}),
      };
    });
  },
};

export const mv: Command = {
  name: 'mv',
  summary: 'Move an entry or a folder into another folder',
  usage: `strongroom mv <entry or folder path or id> <destination folder path or id>`,
  options: {},
  positionals: { min: 2, max: 2 },
  async run(ctx, args): Promise<ChangeResult> {
    const [ref, dest] = args.positionals as [string, string];
    return withChange(ctx, 'mv', async (api) => {
      const tree = await new OnlineSource(api).tree();
      const node = findNode(tree, ref);
      const to = findFolder(tree, dest);
      if (node.type === 'entry') {
        const loc = await api.post<EntryLocation>(`/entries/${node.node.id}/move`, {
          folderId: to.id,
        });
        return { kind: 'change', action: 'moved', type: 'entry', id: loc.id, path: loc.path };
      }
      const f = await api.post<Folder>(`/folders/${node.node.id}/move`, { parentId: to.id });
      return { kind: 'change', action: 'moved', type: 'folder', id: f.id, path: f.path };
    });
  },
};

export const rm: Command = {
  name: 'rm',
  summary: 'Move an entry or a folder to the Archive',
  usage: `strongroom rm <entry or folder path or id>

Moves the entry or folder (with everything in it) to the Archive, from where it can be restored
in the web application. Nothing is deleted for good.`,
  options: {},
  positionals: { min: 1, max: 1 },
  async run(ctx, args): Promise<ChangeResult> {
    const ref = args.positionals[0]!;
    return withChange(ctx, 'rm', async (api) => {
      const node = findNode(await new OnlineSource(api).tree(), ref);
      const kind = node.type === 'entry' ? 'entries' : 'folders';
      await api.post(`/${kind}/${node.node.id}/archive`);
      return {
        kind: 'change',
        action: 'archived',
        type: node.type,
        id: node.node.id,
        path: node.node.path,
      };
    });
  },
};
