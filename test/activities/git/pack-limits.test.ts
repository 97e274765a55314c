/**
 * What a hostile git server can put in a pack or a pkt-line answer: decompression bombs, deltas
 * that declare huge results or copy outside their base, lengths git never writes. Each is refused
 * as RefusedGitData (a non-retryable failure in the git step) before memory is given to it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { applyDelta, PackedObjects } from '../../../activities/git/pack-reader.js';
import { DEFAULT_GIT_LIMITS } from '../../../activities/git/limits.js';
import { readBody, readPkt } from '../../../activities/git/pkt-line.js';
import { RefusedGitData, type RefusalReason } from '../../../activities/git/refused-git-data.js';
import { type CraftedEntry, craftPack, deltaVarint, oidOf, PACK_TYPE } from './crafted-pack.js';

const MiB = 1024 * 1024;

function refused(reason: RefusalReason, message: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof RefusedGitData, `expected RefusedGitData, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    assert.match(error.message, message);
    return true;
  };
}

/** A copy instruction: opcode, then the non-zero bytes of offset (4) and size (3), little-endian. */
function copy(offset: number, size: number): Buffer {
  let op = 0x80;
  const bytes: number[] = [];
  for (let i = 0; i < 4; i++) {
    const byte = Math.floor(offset / 2 ** (8 * i)) & 0xff;
    if (byte !== 0) [op, bytes[bytes.length]] = [op | (1 << i), byte];
  }
  for (let i = 0; i < 3; i++) {
    const byte = (size >> (8 * i)) & 0xff;
    if (byte !== 0) [op, bytes[bytes.length]] = [op | (0x10 << i), byte];
  }
  return Buffer.from([op, ...bytes]);
}

function insert(text: string): Buffer {
  return Buffer.concat([Buffer.from([text.length]), Buffer.from(text)]);
}

function delta(sourceSize: number, targetSize: number, ...instructions: Buffer[]): Buffer {
  return Buffer.concat([deltaVarint(sourceSize), deltaVarint(targetSize), ...instructions]);
}

/** A base blob and a ref-delta against it. */
function deltaPack(base: Buffer, instructions: Buffer): Buffer {
  const entries: CraftedEntry[] = [
    { type: PACK_TYPE.blob, data: base },
    { type: PACK_TYPE.refDelta, data: instructions, baseOid: oidOf('blob', base) },
  ];
  return craftPack(entries);
}

describe('decompression bombs', () => {
  test('an object that inflates past the size its header declares stops there, refused', () => {
    // 16 MiB of zeros deflate to 16 KiB; the header says 10 bytes.
    const pack = craftPack([{ type: PACK_TYPE.blob, data: Buffer.alloc(16 * MiB), declaredSize: 10 }]);
    assert.ok(pack.length < 64 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    assert.throws(
      () => PackedObjects.index(pack),
      refused('malformed', /at byte 12 inflates to more than the 10 bytes its header declares/),
    );
    assert.ok(process.memoryUsage().arrayBuffers - before < 8 * MiB, 'the bomb was not inflated');
  });

  test('an object declared over the default 64 MiB limit is refused without inflating it', () => {
    const size = DEFAULT_GIT_LIMITS.maxObjectBytes + 1;
    const pack = craftPack([{ type: PACK_TYPE.blob, data: Buffer.alloc(size) }]);
    assert.throws(() => PackedObjects.index(pack), refused('too-large', /declares 64 MiB, over the 64 MiB limit of one git object/));
  });

  test('an object shorter than its header declares is refused', () => {
    const pack = craftPack([{ type: PACK_TYPE.blob, data: Buffer.from('short'), declaredSize: 500 }]);
    assert.throws(() => PackedObjects.index(pack), refused('malformed', /inflates to 5 bytes, its header declares 500/));
  });

  test('objects each under the limit, together over the pack limit, are refused', () => {
    const entries = [1, 2, 3, 4, 5].map((n) => ({ type: PACK_TYPE.blob, data: Buffer.alloc(MiB, n) }));
    const limits = { maxObjectBytes: 2 * MiB, maxInflatedBytes: 4 * MiB };
    assert.throws(
      () => PackedObjects.index(craftPack(entries), undefined, limits),
      refused('too-large', /the pack inflates to more than 4 MiB/),
    );
  });

  test('deltas that each repeat a large base count against the pack limit', () => {
    const base = Buffer.alloc(MiB, 7);
    const repeat = delta(MiB, MiB, copy(0, MiB));
    const entries: CraftedEntry[] = [{ type: PACK_TYPE.blob, data: base }];
    // Each delta is a few bytes; 20 of them would resolve to 20 MiB.
    for (let i = 0; i < 20; i++) entries.push({ type: PACK_TYPE.refDelta, data: repeat, baseOid: oidOf('blob', base) });
    const limits = { maxObjectBytes: 2 * MiB, maxInflatedBytes: 8 * MiB };
    assert.throws(() => PackedObjects.index(craftPack(entries), undefined, limits), refused('too-large', /inflates to more than 8 MiB/));
  });
});

describe('delta bombs and out-of-bounds deltas', () => {
  const base = Buffer.from('hello world');

  test('a declared result over the limit is refused before anything is allocated', () => {
    // 1 TiB: the old reader asked Buffer.allocUnsafe for it.
    const bomb = delta(base.length, 2 ** 40, copy(0, 5));
    assert.throws(() => applyDelta(base, bomb), refused('too-large', /declares a result of 1024 GiB, over the 64 MiB limit/));
    assert.throws(() => PackedObjects.index(deltaPack(base, bomb)), refused('too-large', /over the 64 MiB limit/));
    assert.throws(
      () => applyDelta(base, delta(base.length, 2 * MiB, copy(0, 5)), MiB),
      refused('too-large', /2 MiB, over the 1 MiB limit/),
    );
  });

  test('a copy past the end of the base is refused', () => {
    assert.throws(
      () => applyDelta(base, delta(base.length, 10, copy(6, 10))),
      refused('malformed', /copies bytes 6 to 16 of a 11-byte base/),
    );
  });

  test('a copy past the declared result is refused, not silently cut', () => {
    assert.throws(() => applyDelta(base, delta(base.length, 5, copy(0, 11))), refused('malformed', /writes past the 5 bytes it declares/));
  });

  test('an insert past the declared result or the delta itself is refused', () => {
    assert.throws(() => applyDelta(base, delta(base.length, 2, insert('abcd'))), refused('malformed', /writes past the 2 bytes/));
    const cut = Buffer.concat([delta(base.length, 10), Buffer.from([10]), Buffer.from('abc')]);
    assert.throws(() => applyDelta(base, cut), refused('malformed', /insert instruction is cut short/));
  });

  test('a delta for a base of another size, or cut short, is refused', () => {
    assert.throws(() => applyDelta(base, delta(99, 5, copy(0, 5))), refused('malformed', /applies to 99 bytes, its base has 11/));
    assert.throws(() => applyDelta(base, Buffer.from([0x8b])), refused('malformed', /header is cut short/));
    assert.throws(
      () => applyDelta(base, Buffer.concat([delta(base.length, 5), Buffer.from([0x91])])),
      refused('malformed', /copy instruction is cut short/),
    );
  });

  test('a well-formed delta still applies', () => {
    assert.equal(applyDelta(base, delta(base.length, 9, copy(6, 5), insert('!!!!'))).toString(), 'world!!!!');
  });

  test('an ofs-delta naming itself as its base is refused, not followed until the stack overflows', () => {
    const pack = craftPack([
      { type: PACK_TYPE.blob, data: base },
      { type: PACK_TYPE.ofsDelta, data: delta(base.length, 5, copy(0, 5)), baseDistance: 0 },
    ]);
    assert.throws(() => PackedObjects.index(pack), refused('malformed', /names a base at byte \d+, outside the entries before it/));
  });
});

describe('pkt-lines and answers', () => {
  test('a pkt-line longer than git allows (65520) is refused', () => {
    const data = Buffer.concat([Buffer.from('fff5'), Buffer.alloc(0xfff5 - 4, 0x61)]);
    assert.throws(() => readPkt({ data, position: 0 }), refused('malformed', /length 65525 is over git's 65520/));
  });

  test('a pkt-line running past the end of the answer is refused, not read short', () => {
    assert.throws(() => readPkt({ data: Buffer.from('0010abc'), position: 0 }), refused('malformed', /runs past the end of the answer/));
    assert.throws(() => readPkt({ data: Buffer.from('00x4abc'), position: 0 }), refused('malformed', /not a pkt-line length/));
  });

  test('the longest pkt-line git writes is read', () => {
    const data = Buffer.concat([Buffer.from('fff0'), Buffer.alloc(65520 - 4, 0x61)]);
    const payload = readPkt({ data, position: 0 });
    assert.ok(Buffer.isBuffer(payload) && payload.length === 65516);
  });

  test('an answer over the bound is refused while it streams in', async () => {
    let produced = 0;
    // 8 MiB in 64 KiB chunks: bounded, so a reader without the bound ends too (and fails the test).
    async function* large(): AsyncIterableIterator<Uint8Array> {
      for (let i = 0; i < 128; i++) {
        produced += 64 * 1024;
        yield await Promise.resolve(Buffer.alloc(64 * 1024));
      }
    }
    await assert.rejects(readBody(large(), MiB), refused('too-large', /the answer is larger than 1 MiB/));
    assert.ok(produced <= MiB + 64 * 1024, `stopped reading at ${produced} bytes`);
  });
});

describe('malformed packs', () => {
  test('fail as refused answers, not as retryable errors', () => {
    const blob = Buffer.alloc(1000, 0x61);
    const whole = craftPack([{ type: PACK_TYPE.blob, data: blob }]);
    assert.throws(() => PackedObjects.index(whole.subarray(0, 20)), refused('malformed', /the object at byte 12 is not valid zlib data/));
    assert.throws(() => PackedObjects.index(Buffer.from('<html>not a pack</html>')), refused('malformed', /not a git packfile/));
    const orphan = craftPack([{ type: PACK_TYPE.refDelta, data: delta(3, 3, copy(0, 3)), baseOid: 'ab'.repeat(20) }]);
    assert.throws(() => PackedObjects.index(orphan), refused('malformed', /the pack has 1 delta\(s\) whose base is missing/));
  });
});
