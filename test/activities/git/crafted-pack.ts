/** Packfiles built byte by byte, for inputs git itself would never write (malformed trees, bombs). */
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';

export const PACK_TYPE = { commit: 1, tree: 2, blob: 3, tag: 4, ofsDelta: 6, refDelta: 7 } as const;

export interface CraftedEntry {
  type: number;
  /** The uncompressed data: an object's content, or a delta's instructions. */
  data: Buffer;
  /** The size the entry header declares (default: the data's length). */
  declaredSize?: number;
  /** ofs-delta: how far back the base entry starts. */
  baseDistance?: number;
  /** ref-delta: the base's oid. */
  baseOid?: string;
}

function entryHeader(type: number, size: number): Buffer {
  const bytes = [(type << 4) | (size & 0x0f)];
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    bytes[bytes.length - 1]! |= 0x80;
    bytes.push(rest & 0x7f);
    rest = Math.floor(rest / 128);
  }
  return Buffer.from(bytes);
}

function offsetEncoding(distance: number): Buffer {
  const bytes = [distance & 0x7f];
  let rest = Math.floor(distance / 128);
  while (rest > 0) {
    rest -= 1;
    bytes.unshift(0x80 | (rest & 0x7f));
    rest = Math.floor(rest / 128);
  }
  return Buffer.from(bytes);
}

/** A git delta varint (little-endian groups of 7 bits). */
export function deltaVarint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  do {
    const low = rest % 128;
    rest = Math.floor(rest / 128);
    bytes.push(rest > 0 ? low | 0x80 : low);
  } while (rest > 0);
  return Buffer.from(bytes);
}

export function oidOf(type: keyof typeof PACK_TYPE, content: Buffer): string {
  return createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest('hex');
}

/** A version 2 packfile of `entries`, in order, with its SHA-1 trailer. */
export function craftPack(entries: readonly CraftedEntry[]): Buffer {
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(entries.length, 8);
  const parts: Buffer[] = [header];
  for (const entry of entries) {
    parts.push(entryHeader(entry.type, entry.declaredSize ?? entry.data.length));
    if (entry.baseDistance !== undefined) parts.push(offsetEncoding(entry.baseDistance));
    if (entry.baseOid !== undefined) parts.push(Buffer.from(entry.baseOid, 'hex'));
    parts.push(deflateSync(entry.data));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}
