/** git's pkt-line framing (gitprotocol-common): a 4-hex-digit length that counts itself, then the payload. */
import { DEFAULT_GIT_LIMITS, formatBytes, MAX_PKT_LINE_BYTES } from './limits.js';
import { RefusedGitData } from './refused-git-data.js';

export const FLUSH_PKT = Buffer.from('0000', 'latin1');

export function pktLine(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, '0'), 'latin1'), payload]);
}

/** A position in a response made of pkt-lines. */
export interface PktReader {
  data: Buffer;
  position: number;
}

/**
 * The next payload; `'flush'` for `0000`; undefined when the data is exhausted. A length git would
 * never write (over 65520, or past the end of the answer) is refused rather than read as far as it goes.
 */
export function readPkt(reader: PktReader): Buffer | 'flush' | undefined {
  if (reader.position + 4 > reader.data.length) return undefined;
  const header = reader.data.toString('latin1', reader.position, reader.position + 4);
  const length = /^[0-9a-f]{4}$/i.test(header) ? Number.parseInt(header, 16) : Number.NaN;
  const malformed = (what: string): RefusedGitData =>
    new RefusedGitData(`malformed pkt-line at byte ${reader.position} of the answer: ${what}`, 'malformed');
  if (Number.isNaN(length) || (length > 0 && length < 4)) throw malformed('not a pkt-line length');
  if (length > MAX_PKT_LINE_BYTES) throw malformed(`length ${length} is over git's ${MAX_PKT_LINE_BYTES}`);
  if (reader.position + length > reader.data.length) throw malformed(`length ${length} runs past the end of the answer`);
  if (length === 0) {
    reader.position += 4;
    return 'flush';
  }
  const payload = reader.data.subarray(reader.position + 4, reader.position + length);
  reader.position += length;
  return payload;
}

/** Text lines (newline removed) up to the first flush. */
export function parsePktLines(data: Buffer): string[] {
  const reader: PktReader = { data, position: 0 };
  const lines: string[] = [];
  for (let payload = readPkt(reader); payload !== undefined && payload !== 'flush'; payload = readPkt(reader)) {
    lines.push(payload.toString('utf8').replace(/\n$/, ''));
  }
  return lines;
}

/** A whole answer in memory, refused once it grows past `maxBytes` (whatever the HTTP client bounds). */
export async function readBody(
  body: AsyncIterableIterator<Uint8Array> | undefined,
  maxBytes = DEFAULT_GIT_LIMITS.maxResponseBytes,
): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (body) {
    for await (const chunk of body) {
      size += chunk.length;
      // Leaving the loop closes the iterator, which stops the download.
      if (size > maxBytes) throw new RefusedGitData(`the answer is larger than ${formatBytes(maxBytes)}`, 'too-large');
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks, size);
}

/** A request body as isomorphic-git's HTTP client interface wants it. */
export async function* singleChunk(chunk: Buffer): AsyncIterableIterator<Uint8Array> {
  yield await Promise.resolve(chunk);
}
