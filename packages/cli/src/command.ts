import type { ParseArgsConfig } from 'node:util';
import type { Ctx } from './context.js';
import type { Result } from './results.js';
import type { SecretSlot, Secrets } from './secrets.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface Args {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/** A command: parsed arguments in, a result out; no printing. */
export interface Command {
  name: string;
  /** One line for `strongroom help`. */
  summary: string;
  /** `strongroom <name> …` synopsis and option list for `strongroom help <name>`. */
  usage: string;
  options: OptionSpec;
  /** Options that say a secret comes from standard input, and which. */
  stdin?: Record<string, SecretSlot>;
  positionals: { min: number; max: number };
  run(ctx: Ctx, args: Args, secrets: Secrets): Promise<Result>;
}

export const str = (args: Args, name: string): string | undefined => {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
};
export const flag = (args: Args, name: string): boolean => args.values[name] === true;
export const list = (args: Args, name: string): string[] => {
  const v = args.values[name];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
};
