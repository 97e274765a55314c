/**
 * HTTP/1.1 over a plain socket, byte for byte: what `fetch` refuses to send (invalid UTF-8 and NUL in
 * the path, duplicate or malformed headers, bogus methods) is sent as it is. One request per
 * connection (`Connection: close`); the answer is read to the end of the connection.
 */
import { connect } from 'node:net';

export interface RawRequest {
  method: string;
  /** The request target as bytes on the wire. */
  target: Buffer | string;
  /** In order, duplicates allowed; `content-length` is added for a body unless given. */
  headers: [string, string][];
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** A socket that neither answers nor closes within this long is a failure of the test, not a result. */
const ANSWER_TIMEOUT_MS = 60_000;

export function encodeRequest(request: RawRequest, host: string): Buffer {
  const headers = [...request.headers];
  const named = (name: string): boolean => headers.some(([h]) => h.toLowerCase() === name);
  if (!named('host')) headers.unshift(['host', host]);
  if (request.body !== undefined && !named('content-length') && !named('transfer-encoding')) {
    headers.push(['content-length', String(request.body.length)]);
  }
  headers.push(['connection', 'close']);
  const head = Buffer.concat([
    Buffer.from(`${request.method} `, 'latin1'),
    typeof request.target === 'string' ? Buffer.from(request.target, 'latin1') : request.target,
    Buffer.from(` HTTP/1.1\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`, 'latin1'),
  ]);
  return request.body === undefined ? head : Buffer.concat([head, request.body]);
}

/** Sends `request` to `url`'s host and port and parses the first answer. */
export function sendRaw(url: string, request: RawRequest): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms`)), ANSWER_TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The server may close while the body is still being written (a 413 answered early): what it
    // answered is still read.
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') {
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.write(encodeRequest(request, `${hostname}:${port}`));
  });
}

export function parseResponse(bytes: Buffer): RawResponse {
  // `Expect: 100-continue` is answered `100 Continue` first: the final answer follows.
  while (/^HTTP\/1\.[01] 1\d\d /.test(bytes.subarray(0, 13).toString('latin1'))) {
    const interim = bytes.indexOf('\r\n\r\n');
    if (interim < 0) break;
    bytes = bytes.subarray(interim + 4);
  }
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0)
    throw new Error(`no complete HTTP answer (${bytes.length} bytes: ${JSON.stringify(bytes.subarray(0, 200).toString('latin1'))})`);
  const [statusLine = '', ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (match === null) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = bytes.subarray(end + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') body = dechunk(body);
  else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  return { status: Number(match[1]), headers, body };
}

function dechunk(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', offset);
    if (lineEnd < 0) break;
    const size = Number.parseInt(bytes.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
