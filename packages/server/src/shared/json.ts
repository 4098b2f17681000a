/** Parses JSON text stored by us; a corrupt value is a server fault, never a client one. */
export function parseStoredJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}
