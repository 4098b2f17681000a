import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditVerifyResult } from '@strongroom/protocol';
import { formatWrappingKey } from '@strongroom/crypto';
import type { ServerConfig } from '../config/config.js';
import { compose, type Services } from '../compose.js';
import { openStore } from '../db/connect.js';
import { verifyAuditChain } from '../audit/verify.js';
import { rotateWrappingKey } from '../keys/keys.js';
import {
  ADMIN_COMMAND_ACTOR,
  createUserCommand,
  resetPasswordCommand,
} from '../users/admin-commands.js';

/** What each command reports; one renderer turns it into text or JSON. */
export type CommandResult =
  | { command: 'help'; usage: string }
  | ({ command: 'verify-audit' } & AuditVerifyResult)
  | {
      command: 'rotate-key';
      oldKeyId: string;
      newKeyId: string;
      dataKeys: number;
      /** Key file that now holds the new key (key file mode). */
      keyFile: string | null;
      /** The new key, shown once (environment mode only). */
      newKey: string | null;
      /** Where the new key is also saved until a server starts with it (environment mode). */
      pendingFile: string | null;
    }
  | {
      command: 'create-user' | 'reset-password';
      user: { id: string; loginName: string; administrator: boolean; mustChangePassword: boolean };
    };

/** A wrong command line: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const USAGE = `Usage: npm run admin -- <command> [options]   (or: strongroom-admin <command>)

Commands:
  verify-audit                     check the hash chain of the audit log (exit 1 if broken)
  rotate-key                       replace the wrapping key: the data keys are re-wrapped with a
                                   new key; the key file is replaced (or, with
                                   STRONGROOM_WRAPPING_KEY, the new key is printed once)
  create-user --login NAME [--admin]
                                   create a user who must change the password at first login
  reset-password --login NAME      set a user's password (must be changed at next login; ends the
                                   user's sessions and clears a lockout)
  help                             show this text

Options:
  --json                           print the result as one JSON object
  --data-dir DIR                   data directory (default ./data, or STRONGROOM_DATA_DIR)

Passwords are never taken from the command line: pipe the password on standard input, type it
at the prompt, or set STRONGROOM_NEW_PASSWORD. The storage and the wrapping key are found as the
server finds them (STRONGROOM_DATABASE_URL, STRONGROOM_WRAPPING_KEY_FILE, STRONGROOM_WRAPPING_KEY).

Exit codes: 0 done, 1 failed (or the audit log is broken), 2 wrong command line.`;

/** Refuses to create an empty SQLite database where the administrator expected one. */
function requireDatabase(config: ServerConfig): void {
  if (config.databaseUrl) return;
  const file = join(config.dataDir, 'strongroom.db');
  if (!existsSync(file)) {
    throw new Error(
      `there is no database in ${config.dataDir}: give the server's data directory (--data-dir or STRONGROOM_DATA_DIR) or STRONGROOM_DATABASE_URL`,
    );
  }
}

async function withServices<T>(
  config: ServerConfig,
  fn: (services: Services) => Promise<T>,
): Promise<T> {
  requireDatabase(config);
  const services = await compose(config, { createKeyFile: false, backgroundJobs: false });
  try {
    return await fn(services);
  } finally {
    await services.close();
  }
}

/**
 * Checks the chain straight from the database: needs no wrapping key and changes nothing, so
 * it also runs on a copy of the database.
 */
export async function verifyAuditCommand(config: ServerConfig): Promise<CommandResult> {
  requireDatabase(config);
  const store = openStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    pgSchema: config.pgSchema,
  });
  try {
    return { command: 'verify-audit', ...(await verifyAuditChain(store)) };
  } finally {
    await store.close();
  }
}

export async function rotateKeyCommand(config: ServerConfig): Promise<CommandResult> {
  return withServices(config, async (services) => {
    const r = await rotateWrappingKey(services.store, config, {
      audit: services.audit,
      actor: ADMIN_COMMAND_ACTOR,
    });
    return {
      command: 'rotate-key',
      oldKeyId: r.oldKeyId,
      newKeyId: r.newKeyId,
      dataKeys: r.dataKeys,
      keyFile: r.wroteFile ? config.wrappingKeyFile : null,
      newKey: r.wroteFile ? null : formatWrappingKey(r.newKey),
      pendingFile: r.pendingFile,
    };
  });
}

export async function createUserCliCommand(
  config: ServerConfig,
  input: { loginName: string; administrator: boolean; password: string },
): Promise<CommandResult> {
  return withServices(config, async (services) => {
    const user = await createUserCommand(services, input);
    return {
      command: 'create-user',
      user: {
        id: user.id,
        loginName: user.loginName,
        administrator: user.roles.some((r) => r.builtin === 'administrators'),
        mustChangePassword: user.mustChangePassword,
      },
    };
  });
}

export async function resetPasswordCliCommand(
  config: ServerConfig,
  loginName: string,
  password: string,
): Promise<CommandResult> {
  return withServices(config, async (services) => {
    const user = await resetPasswordCommand(services, loginName, password);
    return {
      command: 'reset-password',
      user: {
        id: user.id,
        loginName: user.loginName,
        administrator: user.roles.some((r) => r.builtin === 'administrators'),
        mustChangePassword: user.mustChangePassword,
      },
    };
  });
}

/** The result as text for a person, and the exit code it calls for. */
export function renderText(result: CommandResult): { text: string; exitCode: number } {
  switch (result.command) {
    case 'help':
      return { text: result.usage, exitCode: 0 };
    case 'verify-audit': {
      if (result.ok) {
        const head =
          result.lastSeq === null
            ? 'The audit log is empty.'
            : `The audit log is intact: ${result.records} records checked.`;
        const tail =
          result.lastSeq === null
            ? ''
            : `\nNewest record: #${result.lastSeq}, hash ${result.lastHash}. Keep this line elsewhere: a later check showing an older newest record means records were cut from the end.`;
        return { text: head + tail, exitCode: 0 };
      }
      return {
        text: `The audit log is BROKEN at record #${result.firstBadSeq}: ${result.reason}.\n${result.records - 1} records before it are intact.`,
        exitCode: 1,
      };
    }
    case 'rotate-key': {
      const lines = [
        `The wrapping key was rotated: ${result.oldKeyId} -> ${result.newKeyId} (${result.dataKeys} data key${result.dataKeys === 1 ? '' : 's'} re-wrapped).`,
        'The old key no longer opens this database. Servers that are running keep working.',
      ];
      if (result.keyFile) {
        lines.push(
          `The key file ${result.keyFile} now holds the new key. Back it up now, and copy it to every`,
          'server that keeps its own copy of the key file.',
        );
      } else {
        lines.push(
          '',
          'The new wrapping key (shown only this once):',
          '',
          `  ${result.newKey}`,
          '',
          'Set STRONGROOM_WRAPPING_KEY to it on every server before it next starts, and keep a copy in',
          'your secret store. A server started with the old key refuses to start and names this file:',
          `the key is also saved in ${result.pendingFile} (mode 0600) until the first start with the`,
          'new key deletes it.',
        );
      }
      return { text: lines.join('\n'), exitCode: 0 };
    }
    case 'create-user':
      return {
        text: `Created the user ${result.user.loginName} (${result.user.id})${result.user.administrator ? ' as an administrator' : ''}. The password must be changed at first login.`,
        exitCode: 0,
      };
    case 'reset-password':
      return {
        text: `The password of ${result.user.loginName} was reset. It must be changed at next login; the user's sessions were ended.`,
        exitCode: 0,
      };
  }
}

export function exitCodeOf(result: CommandResult): number {
  return renderText(result).exitCode;
}
