#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { loadConfig, type ServerConfig } from '../config/config.js';
import { AppError } from '../shared/errors.js';
import {
  USAGE,
  UsageError,
  createUserCliCommand,
  renderText,
  resetPasswordCliCommand,
  rotateKeyCommand,
  verifyAuditCommand,
  type CommandResult,
} from './commands.js';

/** Reads one line typed at the terminal without echoing it. */
function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    process.stderr.write(prompt);
    input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');
    let value = '';
    const done = (err?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || ch === '\u0004') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    input.on('data', onData);
  });
}

/**
 * The new password: STRONGROOM_NEW_PASSWORD, else typed twice at a terminal, else the first line
 * of standard input. Never from the command line, where other users of the machine can see it.
 */
async function readNewPassword(): Promise<string> {
  const fromEnv = process.env.STRONGROOM_NEW_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (process.stdin.isTTY) {
    const first = await promptHidden('New password: ');
    const again = await promptHidden('Repeat it: ');
    if (first !== again) throw new AppError('validation_failed', 'The two passwords differ.');
    return first;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const line = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (line === '') {
    throw new UsageError(
      'no password given: pipe it on standard input or set STRONGROOM_NEW_PASSWORD',
    );
  }
  return line;
}

interface Parsed {
  command: string;
  json: boolean;
  login: string | undefined;
  admin: boolean;
  dataDir: string | undefined;
}

function parse(argv: string[]): Parsed {
  if (argv.some((a) => /^--?(password|pass|pw)(=|$)/i.test(a))) {
    throw new UsageError(
      'passwords are never taken from the command line: pipe it on standard input or set STRONGROOM_NEW_PASSWORD',
    );
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean', default: false },
        login: { type: 'string' },
        admin: { type: 'boolean', default: false },
        'data-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) {
    throw new UsageError(`unexpected argument "${positionals[1]}"`);
  }
  const command = values.help ? 'help' : (positionals[0] ?? 'help');
  return {
    command,
    json: values.json,
    login: values.login,
    admin: values.admin,
    dataDir: values['data-dir'],
  };
}

function requireLogin(p: Parsed): string {
  if (!p.login) throw new UsageError(`${p.command} needs --login NAME`);
  return p.login;
}

function allowOnly(p: Parsed, allowed: Array<'login' | 'admin'>): void {
  if (p.login !== undefined && !allowed.includes('login')) {
    throw new UsageError(`${p.command} takes no --login`);
  }
  if (p.admin && !allowed.includes('admin')) throw new UsageError(`${p.command} takes no --admin`);
}

async function run(p: Parsed): Promise<CommandResult> {
  if (p.command === 'help') return { command: 'help', usage: USAGE };
  const commands = ['verify-audit', 'rotate-key', 'create-user', 'reset-password'];
  if (!commands.includes(p.command)) {
    throw new UsageError(`unknown command "${p.command}"`);
  }
  let config: ServerConfig;
  try {
    config = loadConfig(process.env, p.dataDir ? { dataDir: p.dataDir } : {});
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  switch (p.command) {
    case 'verify-audit':
      allowOnly(p, []);
      return verifyAuditCommand(config);
    case 'rotate-key':
      allowOnly(p, []);
      return rotateKeyCommand(config);
    case 'create-user': {
      const loginName = requireLogin(p);
      const password = await readNewPassword();
      return createUserCliCommand(config, { loginName, administrator: p.admin, password });
    }
    default: {
      allowOnly(p, ['login']);
      const loginName = requireLogin(p);
      const password = await readNewPassword();
      return resetPasswordCliCommand(config, loginName, password);
    }
  }
}

function errorLine(err: unknown): { code: string; message: string; exitCode: number } {
  if (err instanceof UsageError) return { code: 'usage', message: err.message, exitCode: 2 };
  if (err instanceof AppError) return { code: err.code, message: err.message, exitCode: 1 };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'failed', message: message.split('\n')[0] || 'failed', exitCode: 1 };
}

/** Runs one command; writes its result to stdout (errors to stderr); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let json = argv.includes('--json');
  try {
    const parsed = parse(argv);
    json = parsed.json;
    const result = await run(parsed);
    const { text, exitCode } = renderText(result);
    process.stdout.write(json ? `${JSON.stringify(result)}\n` : `${text}\n`);
    return exitCode;
  } catch (err) {
    const e = errorLine(err);
    process.stderr.write(
      json
        ? `${JSON.stringify({ error: { code: e.code, message: e.message } })}\n`
        : `strongroom-admin: ${e.message}${e.exitCode === 2 ? ' (see: help)' : ''}\n`,
    );
    return e.exitCode;
  }
}

function isEntryPoint(): boolean {
  try {
    // Through the npm bin link, argv[1] is the link: compare real paths.
    return import.meta.url === pathToFileURL(realpathSync(process.argv[1] ?? '')).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`strongroom-admin: ${errorLine(err).message}\n`);
    process.exit(1);
  });
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
