import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError } from './errors.js';

/**
 * The system clipboard through the usual tools: `wl-copy`/`wl-paste` on Wayland, `xclip` or
 * `xsel` on X11, `pbcopy`/`pbpaste` on macOS. Clearing is done by a small detached process that,
 * after the configured seconds, empties the clipboard only if it still holds the copied value.
 */
export interface ClipboardTool {
  name: string;
  copy: string[];
  paste: string[];
  /** Empties the clipboard; null = copy an empty string. */
  clear: string[] | null;
}

function onPath(env: NodeJS.ProcessEnv, name: string): boolean {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

export function findClipboard(
  env: NodeJS.ProcessEnv,
  platform = process.platform,
): ClipboardTool | null {
  if (platform === 'darwin' && onPath(env, 'pbcopy')) {
    return { name: 'pbcopy', copy: ['pbcopy'], paste: ['pbpaste'], clear: null };
  }
  if (env.WAYLAND_DISPLAY && onPath(env, 'wl-copy') && onPath(env, 'wl-paste')) {
    return {
      name: 'wl-copy',
      copy: ['wl-copy'],
      paste: ['wl-paste', '-n'],
      clear: ['wl-copy', '--clear'],
    };
  }
  if (env.DISPLAY) {
    if (onPath(env, 'xclip')) {
      return {
        name: 'xclip',
        copy: ['xclip', '-selection', 'clipboard', '-in'],
        paste: ['xclip', '-selection', 'clipboard', '-out'],
        clear: null,
      };
    }
    if (onPath(env, 'xsel')) {
      return {
        name: 'xsel',
        copy: ['xsel', '-b', '-i'],
        paste: ['xsel', '-b', '-o'],
        clear: ['xsel', '-b', '-c'],
      };
    }
  }
  return null;
}

export function requireClipboard(env: NodeJS.ProcessEnv): ClipboardTool {
  const tool = findClipboard(env);
  if (!tool) {
    throw new CliError(
      'clipboard_unavailable',
      'no clipboard here (wl-copy, xclip, xsel or pbcopy with a display session): use --reveal instead',
    );
  }
  return tool;
}

/** Runs a tool with `input` on its standard input; resolves with its standard output. */
export function runTool(
  argv: string[],
  input: string | null,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const { spawn } = process.getBuiltinModule('node:child_process');
    const child = spawn(argv[0]!, argv.slice(1), {
      env,
      // xclip stays in the background to serve the selection: its output must not be a pipe we
      // wait on, except when we read the clipboard.
      stdio: [input === null ? 'ignore' : 'pipe', input === null ? 'pipe' : 'ignore', 'ignore'],
    });
    let out = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${argv[0]} exited with ${code}`)),
    );
    if (input !== null) child.stdin!.end(input);
  });
}

export async function copyToClipboard(
  tool: ClipboardTool,
  value: string,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  try {
    await runTool(tool.copy, value, env);
  } catch {
    throw new CliError('clipboard_unavailable', `${tool.name} could not set the clipboard`);
  }
}

const HELPER = fileURLToPath(new URL('./clipboard-clear.js', import.meta.url));

/**
 * Starts the detached helper that clears the clipboard after `seconds` if it still holds `value`.
 * The value goes to the helper on a pipe, never on its command line.
 */
export function scheduleClear(
  tool: ClipboardTool,
  value: string,
  seconds: number,
  env: NodeJS.ProcessEnv,
): void {
  if (seconds <= 0) return;
  const { spawn } = process.getBuiltinModule('node:child_process');
  const child = spawn(process.execPath, [HELPER], {
    env,
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.stdin!.end(JSON.stringify({ seconds, tool, value }));
  child.unref();
}
