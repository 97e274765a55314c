/**
 * The limits a Temporal server enforces by default (self-hosted defaults; Temporal Cloud's are the
 * same or larger), checked before a call so that input over them is refused with a clear answer
 * instead of failing inside Temporal.
 */

export const TEMPORAL_LIMITS = {
  /** Workflow ID, workflow type, task queue, signal and update names (`limit.maxIDLength`), UTF-8 bytes. */
  idBytes: 1000,
  /** One search attribute value (`limit.searchAttributesSizeOfValue`). */
  searchAttributeValueBytes: 2 * 1024,
  /** All search attributes of an execution (`limit.searchAttributesTotalSize`). */
  searchAttributesTotalBytes: 40 * 1024,
  /** One payload: a workflow input, a signal's or update's arguments (`limit.blobSize.error`). */
  payloadBytes: 2 * 1024 * 1024,
  /** A gRPC request as a whole. */
  grpcMessageBytes: 4 * 1024 * 1024,
  /** The workflow's summary and details shown by the UI (`limit.userMetadataSummarySize`, `…DetailsSize`). */
  summaryBytes: 400,
  detailsBytes: 20_000,
} as const;

const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/** What is wrong with a workflow ID, or undefined. */
export function workflowIdProblem(workflowId: string): string | undefined {
  const bytes = utf8Bytes(workflowId);
  return bytes > TEMPORAL_LIMITS.idBytes
    ? `the workflow ID would be ${bytes} bytes long; Temporal accepts at most ${TEMPORAL_LIMITS.idBytes}`
    : undefined;
}

/** What is wrong with the search attributes of a start, or undefined. */
export function searchAttributesProblem(values: Record<string, string>): string | undefined {
  let total = 0;
  for (const [name, value] of Object.entries(values)) {
    const bytes = utf8Bytes(value);
    total += utf8Bytes(name) + bytes;
    if (bytes > TEMPORAL_LIMITS.searchAttributeValueBytes) {
      return `search attribute ${name} would be ${bytes} bytes long; Temporal accepts at most ${TEMPORAL_LIMITS.searchAttributeValueBytes}`;
    }
  }
  return total > TEMPORAL_LIMITS.searchAttributesTotalBytes
    ? `the search attributes would take ${total} bytes; Temporal accepts at most ${TEMPORAL_LIMITS.searchAttributesTotalBytes}`
    : undefined;
}

/** What is wrong with a payload (`what` names it in the answer), or undefined. JSON, as the default converter encodes it. */
export function payloadProblem(what: string, value: unknown): string | undefined {
  const bytes = utf8Bytes(JSON.stringify(value) ?? '');
  return bytes > TEMPORAL_LIMITS.payloadBytes
    ? `${what} would be ${bytes} bytes; Temporal accepts at most ${TEMPORAL_LIMITS.payloadBytes} per payload`
    : undefined;
}

/** `text` cut to at most `maxBytes` UTF-8 bytes (never inside a character), with `…` when cut. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (utf8Bytes(text) <= maxBytes) return text;
  let cut = '';
  let bytes = utf8Bytes('…');
  for (const c of text) {
    bytes += utf8Bytes(c);
    if (bytes > maxBytes) break;
    cut += c;
  }
  return `${cut}…`;
}
