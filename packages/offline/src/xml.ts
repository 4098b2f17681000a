/**
 * The small XML subset a KDBX document uses: elements, attributes, character data, the five
 * predefined entities and character references, CDATA, comments and processing instructions.
 * Document type declarations are refused (no entity expansion). Not a general XML library:
 * mixed content is kept only as the concatenated text of each element.
 */

export interface XmlElement {
  name: string;
  attrs: Record<string, string> | null;
  children: XmlElement[];
  /** Character data directly inside the element (line ends normalised, entities decoded). */
  text: string;
}

export class XmlError extends Error {}

const TAG = /<([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/y;
const ATTR = /([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const ENTITY = /&(?:#x([0-9a-fA-F]{1,6})|#([0-9]{1,7})|(lt|gt|amp|quot|apos));/g;
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeText(raw: string): string {
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

export function parseXml(src: string): XmlElement {
  const root: XmlElement = { name: '#document', attrs: null, children: [], text: '' };
  const stack: XmlElement[] = [root];
  let pos = 0;
  const n = src.length;
  while (pos < n) {
    const lt = src.indexOf('<', pos);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > pos) {
      const top = stack[stack.length - 1]!;
      const raw = src.slice(pos, textEnd);
      if (stack.length > 1) top.text += decodeText(raw);
      else if (raw.trim() !== '') throw new XmlError('text outside the root element');
    }
    if (lt < 0) break;
    const c = src.charCodeAt(lt + 1);
    if (c === 0x2f /* / */) {
      const gt = src.indexOf('>', lt);
      if (gt < 0) throw new XmlError('unterminated end tag');
      const name = src.slice(lt + 2, gt).trim();
      const top = stack.pop();
      if (!top || stack.length === 0 || top.name !== name) throw new XmlError('mismatched end tag');
      pos = gt + 1;
    } else if (c === 0x3f /* ? */) {
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
        if (end < 0 || stack.length < 2) throw new XmlError('bad CDATA section');
        stack[stack.length - 1]!.text += src.slice(lt + 9, end).replace(/\r\n?/g, '\n');
        pos = end + 3;
      } else {
        throw new XmlError('document type declarations are not accepted');
      }
    } else {
      TAG.lastIndex = lt;
      const m = TAG.exec(src);
      if (!m) throw new XmlError('malformed tag');
      let attrs: Record<string, string> | null = null;
      if (m[2]) {
        attrs = {};
        for (const a of m[2].matchAll(ATTR)) attrs[a[1]!] = decodeText(a[2] ?? a[3] ?? '');
      }
      const el: XmlElement = { name: m[1]!, attrs, children: [], text: '' };
      const parent = stack[stack.length - 1]!;
      if (parent === root && root.children.length > 0) throw new XmlError('two root elements');
      parent.children.push(el);
      if (!m[3]) stack.push(el);
      pos = TAG.lastIndex;
    }
  }
  if (stack.length !== 1 || root.children.length !== 1) throw new XmlError('incomplete document');
  return root.children[0]!;
}

/** First child element of that name. */
export const child = (el: XmlElement, name: string): XmlElement | undefined =>
  el.children.find((c) => c.name === name);

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
