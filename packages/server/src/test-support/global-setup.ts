import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Collects the log lines of every server the suite builds and, at the end, fails the run if any
 * line holds a test secret or a bearer token: secrets never reach the logs.
 */
export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'strongroom-test-logs-'));
  process.env.STRONGROOM_TEST_LOG_DIR = dir;
  return () => {
    const offending: string[] = [];
    let lines = 0;
    for (const f of readdirSync(dir)) {
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
        if (!line) continue;
        lines++;
        if (line.includes('TESTSECRET') || /sr_[A-Za-z0-9_-]{43}/.test(line)) {
          offending.push(line.slice(0, 300));
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
    if (offending.length > 0) {
      // Vitest reports a teardown error but keeps its exit code: set it ourselves.
      process.exitCode = 1;
      throw new Error(
        `secrets found in ${offending.length} of ${lines} server log lines:\n${offending.slice(0, 5).join('\n')}`,
      );
    }
    console.log(`log check: ${lines} server log lines, no secret found`);
  };
}
