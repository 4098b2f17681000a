/**
 * KeePass XML key files, version 2.0: 32 key bytes in hex, in groups of eight digits, with a
 * check hash (the first four bytes of their SHA-256). KeePass and KeePassXC use the 32 bytes
 * as the key file's part of the composite key.
 */
import { equalBytes, fromHex, toHex } from './bytes.js';
import { sha256 } from './sha256.js';

export function keyFileXml(machineKey: Uint8Array): string {
  if (machineKey.length !== 32) throw new RangeError('A machine key is 32 bytes.');
  const hex = toHex(machineKey).toUpperCase();
  const groups = hex.match(/.{8}/g)!;
  const hash = toHex(sha256(machineKey).subarray(0, 4)).toUpperCase();
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<KeyFile>',
    '\t<Meta>',
    '\t\t<Version>2.0</Version>',
    '\t</Meta>',
    '\t<Key>',
    `\t\t<Data Hash="${hash}">`,
    `\t\t\t${groups.slice(0, 4).join(' ')}`,
    `\t\t\t${groups.slice(4, 8).join(' ')}`,
    '\t\t</Data>',
    '\t</Key>',
    '</KeyFile>',
    '',
  ].join('\n');
}

/** The 32 key bytes of a version 2.0 XML key file, or null if it is not one or its hash fails. */
export function parseKeyFileXml(xml: string): Uint8Array | null {
  if (!/<Version>\s*2\.0\s*<\/Version>/.test(xml)) return null;
  const m = /<Data\s+Hash="([0-9A-Fa-f]{8})"\s*>([\s0-9A-Fa-f]*)<\/Data>/.exec(xml);
  if (!m) return null;
  const key = fromHex(m[2]!.replace(/\s+/g, ''));
  if (!key || key.length !== 32) return null;
  const hash = fromHex(m[1]!)!;
  return equalBytes(sha256(key).subarray(0, 4), hash) ? key : null;
}
