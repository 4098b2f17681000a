import { CliError } from './errors.js';
import type { Io } from './io.js';

/**
 * Secrets a command needs (login password, two-factor code, cache passwords, an entry's new
 * password), never from a command-line argument. Each comes from, in this order: its `--…-stdin`
 * option (one line of standard input each, in the fixed order of `STDIN_ORDER`), its environment
 * variable, the terminal prompt, else a one-line error saying how to give it.
 */
export type SecretSlot =
  | 'password'
  | 'totp'
  | 'cachePassword'
  | 'newCachePassword'
  | 'entryPassword';

/** Lines of standard input are handed out in this order to the options that were given. */
const STDIN_ORDER: readonly SecretSlot[] = [
  'password',
  'totp',
  'cachePassword',
  'newCachePassword',
  'entryPassword',
];

const SECRET_ENV: Record<SecretSlot, string | null> = {
  password: 'STRONGROOM_PASSWORD',
  totp: 'STRONGROOM_TOTP',
  cachePassword: 'STRONGROOM_CACHE_PASSWORD',
  newCachePassword: 'STRONGROOM_NEW_CACHE_PASSWORD',
  entryPassword: null,
};

const STDIN_OPTION: Record<SecretSlot, string> = {
  password: '--password-stdin',
  totp: '--totp-stdin',
  cachePassword: '--cache-password-stdin',
  newCachePassword: '--new-cache-password-stdin',
  entryPassword: '--password-stdin',
};

export class Secrets {
  private lines: Map<SecretSlot, string> | null = null;
  constructor(
    private readonly io: Io,
    private readonly env: NodeJS.ProcessEnv,
    /** Slots whose `--…-stdin` option was given. */
    private readonly fromStdin: ReadonlySet<SecretSlot>,
  ) {}

  private async stdinValue(slot: SecretSlot): Promise<string | undefined> {
    if (!this.fromStdin.has(slot)) return undefined;
    if (!this.lines) {
      const all = await this.io.stdinLines();
      this.lines = new Map();
      let i = 0;
      for (const s of STDIN_ORDER) {
        if (this.fromStdin.has(s)) this.lines.set(s, all[i++] ?? '');
      }
    }
    const v = this.lines.get(slot) ?? '';
    if (v === '') {
      throw new CliError(
        'input_needed',
        `${STDIN_OPTION[slot]} was given but standard input has no line for it`,
      );
    }
    return v;
  }

  /** The value given by option or environment, without prompting; null if none. */
  async given(slot: SecretSlot): Promise<string | null> {
    const s = await this.stdinValue(slot);
    if (s !== undefined) return s;
    const name = SECRET_ENV[slot];
    const e = name ? this.env[name] : undefined;
    return e !== undefined && e !== '' ? e : null;
  }

  has(slot: SecretSlot): boolean {
    const name = SECRET_ENV[slot];
    return this.fromStdin.has(slot) || Boolean(name && this.env[name]);
  }

  get interactive(): boolean {
    return this.io.interactive;
  }

  /** Given, else asked (hidden unless `visible`), else an error that says how to give it. */
  async get(slot: SecretSlot, prompt: string, what: string, visible = false): Promise<string> {
    const v = await this.given(slot);
    if (v !== null) return v;
    if (this.io.interactive) {
      const typed = visible
        ? await this.io.promptVisible(prompt)
        : await this.io.promptHidden(prompt);
      if (typed === '') {
        throw new CliError(
          'input_needed',
          `nothing was typed for ${what}: run the command again and type it, or ${giveWith(slot)}`,
        );
      }
      return typed;
    }
    throw new CliError('input_needed', `${what} is needed: ${howToGive(slot)}`);
  }
}

export function howToGive(slot: SecretSlot): string {
  return `${giveWith(slot)}, or run the command at a terminal`;
}

function giveWith(slot: SecretSlot): string {
  const env = SECRET_ENV[slot];
  return env
    ? `give it with ${STDIN_OPTION[slot]} or in ${env}`
    : `give it with ${STDIN_OPTION[slot]}`;
}
