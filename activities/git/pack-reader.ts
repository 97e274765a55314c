/**
 * The objects of a packfile held in memory: indexed in one pass (each object's SHA-1 computed from
 * its resolved content), then read by oid.
 *
 * Why not isomorphic-git's object reading: for every object it first looks for a loose file and
 * lists the pack directory, and it inflates in JavaScript; walking a 10,000-file repository took
 * 7 s that way (DESIGN.md §6). Here objects are inflated with Node's zlib and hashed with its
 * crypto, and resolved objects live in a bounded cache that also serves as delta base cache.
 */
import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { RefusedGitData } from './refused-git-data.js';

export type GitObjectType = 'commit' | 'tree' | 'blob' | 'tag';

export interface GitObject {
  type: GitObjectType;
  content: Buffer;
}

export interface TreeEntry {
  mode: string;
  /** The entry's name within its tree (no slashes). */
  path: string;
  oid: string;
  type: 'blob' | 'tree' | 'commit';
}

const OID_BYTES = 20;
const TYPE_BY_CODE: Record<number, GitObjectType> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };
const OFS_DELTA = 6;
const REF_DELTA = 7;
/** Like git's core.deltaBaseCacheLimit (96 MiB): bounds memory on large repositories. */
const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
const PACK_SIGNATURE = 'PACK';
const PACK_HEADER_BYTES = 12;

interface PackedEntry {
  offset: number;
  typeCode: number;
  /** Where the zlib stream starts. */
  dataStart: number;
  baseOffset?: number;
  baseOid?: Buffer;
}

function parseEntryHeader(pack: Buffer, offset: number): PackedEntry {
  let position = offset;
  let byte = pack[position++]!;
  const typeCode = (byte >> 4) & 7;
  // The size is only a hint for us: zlib knows where the stream ends.
  while (byte & 0x80) byte = pack[position++]!;
  if (typeCode === OFS_DELTA) {
    byte = pack[position++]!;
    let distance = byte & 0x7f;
    while (byte & 0x80) {
      byte = pack[position++]!;
      distance = (distance + 1) * 128 + (byte & 0x7f);
    }
    return { offset, typeCode, dataStart: position, baseOffset: offset - distance };
  }
  if (typeCode === REF_DELTA) {
    return { offset, typeCode, dataStart: position + OID_BYTES, baseOid: pack.subarray(position, position + OID_BYTES) };
  }
  return { offset, typeCode, dataStart: position };
}

function readVarint(delta: Buffer, start: number): [value: number, next: number] {
  let value = 0;
  let shift = 1;
  let position = start;
  let byte: number;
  do {
    byte = delta[position++]!;
    value += (byte & 0x7f) * shift;
    shift *= 128;
  } while (byte & 0x80);
  return [value, position];
}

/** git's delta format: copy ranges of the base and insert literal bytes. */
export function applyDelta(base: Buffer, delta: Buffer): Buffer {
  const [, afterSourceSize] = readVarint(delta, 0);
  const [targetSize, afterTargetSize] = readVarint(delta, afterSourceSize);
  let position = afterTargetSize;
  const target = Buffer.allocUnsafe(targetSize);
  let written = 0;
  while (position < delta.length) {
    const op = delta[position++]!;
    if (op & 0x80) {
      let copyOffset = 0;
      let copySize = 0;
      for (let bit = 0; bit < 4; bit++) if (op & (1 << bit)) copyOffset += delta[position++]! * 2 ** (8 * bit);
      for (let bit = 0; bit < 3; bit++) if (op & (0x10 << bit)) copySize += delta[position++]! << (8 * bit);
      if (copySize === 0) copySize = 0x10000;
      written += base.copy(target, written, copyOffset, copyOffset + copySize);
    } else if (op > 0) {
      written += delta.copy(target, written, position, position + op);
      position += op;
    } else {
      throw new Error('corrupt delta: opcode 0');
    }
  }
  if (written !== targetSize) throw new Error(`corrupt delta: wrote ${written} of ${targetSize} bytes`);
  return target;
}

/** Resolved objects by pack and offset, least recently used first out once over the byte budget. */
class ObjectCache {
  private readonly entries = new Map<number, GitObject>();
  private bytes = 0;

  constructor(private readonly limit: number) {}

  get(key: number): GitObject | undefined {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: number, object: GitObject): void {
    this.entries.set(key, object);
    this.bytes += object.content.length;
    for (const [oldest, evicted] of this.entries) {
      if (this.bytes <= this.limit) break;
      this.entries.delete(oldest);
      this.bytes -= evicted.content.length;
    }
  }
}

function objectId(object: GitObject): string {
  return createHash('sha1').update(`${object.type} ${object.content.length}\0`).update(object.content).digest('hex');
}

export class PackedObjects {
  private readonly cache: ObjectCache;
  /** oid → offset of the object in the pack. */
  private readonly offsets = new Map<string, number>();

  private constructor(
    private readonly pack: Buffer,
    cacheBytes: number,
  ) {
    this.cache = new ObjectCache(cacheBytes);
  }

  /**
   * Indexes a complete (not thin) packfile: walks its entries in order, resolving deltas against
   * bases earlier in the pack (git writes bases first) or, for ref-deltas, by oid.
   */
  static index(pack: Buffer, cacheBytes = DEFAULT_CACHE_BYTES): PackedObjects {
    if (pack.length < PACK_HEADER_BYTES || pack.toString('latin1', 0, 4) !== PACK_SIGNATURE) throw new Error('not a git packfile');
    const objects = new PackedObjects(pack, cacheBytes);
    const count = pack.readUInt32BE(8);
    let position = PACK_HEADER_BYTES;
    const pendingRefDeltas: PackedEntry[] = [];
    for (let i = 0; i < count; i++) {
      const entry = parseEntryHeader(pack, position);
      const inflated = inflateSync(pack.subarray(entry.dataStart), { info: true }) as unknown as InflateResult;
      position = entry.dataStart + inflated.engine.bytesWritten;
      if (entry.baseOid !== undefined && !objects.offsets.has(entry.baseOid.toString('hex'))) pendingRefDeltas.push(entry);
      else objects.remember(entry, inflated.buffer);
    }
    objects.resolvePending(pendingRefDeltas);
    return objects;
  }

  get size(): number {
    return this.offsets.size;
  }

  read(oid: string): GitObject {
    const offset = this.offsets.get(oid);
    if (offset === undefined) throw new Error(`object ${oid} is not in the fetched pack`);
    return this.readAt(offset);
  }

  readTree(oid: string): TreeEntry[] {
    const object = this.read(oid);
    if (object.type !== 'tree') throw new Error(`object ${oid} is a ${object.type}, not a tree`);
    return parseTree(object.content, oid);
  }

  /** A commit's tree, from its first header line. */
  commitTree(oid: string): string {
    const object = this.read(oid);
    const header = object.content.subarray(0, 5 + 40).toString('latin1');
    if (object.type !== 'commit' || !header.startsWith('tree ')) throw new Error(`object ${oid} is not a commit`);
    return header.slice(5);
  }

  private remember(entry: PackedEntry, data: Buffer): void {
    const object = this.resolve(entry, data);
    this.cache.set(entry.offset, object);
    this.offsets.set(objectId(object), entry.offset);
  }

  /** Ref-deltas whose base came later in the pack; each round resolves at least one or the pack is broken. */
  private resolvePending(pending: PackedEntry[]): void {
    while (pending.length > 0) {
      const ready = pending.filter((entry) => this.offsets.has(entry.baseOid!.toString('hex')));
      if (ready.length === 0) throw new Error(`packfile has ${pending.length} delta(s) whose base is missing`);
      for (const entry of ready) {
        this.remember(entry, inflateSync(this.pack.subarray(entry.dataStart)));
        pending.splice(pending.indexOf(entry), 1);
      }
    }
  }

  private readAt(offset: number): GitObject {
    const cached = this.cache.get(offset);
    if (cached !== undefined) return cached;
    const entry = parseEntryHeader(this.pack, offset);
    // inflateSync stops at the end of the zlib stream and ignores the objects that follow it.
    const object = this.resolve(entry, inflateSync(this.pack.subarray(entry.dataStart)));
    this.cache.set(offset, object);
    return object;
  }

  private resolve(entry: PackedEntry, data: Buffer): GitObject {
    if (entry.baseOffset !== undefined) {
      const base = this.readAt(entry.baseOffset);
      return { type: base.type, content: applyDelta(base.content, data) };
    }
    if (entry.baseOid !== undefined) {
      const base = this.read(entry.baseOid.toString('hex'));
      return { type: base.type, content: applyDelta(base.content, data) };
    }
    const type = TYPE_BY_CODE[entry.typeCode];
    if (type === undefined) throw new Error(`unknown pack object type ${entry.typeCode}`);
    return { type, content: data };
  }
}

/** What `inflateSync(…, { info: true })` returns; Node's typings omit the overload. */
interface InflateResult {
  buffer: Buffer;
  /** `bytesWritten` counts the compressed bytes consumed: where the next object starts. */
  engine: { bytesWritten: number };
}

/** The entry's kind from its mode's file-type bits (old trees may zero-pad, e.g. `040000`). */
function entryType(mode: string): TreeEntry['type'] | undefined {
  if (!/^[0-7]{5,6}$/.test(mode)) return undefined;
  const kind = Number.parseInt(mode, 8) & 0o170000;
  if (kind === 0o040000) return 'tree';
  if (kind === 0o160000) return 'commit';
  return kind === 0o100000 || kind === 0o120000 ? 'blob' : undefined;
}

/**
 * Tree entries: `<mode> <name>\0<20-byte oid>`, repeated. Every read is checked against the end of
 * the content, so a malformed tree fails at once (naming `oid`) instead of being read in a loop.
 */
export function parseTree(content: Buffer, oid = 'tree'): TreeEntry[] {
  const malformed = (at: number, what: string): RefusedGitData =>
    new RefusedGitData(`git tree ${oid} is malformed at byte ${at} of ${content.length}: ${what}`, 'malformed');
  const entries: TreeEntry[] = [];
  let position = 0;
  while (position < content.length) {
    const space = content.indexOf(0x20, position);
    if (space < 0) throw malformed(position, 'an entry without the space after its mode');
    const mode = content.toString('latin1', position, space);
    const type = entryType(mode);
    if (type === undefined) throw malformed(position, 'an entry with an unknown mode');
    const nul = content.indexOf(0, space + 1);
    if (nul < 0) throw malformed(space, 'an entry without the NUL after its name');
    if (nul === space + 1) throw malformed(space, 'an entry with an empty name');
    const end = nul + 1 + OID_BYTES;
    if (end > content.length) throw malformed(nul, 'an entry whose object id is cut short');
    const path = content.toString('utf8', space + 1, nul);
    if (path.includes('/')) throw malformed(space, 'an entry name with a slash');
    entries.push({ mode, path, oid: content.toString('hex', nul + 1, end), type });
    position = end;
  }
  return entries;
}
