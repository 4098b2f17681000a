/**
 * The small XML subset a KDBX document uses: elements, attributes, character data, the five
 * predefined entities and character references, CDATA, comments and processing instructions.
 * Document type declarations are refused (no entity expansion). A streaming scanner, not a
 * general XML library: it reports events and the reader keeps what it needs.
 */

export class XmlError extends Error {}

/** Receives a document's events in order. */
export interface XmlHandler {
  /** `attrs` is the raw attribute text (null when there is none); see `parseAttributes`. */
  open(name: string, attrs: string | null): void;
  close(name: string): void;
  /** Character data `src.slice(start, end)`, raw: decode it with `decodeText` if it is kept. */
  text(src: string, start: number, end: number): void;
  /** Decoded contents of a CDATA section. */
  cdata(text: string): void;
}

const ENTITY = /&(?:#x([0-9a-fA-F]{1,6})|#([0-9]{1,7})|(lt|gt|amp|quot|apos));/g;
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Normalises line ends and decodes the predefined entities and character references. */
export function decodeText(raw: string): string {
  const s = raw.indexOf('\r') >= 0 ? raw.replace(/\r\n?/g, '\n') : raw;
  if (s.indexOf('&') < 0) return s;
  if (s.replace(ENTITY, '').indexOf('&') >= 0) throw new XmlError('unknown entity');
  return s.replace(ENTITY, (_m, hex: string | undefined, dec: string | undefined, name) => {
    if (name) return NAMED[name as string]!;
    const cp = hex ? parseInt(hex, 16) : parseInt(dec!, 10);
    if (cp > 0x10ffff) throw new XmlError('bad character reference');
    return String.fromCodePoint(cp);
  });
}

const ATTR = /([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

export function parseAttributes(raw: string): Record<string, string> {
  if (raw === 'Protected="True"') return { Protected: 'True' }; // the common case, fast
  const attrs: Record<string, string> = {};
  for (const a of raw.matchAll(ATTR)) attrs[a[1]!] = decodeText(a[2] ?? a[3] ?? '');
  return attrs;
}

/**
 * One tag at a time, matched by the regular expression engine (native code from the first
 * call, unlike a character loop in a cold process): end tag, start tag with its attributes,
 * self-closing or not.
 */
const TAG =
  /<(?:\/([A-Za-z_][\w.:-]*)\s*|([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?))>/y;

/**
 * Scans a document and reports its events; checks that tags nest and that there is one root
 * element. Streaming: it builds no tree, so a large document costs little memory.
 */
export function scanXml(src: string, h: XmlHandler): void {
  const stack: string[] = [];
  let roots = 0;
  let pos = 0;
  const n = src.length;
  while (pos < n) {
    const lt = src.indexOf('<', pos);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > pos) {
      if (stack.length > 0) h.text(src, pos, textEnd);
      else if (src.slice(pos, textEnd).trim() !== '') {
        throw new XmlError('text outside the root element');
      }
    }
    if (lt < 0) break;
    const c = src.charCodeAt(lt + 1);
    if (c === 0x3f /* ? */) {
      const end = src.indexOf('?>', lt);
      if (end < 0) throw new XmlError('unterminated processing instruction');
      pos = end + 2;
    } else if (c === 0x21 /* ! */) {
      if (src.startsWith('<!--', lt)) {
        const end = src.indexOf('-->', lt + 4);
        if (end < 0) throw new XmlError('unterminated comment');
        pos = end + 3;
      } else if (src.startsWith('<![CDATA[', lt)) {
        const end = src.indexOf(']]>', lt + 9);
        if (end < 0 || stack.length === 0) throw new XmlError('bad CDATA section');
        h.cdata(src.slice(lt + 9, end).replace(/\r\n?/g, '\n'));
        pos = end + 3;
      } else {
        throw new XmlError('document type declarations are not accepted');
      }
    } else {
      TAG.lastIndex = lt;
      const m = TAG.exec(src);
      if (!m) throw new XmlError('malformed tag');
      pos = TAG.lastIndex;
      if (m[1] !== undefined) {
        if (stack.pop() !== m[1]) throw new XmlError('mismatched end tag');
        h.close(m[1]);
      } else {
        const name = m[2]!;
        if (stack.length === 0 && roots++ > 0) throw new XmlError('two root elements');
        h.open(name, m[3] ? m[3].trim() : null);
        if (m[4]) h.close(name);
        else stack.push(name);
      }
    }
  }
  if (stack.length !== 0 || roots !== 1) throw new XmlError('incomplete document');
}

const ESCAPE = /[&<>\r]/g;
const NEEDS_ESCAPE = /[&<>\r]/;
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' };

/** Escapes character data (carriage returns as references so that they survive parsing). */
export const escapeXml = (s: string): string =>
  NEEDS_ESCAPE.test(s) ? s.replace(ESCAPE, (c) => ESCAPES[c]!) : s;

/**
 * Characters that XML 1.0 cannot carry at all, even escaped: most C0 controls, U+FFFE, U+FFFF
 * and unpaired surrogates. A value holding one is written as a protected (base64) value.
 */
const NOT_XML =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
export const isXmlSafe = (s: string): boolean => !NOT_XML.test(s);
