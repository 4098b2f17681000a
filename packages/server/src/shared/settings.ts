import { invalid } from './errors.js';
import { parseStoredJson } from './json.js';

/**
 * Settings objects (client configuration rules, policies) are stored whole as JSON and changed by
 * patches, and put in an order by administrators. These helpers are shared so both areas merge,
 * complete, diff and reorder them the same way.
 */

/** A patch of a settings object: any subset, nested objects too. */
export type SettingsPatch<T> = {
  [K in keyof T]?: T[K] extends Record<string, unknown> ? SettingsPatch<T[K]> : T[K];
};

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `patch` applied over full settings: a value given replaces the current one (null included);
 * nested objects are merged field by field; `undefined` leaves a value as it was. Neither input
 * is changed, and the result shares no nested object with `base`.
 */
export function mergeSettings<T extends object>(base: T, patch: SettingsPatch<T> = {}): T {
  // A copy all the way down: the result shares no object with `base` (often the defaults).
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base)) {
    out[key] = isPlainObject(value) ? mergeSettings(value) : value;
  }
  if (!isPlainObject(patch)) return out as T;
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] =
      isPlainObject(value) && isPlainObject(current)
        ? mergeSettings(current, value as SettingsPatch<typeof current>)
        : value;
  }
  return out as T;
}

/**
 * Settings as stored (JSON text) completed with `defaults`, so a setting added after the row was
 * written gets its default. Unreadable text yields the defaults.
 */
export function storedSettings<T extends object>(text: string, defaults: T): T {
  return mergeSettings(defaults, parseStoredJson<SettingsPatch<T>>(text, {}));
}

/** The top-level settings that differ between two settings objects, as {setting: {from, to}}. */
export function settingsDiff<T extends object>(a: T, b: T): Record<string, unknown> {
  const diff: Record<string, unknown> = {};
  for (const key of Object.keys(b) as Array<keyof T & string>) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) {
      diff[key] = { from: a[key], to: b[key] };
    }
  }
  return diff;
}

/**
 * Checks a new order given as ids (`field` names the list in the request): it must list every id
 * of `current` exactly once. `notInList` is the message for an id that is not one of them.
 * Returns whether the new order differs from `current`.
 */
export function checkNewOrder(
  field: string,
  ids: readonly string[],
  current: readonly string[],
  messages: { notInList: string; incomplete: string },
): boolean {
  const known = new Set(current);
  const unknown = ids.findIndex((id) => !known.has(id));
  if (unknown >= 0) throw invalid(`${field}/${unknown}`, messages.notInList);
  if (new Set(ids).size !== ids.length || ids.length !== current.length) {
    throw invalid(field, messages.incomplete);
  }
  return !current.every((id, i) => id === ids[i]);
}
