import { inspect } from 'node:util';

const PLACEHOLDER = '[secret]';

/**
 * A value that must never reach a log line or a JSON body by accident. `String(secret)`,
 * `JSON.stringify(secret)` and `util.inspect(secret)` all show a placeholder; `reveal()` is the
 * only way out, so every use of the plaintext is greppable.
 */
export class Secret<T = string> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  reveal(): T {
    return this.#value;
  }
  toString(): string {
    return PLACEHOLDER;
  }
  toJSON(): string {
    return PLACEHOLDER;
  }
  [inspect.custom](): string {
    return PLACEHOLDER;
  }
}

export const secret = <T>(value: T): Secret<T> => new Secret(value);
