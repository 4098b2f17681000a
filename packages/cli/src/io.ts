import { CliError } from './errors.js';

/**
 * Terminal input and output for commands: prompts (passwords without echo), the lines given on
 * standard input for scripts, notices (one line on stderr) and progress (on a terminal only).
 * Commands never print their results: they return them and the renderer prints.
 */
export interface Io {
  readonly interactive: boolean;
  promptHidden(prompt: string): Promise<string>;
  promptVisible(prompt: string): Promise<string>;
  /** Every line of standard input (read once, on first use). */
  stdinLines(): Promise<string[]>;
  /** One line on stderr. */
  notice(line: string): void;
  /** A progress line that overwrites itself, on a terminal only; `done` ends the line. */
  progress(text: string, done?: boolean): void;
  out(text: string): void;
  err(text: string): void;
}

export function processIo(): Io {
  let lines: Promise<string[]> | null = null;
  let progressShown = false;
  const stderrTty = Boolean(process.stderr.isTTY);
  const clearProgress = () => {
    if (progressShown) {
      process.stderr.write('\r\x1b[K');
      progressShown = false;
    }
  };
  return {
    interactive: Boolean(process.stdin.isTTY),
    promptHidden: (prompt) => {
      clearProgress();
      return readLine(prompt, false);
    },
    promptVisible: (prompt) => {
      clearProgress();
      return readLine(prompt, true);
    },
    stdinLines: () => {
      lines ??= readAllStdin();
      return lines;
    },
    notice: (line) => {
      clearProgress();
      process.stderr.write(`strongroom: ${line}\n`);
    },
    progress: (text, done = false) => {
      if (!stderrTty) return;
      process.stderr.write(`\r\x1b[K${text}${done ? '\n' : ''}`);
      progressShown = !done;
    },
    out: (text) => {
      clearProgress();
      process.stdout.write(text);
    },
    err: (text) => {
      clearProgress();
      process.stderr.write(text);
    },
  };
}

async function readAllStdin(): Promise<string[]> {
  if (process.stdin.isTTY) return [];
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/**
 * One line typed at the terminal, echoed (codes, comments, yes/no) or not (passwords; Ctrl-U
 * clears what was typed). Ctrl-C or Ctrl-D cancels.
 */
function readLine(prompt: string, echo: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    // Raw mode (no echo) before the prompt shows, so nothing typed after it is ever echoed.
    input.setRawMode(true);
    process.stderr.write(prompt);
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
        if (ch === '\u0003' || ch === '\u0004') return done(new CliError('usage', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') {
          if (value.length > 0) {
            value = [...value].slice(0, -1).join('');
            if (echo) process.stderr.write('\b \b');
          }
        } else if (ch === '\u0015' && !echo) {
          value = '';
        } else if (ch >= ' ') {
          value += ch;
          if (echo) process.stderr.write(ch);
        }
      }
    };
    input.on('data', onData);
  });
}
