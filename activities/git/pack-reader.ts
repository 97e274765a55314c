/**
 * The objects of a packfile held in memory: indexed in one pass (each object's SHA-1 computed from
 * its resolved content), then read by oid.
 *
 * Why not isomorphic-git's object reading: for every object it first looks for a loose file and
 * lists the pack directory, and it inflates in JavaScript; walking a 10,000-file repository took
 * 7 s that way. Here objects are inflated with Node's zlib and hashed with its crypto, and resolved
 * objects live in a bounded cache that also serves as delta base cache.
 *
 * The pack comes from a server Baton does not control: every size it declares is checked against
 * the git limits (limits.ts) before memory is given to it, an object must inflate to exactly the
 * size its header declares, and a delta must stay within its base and its declared result.
 */
import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { DEFAULT_GIT_LIMITS, formatBytes, type GitLimits, MAX_DELTA_CHAIN } from './limits.js';
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

/** The limits a pack is read under. */
export type PackLimits = Pick<GitLimits, 'maxObjectBytes' | 'maxInflatedBytes'>;

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
  /** What the header declares: the object's size, or for a delta the size of its instructions. */
  size: number;
  /** Where the zlib stream starts. */
  dataStart: number;
  baseOffset?: number;
  baseOid?: Buffer;
}

interface InflatedEntry {
  entry: PackedEntry;
  data: Buffer;
}

function malformed(what: string): RefusedGitData {
  return new RefusedGitData(what, 'malformed');
}

function tooLarge(what: string): RefusedGitData {
  return new RefusedGitData(what, 'too-large');
}

function parseEntryHeader(pack: Buffer, offset: number): PackedEntry {
  const cutShort = (): RefusedGitData => malformed(`the pack entry at byte ${offset} is cut short`);
  let position = offset;
  if (position >= pack.length) throw cutShort();
  let byte = pack[position++]!;
  const typeCode = (byte >> 4) & 7;
  let size = byte & 0x0f;
  for (let shift = 16; byte & 0x80; shift *= 128) {
    if (position >= pack.length) throw cutShort();
    if (shift > 2 ** 45) throw malformed(`the pack entry at byte ${offset} declares an impossible size`);
    byte = pack[position++]!;
    size += (byte & 0x7f) * shift;
  }
  if (typeCode === OFS_DELTA) {
    if (position >= pack.length) throw cutShort();
    byte = pack[position++]!;
    let distance = byte & 0x7f;
    while (byte & 0x80) {
      if (position >= pack.length) throw cutShort();
      byte = pack[position++]!;
      distance = (distance + 1) * 128 + (byte & 0x7f);
    }
    // A base at or after the delta itself would make the chain loop (or read outside the pack).
    const baseOffset = offset - distance;
    if (distance === 0 || baseOffset < PACK_HEADER_BYTES) {
      throw malformed(`the delta at byte ${offset} names a base at byte ${baseOffset}, outside the entries before it`);
    }
    return { offset, typeCode, size, dataStart: position, baseOffset };
  }
  if (typeCode === REF_DELTA) {
    if (position + OID_BYTES > pack.length) throw cutShort();
    return { offset, typeCode, size, dataStart: position + OID_BYTES, baseOid: pack.subarray(position, position + OID_BYTES) };
  }
  return { offset, typeCode, size, dataStart: position };
}

/**
 * The entry's data, inflated: never more than its header declares (nor than one object may weigh),
 * and exactly that much. `consumed` is where the next entry starts.
 */
function inflateEntry(pack: Buffer, entry: PackedEntry, limits: PackLimits): { data: Buffer; consumed: number } {
  const what = entry.baseOffset !== undefined || entry.baseOid !== undefined ? 'the delta' : 'the object';
  if (entry.size > limits.maxObjectBytes) {
    throw tooLarge(
      `${what} at byte ${entry.offset} declares ${formatBytes(entry.size)}, over the ${formatBytes(limits.maxObjectBytes)} limit of one git object`,
    );
  }
  let inflated: InflateResult;
  try {
    // zlib stops at the end of the entry's stream and ignores the objects that follow it; the
    // output bound makes a stream that inflates further stop there instead of filling memory.
    inflated = inflateSync(pack.subarray(entry.dataStart), {
      info: true,
      maxOutputLength: Math.max(entry.size, 1),
    }) as unknown as InflateResult;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      throw malformed(`${what} at byte ${entry.offset} inflates to more than the ${entry.size} bytes its header declares`);
    }
    // The whole answer arrived (the transport reports cut connections): corrupt data stays corrupt.
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') {
      throw malformed(`${what} at byte ${entry.offset} is not valid zlib data (${(error as Error).message})`);
    }
    throw error;
  }
  if (inflated.buffer.length !== entry.size) {
    throw malformed(`${what} at byte ${entry.offset} inflates to ${inflated.buffer.length} bytes, its header declares ${entry.size}`);
  }
  return { data: inflated.buffer, consumed: inflated.engine.bytesWritten };
}

function readVarint(delta: Buffer, start: number): [value: number, next: number] {
  let value = 0;
  let shift = 1;
  let position = start;
  let byte: number;
  do {
    if (position >= delta.length) throw malformed('corrupt delta: its header is cut short');
    if (shift > 2 ** 49) throw malformed('corrupt delta: a size in its header is too long');
    byte = delta[position++]!;
    value += (byte & 0x7f) * shift;
    shift *= 128;
  } while (byte & 0x80);
  return [value, position];
}

/**
 * git's delta format: copy ranges of the base and insert literal bytes. The declared result size
 * is checked against `maxTargetBytes` before anything is allocated, and every instruction must stay
 * within the base, the delta and the declared result.
 */
export function applyDelta(base: Buffer, delta: Buffer, maxTargetBytes = DEFAULT_GIT_LIMITS.maxObjectBytes): Buffer {
  const [sourceSize, afterSourceSize] = readVarint(delta, 0);
  if (sourceSize !== base.length) throw malformed(`corrupt delta: it applies to ${sourceSize} bytes, its base has ${base.length}`);
  const [targetSize, afterTargetSize] = readVarint(delta, afterSourceSize);
  if (targetSize > maxTargetBytes) {
    throw tooLarge(
      `a delta declares a result of ${formatBytes(targetSize)}, over the ${formatBytes(maxTargetBytes)} limit of one git object`,
    );
  }
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
      // The opcode's bits say which offset and size bytes follow: some may be missing at the end.
      if (position > delta.length) throw malformed('corrupt delta: a copy instruction is cut short');
      if (copySize === 0) copySize = 0x10000;
      if (copyOffset + copySize > base.length) {
        throw malformed(`corrupt delta: it copies bytes ${copyOffset} to ${copyOffset + copySize} of a ${base.length}-byte base`);
      }
      if (written + copySize > targetSize) throw malformed(`corrupt delta: it writes past the ${targetSize} bytes it declares`);
      base.copy(target, written, copyOffset, copyOffset + copySize);
      written += copySize;
    } else if (op > 0) {
      if (position + op > delta.length) throw malformed('corrupt delta: an insert instruction is cut short');
      if (written + op > targetSize) throw malformed(`corrupt delta: it writes past the ${targetSize} bytes it declares`);
      delta.copy(target, written, position, position + op);
      written += op;
      position += op;
    } else {
      throw malformed('corrupt delta: opcode 0');
    }
  }
  if (written !== targetSize) throw malformed(`corrupt delta: wrote ${written} of ${targetSize} bytes`);
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
  /** What the objects indexed so far weigh, inflated and resolved. */
  private inflatedBytes = 0;

  private constructor(
    private readonly pack: Buffer,
    cacheBytes: number,
    private readonly limits: PackLimits,
  ) {
    this.cache = new ObjectCache(cacheBytes);
  }

  /**
   * Indexes a complete (not thin) packfile: walks its entries in order, resolving deltas against
   * bases earlier in the pack (git writes bases first) or, for ref-deltas, by oid. Refuses (with
   * RefusedGitData) a pack over `limits` or one whose sizes and offsets do not add up.
   */
  static index(pack: Buffer, cacheBytes = DEFAULT_CACHE_BYTES, limits: PackLimits = DEFAULT_GIT_LIMITS): PackedObjects {
    if (pack.length < PACK_HEADER_BYTES || pack.toString('latin1', 0, 4) !== PACK_SIGNATURE) throw malformed('not a git packfile');
    const objects = new PackedObjects(pack, cacheBytes, limits);
    const count = pack.readUInt32BE(8);
    let position = PACK_HEADER_BYTES;
    const pendingRefDeltas: PackedEntry[] = [];
    for (let i = 0; i < count; i++) {
      const entry = parseEntryHeader(pack, position);
      const { data, consumed } = inflateEntry(pack, entry, limits);
      position = entry.dataStart + consumed;
      if (entry.baseOid !== undefined && !objects.offsets.has(entry.baseOid.toString('hex'))) pendingRefDeltas.push(entry);
      else objects.remember({ entry, data });
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

  private remember(inflated: InflatedEntry): void {
    const object = this.resolve(inflated);
    // Each object is bounded alone; deltas that each repeat a large base are bounded here.
    this.inflatedBytes += object.content.length;
    if (this.inflatedBytes > this.limits.maxInflatedBytes) {
      throw tooLarge(`the pack inflates to more than ${formatBytes(this.limits.maxInflatedBytes)}`);
    }
    this.cache.set(inflated.entry.offset, object);
    this.offsets.set(objectId(object), inflated.entry.offset);
  }

  /** Ref-deltas whose base came later in the pack; each round resolves at least one or the pack is broken. */
  private resolvePending(pending: PackedEntry[]): void {
    while (pending.length > 0) {
      const ready = pending.filter((entry) => this.offsets.has(entry.baseOid!.toString('hex')));
      if (ready.length === 0) throw malformed(`the pack has ${pending.length} delta(s) whose base is missing`);
      for (const entry of ready) {
        this.remember({ entry, data: inflateEntry(this.pack, entry, this.limits).data });
        pending.splice(pending.indexOf(entry), 1);
      }
    }
  }

  private readAt(offset: number): GitObject {
    const cached = this.cache.get(offset);
    if (cached !== undefined) return cached;
    const entry = parseEntryHeader(this.pack, offset);
    const object = this.resolve({ entry, data: inflateEntry(this.pack, entry, this.limits).data });
    this.cache.set(offset, object);
    return object;
  }

  /**
   * The object an entry stands for. A delta's chain is followed down to a cached or whole object
   * in a loop (not by recursion: a long chain must not exhaust the stack), then applied back up;
   * the bases resolved on the way are cached, as a later delta often shares them.
   */
  private resolve(top: InflatedEntry): GitObject {
    const chain: InflatedEntry[] = [];
    let current = top;
    let object: GitObject;
    for (;;) {
      const { entry, data } = current;
      const baseOffset = entry.baseOffset ?? (entry.baseOid === undefined ? undefined : this.offsetOf(entry.baseOid));
      if (baseOffset === undefined) {
        const type = TYPE_BY_CODE[entry.typeCode];
        if (type === undefined) throw malformed(`unknown pack object type ${entry.typeCode} at byte ${entry.offset}`);
        object = { type, content: data };
        if (current !== top) this.cache.set(entry.offset, object);
        break;
      }
      chain.push(current);
      if (chain.length > MAX_DELTA_CHAIN)
        throw malformed(`the delta at byte ${top.entry.offset} has a chain over ${MAX_DELTA_CHAIN} deltas`);
      const cached = this.cache.get(baseOffset);
      if (cached !== undefined) {
        object = cached;
        break;
      }
      const baseEntry = parseEntryHeader(this.pack, baseOffset);
      current = { entry: baseEntry, data: inflateEntry(this.pack, baseEntry, this.limits).data };
    }
    for (let index = chain.length - 1; index >= 0; index--) {
      const delta = chain[index]!;
      object = { type: object.type, content: applyDelta(object.content, delta.data, this.limits.maxObjectBytes) };
      if (delta !== top) this.cache.set(delta.entry.offset, object);
    }
    return object;
  }

  private offsetOf(oid: Buffer): number {
    const hex = oid.toString('hex');
    const offset = this.offsets.get(hex);
    if (offset === undefined) throw new Error(`object ${hex} is not in the fetched pack`);
    return offset;
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
