import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Args, Command, OptionSpec } from './command.js';
import { login, logout, status } from './commands/account.js';
import { add, edit, mv, rm } from './commands/change.js';
import { clearCache, connect, disconnect, exportKeyFile, importCache } from './commands/offline.js';
import { attachment, ls, search, show } from './commands/read.js';
import { baseContext, type Ctx, type OfflineAccess } from './context.js';
import { CliError, EXIT_CODES } from './errors.js';
import type { Io } from './io.js';
import { render } from './render.js';
import type { Result } from './results.js';
import { Secrets, type SecretSlot } from './secrets.js';
import { asCliError } from './session.js';

export const COMMANDS: readonly Command[] = [
  login,
  logout,
  status,
  ls,
  show,
  attachment,
  search,
  add,
  edit,
  mv,
  rm,
  disconnect,
  connect,
  clearCache,
  importCache,
  exportKeyFile,
];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export function mainUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: strongroom <command> [options]   (strongroom help <command> for details)

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Every command takes --json (one JSON object on standard output). Passwords are never taken from
the command line: they are asked at the terminal, or given with --password-stdin, --totp-stdin,
--cache-password-stdin, --new-cache-password-stdin (one line of standard input each, in that
order) or STRONGROOM_PASSWORD, STRONGROOM_TOTP, STRONGROOM_CACHE_PASSWORD,
STRONGROOM_NEW_CACHE_PASSWORD. For add and edit, --password-stdin reads the entry's new password.

Exit codes: 0 done; 1 failed; 2 wrong command line or missing input; 3 not logged in or
authentication failed; 4 not found; 5 refused while Working Offline; 6 server not answering and
no offline cache; 7 not allowed; 8 offline cache unusable (none, wrong password, other machine,
damaged, expired, revoked); 9 refused by the server as given; 10 unavailable here (no clipboard,
no machine identity, or the offline journal held by another strongroom process for over ten
seconds).`;
}

const SECRET_ARGUMENT =
  /^--?(password|pass|pw|cache-password|new-cache-password|totp|secret)(=|$)/i;

function parse(command: Command, argv: string[]): Args & { json: boolean; help: boolean } {
  const bad = argv.find((a) => SECRET_ARGUMENT.test(a));
  if (bad) {
    throw new CliError(
      'usage',
      `passwords and codes are never taken from the command line (${bad.split('=')[0]}): use the --…-stdin options, the environment or the prompt`,
    );
  }
  const options: OptionSpec = {
    ...command.options,
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const name of Object.keys(command.stdin ?? {})) options[name] = { type: 'boolean' };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const opt = /'([^']+)'/.exec(e.message)?.[1];
    const what =
      e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && opt
        ? `unknown option ${opt}`
        : e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && opt
          ? `option ${opt.split(' ')[0]} needs a value`
          : e.message.split('. ')[0]!.replace(/\.$/, '');
    throw new CliError('usage', `${what} (strongroom help ${command.name})`);
  }
  const { values, positionals } = parsed;
  const help = values.help === true;
  if (!help) {
    if (positionals.length < command.positionals.min) {
      throw new CliError(
        'usage',
        `missing argument: strongroom ${command.usage.split('\n')[0]!.replace(/^strongroom /, '')}`,
      );
    }
    if (positionals.length > command.positionals.max) {
      throw new CliError(
        'usage',
        `too many arguments (${positionals.slice(command.positionals.max).join(' ')}); see strongroom help ${command.name}`,
      );
    }
  }
  return { values, positionals, json: values.json === true, help };
}

/** Runs one command line; returns the exit code. Never throws, never prints a stack trace. */
export async function run(
  argv: string[],
  env: NodeJS.ProcessEnv,
  io: Io,
  makeOffline: (ctx: Omit<Ctx, 'offline'>) => OfflineAccess,
): Promise<number> {
  const json = argv.includes('--json');
  const debug = env.STRONGROOM_DEBUG === '1';
  try {
    const [name, ...rest] = argv.filter((a, i) => !(a === '--json' && i === 0));
    let result: Result;
    if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
      const topic = name === 'help' ? rest.find((a) => !a.startsWith('-')) : undefined;
      const cmd = topic ? COMMANDS.find((c) => c.name === topic) : undefined;
      if (topic && !cmd)
        throw new CliError('usage', `no command ${topic}; strongroom help lists them`);
      result = { kind: 'text', text: cmd ? `Usage: ${cmd.usage}` : mainUsage() };
    } else if (name === 'version' || name === '--version' || name === '-V') {
      result = { kind: 'text', text: `strongroom ${version()}` };
    } else {
      const command = COMMANDS.find((c) => c.name === name);
      if (!command) throw new CliError('usage', `no command ${name}; strongroom help lists them`);
      const args = parse(command, rest);
      if (args.help) {
        result = { kind: 'text', text: `Usage: ${command.usage}` };
      } else {
        const ctx = baseContext(env, io, args.json, makeOffline);
        const slots = new Set<SecretSlot>();
        for (const [opt, slot] of Object.entries(command.stdin ?? {})) {
          if (args.values[opt] === true) slots.add(slot);
        }
        result = await command.run(ctx, args, new Secrets(io, env, slots));
      }
    }
    io.out(render(result, json));
    return 0;
  } catch (raw) {
    const err = asCliError(raw);
    if (err instanceof CliError) {
      if (debug && err.stack) io.err(`${err.stack}\n`);
      io.err(`strongroom: ${err.message}\n`);
      if (json) io.out(`${JSON.stringify({ error: { code: err.code, message: err.message } })}\n`);
      return err.exitCode;
    }
    // Not one of ours: a bug or an unexpected system error. One line; the stack only on request.
    if (debug && raw instanceof Error && raw.stack) io.err(`${raw.stack}\n`);
    const message = raw instanceof Error ? raw.message : String(raw);
    io.err(
      `strongroom: unexpected error: ${message}${debug ? '' : ' (STRONGROOM_DEBUG=1 shows details)'}\n`,
    );
    if (json) io.out(`${JSON.stringify({ error: { code: 'failed', message } })}\n`);
    return EXIT_CODES.failed;
  }
}
