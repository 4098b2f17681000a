import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The built server entry point (`npm start` runs it; tests spawn the built code too), found
 * from this module whether it runs from src/shared or dist/shared.
 */
export const MAIN_JS = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface ServerProcess {
  url: string;
  output: () => string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts the built server (`dist/main.js`, as `npm start` runs it) as a separate process on a
 * free port and resolves once it prints its URL.
 */
export function startServerProcess(
  env: Record<string, string | undefined>,
  args: string[] = [],
  timeoutMs = 30_000,
): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN_JS, '--port', '0', ...args], {
      env: { ...process.env, STRONGROOM_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start in time:\n${out}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const m = /listening on (https?:\/\/[^\s]+?:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          output: () => out,
          child,
          stop: () =>
            new Promise<void>((res) => {
              if (child.exitCode !== null) return res();
              child.once('exit', () => res());
              child.kill('SIGTERM');
            }),
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
}
