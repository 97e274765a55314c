/**
 * `$promotion` markers: a YAML scalar followed, on its own line, by the comment
 * `# {"$promotion": "<pipelineNamespace>:<pipelineName>:<targetEnv>"}` is the value a promotion
 * rewrites. Shared by the pull-request activity and `baton markers`, so what users preview in their
 * CI is exactly what a promotion will change.
 *
 * Pure: contents in, markers and patched contents out. Only the bytes of each marked scalar change
 * (Weave re-serialised whole files, losing comments and formatting); every other byte stays as is.
 */
import { isUtf8 } from 'node:buffer';
import { isScalar, LineCounter, parse, parseAllDocuments, type Scalar, visit, type YAMLMap } from 'yaml';
import type { PipelineRef } from '../../model/pipeline.js';

const MARKER_KEY = '$promotion';
const MARKER_KEY_BYTES = Buffer.from(MARKER_KEY);

/**
 * The rest of a scalar's line when it is a marker comment: `# {"$promotion": "<ref>"}`, either
 * quote on key and value (Weave's docs use double, YAML authors often single), any spacing.
 */
const MARKER_COMMENT = /^[ \t]*#[ \t]*\{[ \t]*(["'])\$promotion\1[ \t]*:[ \t]*(["'])([^"'\r\n]*)\2[ \t]*\}[ \t]*\r?$/;
/** The same comment anywhere in a file, to report markers that sit on no value's line. */
const ANY_MARKER_COMMENT = /#[ \t]*\{[ \t]*(["'])\$promotion\1[ \t]*:[ \t]*(["'])([^"'\r\n]*)\2[ \t]*\}[ \t]*\r?$/gm;
/** Versions that read back as themselves when written without quotes, in block and flow context alike. */
const PLAIN_SAFE = /^[A-Za-z0-9_][A-Za-z0-9_.+\-/]*$/;

/** `<pipelineNamespace>:<pipelineName>:<targetEnv>`, the reference a marker names. */
export function markerReference(pipeline: PipelineRef, environment: string): string {
  return `${pipeline.namespace}:${pipeline.name}:${environment}`;
}

/** A marked scalar; line and column are 1-based and point at the scalar's first character. */
export interface Marker {
  line: number;
  column: number;
  /** The scalar as the user reads it: a plain scalar's source text, a quoted scalar's string value. */
  currentValue: string;
}

/** A marker comment for the reference that follows no scalar on its line, so nothing would change. */
export interface StrayMarker {
  line: number;
  column: number;
}

export interface MarkedFile {
  path: string;
  markers: Marker[];
  stray: StrayMarker[];
}

export interface PatchedFile extends MarkedFile {
  /** The file with every marked scalar set to the version; the input bytes when nothing changed. */
  content: Buffer;
  changed: boolean;
}

export interface MarkerScanInput {
  /** Names the file in errors; not read. */
  path: string;
  content: Uint8Array | string;
  reference: string;
}

export interface MarkerPatchInput extends MarkerScanInput {
  version: string;
}

/** A file that holds a marker for the reference but cannot be read as YAML: never skipped silently. */
export class MarkerFileError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'MarkerFileError';
  }
}

/**
 * The fast byte pre-filter: only files containing `$promotion` and the reference can hold a marker
 * for it, and only those are parsed. `indexOf` on bytes runs at memory speed; parsing does not.
 */
export function mayContainMarker(content: Uint8Array | string, reference: string): boolean {
  const bytes = typeof content === 'string' ? Buffer.from(content) : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  return bytes.includes(MARKER_KEY_BYTES) && bytes.includes(reference);
}

/** Every marker for the reference in one file. Throws MarkerFileError when a candidate file does not parse. */
export function findMarkers(input: MarkerScanInput): MarkedFile {
  if (!mayContainMarker(input.content, input.reference)) return { path: input.path, markers: [], stray: [] };
  const scan = scanText(input.path, decode(input.path, input.content), input.reference);
  return { path: input.path, markers: scan.found.map((f) => f.marker), stray: scan.stray };
}

/**
 * Sets every marker for the reference to `version`, changing only those scalars' bytes and keeping
 * their quoting style. The result is re-parsed to prove it still reads as intended.
 */
export function patchMarkers(input: MarkerPatchInput): PatchedFile {
  assertWritableVersion(input.version);
  const original = toBuffer(input.content);
  if (!mayContainMarker(original, input.reference)) {
    return { path: input.path, markers: [], stray: [], content: original, changed: false };
  }
  const text = decode(input.path, original);
  const scan = scanText(input.path, text, input.reference);
  const stale = scan.found.filter((f) => f.marker.currentValue !== input.version);
  const result = { path: input.path, markers: scan.found.map((f) => f.marker), stray: scan.stray };
  if (stale.length === 0) return { ...result, content: original, changed: false };
  const patched = spliceReplacements(text, stale, input.version);
  verifyPatched(input, patched, scan.found.length);
  return { ...result, content: Buffer.from(patched, 'utf8'), changed: true };
}

interface FoundMarker {
  marker: Marker;
  /** UTF-16 offsets of the scalar's source text (quotes included), as the YAML parser reports them. */
  start: number;
  end: number;
  style: Scalar.Type;
  /** The JS type the scalar resolved to (a plain `1.10` is a number): a plain rewrite must keep it. */
  resolvedType: string;
}

interface TextScan {
  found: FoundMarker[];
  stray: StrayMarker[];
}

function toBuffer(content: Uint8Array | string): Buffer {
  if (typeof content === 'string') return Buffer.from(content, 'utf8');
  return Buffer.isBuffer(content) ? content : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
}

/** UTF-8 only: decoding invalid bytes would replace them, and the "other bytes identical" promise would break. */
function decode(path: string, content: Uint8Array | string): string {
  if (typeof content === 'string') return content;
  if (!isUtf8(content)) throw new MarkerFileError(path, 'holds a $promotion marker but is not valid UTF-8');
  return toBuffer(content).toString('utf8');
}

function scanText(path: string, text: string, reference: string): TextScan {
  const lineCounter = new LineCounter();
  const found: FoundMarker[] = [];
  const attached = new Set<number>();
  // The parser's own check of unique keys compares each key with every earlier one: a values file
  // of 200,000 keys would take hours. uniqueScalarKeys checks them in linear time instead.
  for (const document of parseAllDocuments(text, { lineCounter, uniqueKeys: false })) {
    const error = document.errors[0];
    if (error) throw new MarkerFileError(path, `not valid YAML: ${error.message}`);
    visit(document, {
      Map(_key, node) {
        uniqueScalarKeys(path, node, lineCounter);
      },
      Scalar(_key, node) {
        const marked = markedScalar(text, node, reference, lineCounter);
        if (marked === undefined) return;
        found.push(marked.found);
        attached.add(marked.commentOffset);
      },
    });
  }
  return { found, stray: strayMarkers(text, reference, attached, lineCounter) };
}

/** A mapping whose scalar keys repeat is not valid YAML; keys that are collections are left to the parser's leniency. */
function uniqueScalarKeys(path: string, map: YAMLMap, lineCounter: LineCounter): void {
  const seen = new Set<unknown>();
  for (const { key } of map.items) {
    if (!isScalar(key)) continue;
    if (seen.has(key.value)) {
      const { line, col } = lineCounter.linePos(key.range?.[0] ?? 0);
      throw new MarkerFileError(
        path,
        `not valid YAML: map keys must be unique; ${JSON.stringify(String(key.value))} repeats at line ${line}, column ${col}`,
      );
    }
    seen.add(key.value);
  }
}

/** The scalar and its marker comment's offset, when the rest of the scalar's last line is a marker for `reference`. */
function markedScalar(
  text: string,
  node: Scalar,
  reference: string,
  lineCounter: LineCounter,
): { found: FoundMarker; commentOffset: number } | undefined {
  const [start, end] = node.range ?? [];
  if (start === undefined || end === undefined) return undefined;
  // Block scalars span lines; their header line is not where a version lives.
  if (node.type === 'BLOCK_FOLDED' || node.type === 'BLOCK_LITERAL') return undefined;
  const lineEnd = text.indexOf('\n', end);
  const rest = text.slice(end, lineEnd < 0 ? text.length : lineEnd);
  const comment = MARKER_COMMENT.exec(rest);
  if (comment?.[3] !== reference) return undefined;
  const { line, col } = lineCounter.linePos(start);
  const style = node.type ?? 'PLAIN';
  const currentValue = style === 'PLAIN' ? text.slice(start, end) : String(node.value);
  // An empty or null value has no type worth keeping: the version goes in as the string it is.
  const resolvedType = node.value === null ? 'string' : typeof node.value;
  return {
    found: { marker: { line, column: col, currentValue }, start, end, style, resolvedType },
    commentOffset: end + rest.indexOf('#'),
  };
}

function strayMarkers(text: string, reference: string, attached: ReadonlySet<number>, lineCounter: LineCounter): StrayMarker[] {
  const stray: StrayMarker[] = [];
  for (const match of text.matchAll(ANY_MARKER_COMMENT)) {
    if (match[3] !== reference || attached.has(match.index)) continue;
    // A `#` must follow whitespace or start the line to begin a comment; anything else is text.
    const before = match.index === 0 ? '\n' : text[match.index - 1];
    if (before !== ' ' && before !== '\t' && before !== '\n') continue;
    const { line, col } = lineCounter.linePos(match.index);
    stray.push({ line, column: col });
  }
  return stray;
}

/** Versions go into YAML source; a line break or control character could never be written back as one scalar. */
function assertWritableVersion(version: string): void {
  if (version.length === 0 || /[\u0000-\u001f\u007f]/.test(version)) {
    throw new Error(`version ${JSON.stringify(version)} cannot be written into a YAML scalar`);
  }
}

function spliceReplacements(text: string, markers: readonly FoundMarker[], version: string): string {
  let out = '';
  let cursor = 0;
  for (const marker of [...markers].sort((a, b) => a.start - b.start)) {
    out += text.slice(cursor, marker.start) + scalarSource(marker, version, text[marker.end]);
    cursor = marker.end;
  }
  return out + text.slice(cursor);
}

/** The new scalar's source text in the old one's quoting style. */
function scalarSource(marker: FoundMarker, version: string, nextChar: string | undefined): string {
  switch (marker.style) {
    case 'QUOTE_SINGLE':
      return `'${version.replaceAll("'", "''")}'`;
    case 'QUOTE_DOUBLE':
      // A JSON string is a valid YAML double-quoted scalar.
      return JSON.stringify(version);
    default: {
      const plain = readsBackPlain(version, marker.resolvedType) ? version : JSON.stringify(version);
      // An empty value sits right before its comment; `#` only starts a comment after whitespace.
      return marker.start === marker.end && nextChar === '#' ? `${plain} ` : plain;
    }
  }
}

/**
 * Whether `version` written without quotes still means that version: `6.7.1` does, but `1.10` reads
 * as the number 1.1 and `true` as a boolean. Only a value that already was a number may stay one,
 * and only when the number prints back as the same text.
 */
function readsBackPlain(version: string, resolvedType: string): boolean {
  if (!PLAIN_SAFE.test(version)) return false;
  const value: unknown = parse(version);
  return typeof value === 'string' || (typeof value === resolvedType && String(value) === version);
}

/** The invariant the surgical edit promises: the file still parses and every marker now reads as the version. */
function verifyPatched(input: MarkerPatchInput, patched: string, expectedMarkers: number): void {
  const rescan = scanText(input.path, patched, input.reference);
  const wrong = rescan.found.filter((f) => f.marker.currentValue !== input.version);
  if (rescan.found.length !== expectedMarkers || wrong.length > 0) {
    throw new MarkerFileError(
      input.path,
      `setting ${input.reference} to ${JSON.stringify(input.version)} would not read back as that version`,
    );
  }
}
