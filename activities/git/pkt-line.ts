/** git's pkt-line framing (gitprotocol-common): a 4-hex-digit length that counts itself, then the payload. */

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

/** The next payload; `'flush'` for `0000`; undefined when the data is exhausted. */
export function readPkt(reader: PktReader): Buffer | 'flush' | undefined {
  if (reader.position + 4 > reader.data.length) return undefined;
  const length = Number.parseInt(reader.data.toString('latin1', reader.position, reader.position + 4), 16);
  if (Number.isNaN(length) || (length > 0 && length < 4)) throw new Error('malformed pkt-line in git server response');
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

export async function readBody(body: AsyncIterableIterator<Uint8Array> | undefined): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  if (body) for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A request body as isomorphic-git's HTTP client interface wants it. */
export async function* singleChunk(chunk: Buffer): AsyncIterableIterator<Uint8Array> {
  yield await Promise.resolve(chunk);
}
