import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseAllDocuments } from 'yaml';
import { findMarkers, markerReference, MarkerFileError, mayContainMarker, patchMarkers } from '../../../activities/git/markers.js';

const REF = 'flux-system:podinfo:prod';

function patch(content: string, version = '6.7.1', reference = REF) {
  return patchMarkers({ path: 'apps/podinfo.yaml', content, reference, version });
}

function toJs(text: string): unknown[] {
  return parseAllDocuments(text).map((document) => document.toJS() as unknown);
}

describe('markerReference', () => {
  test('is <namespace>:<pipeline>:<environment>', () => {
    assert.equal(markerReference({ namespace: 'flux-system', name: 'podinfo' }, 'prod'), REF);
  });
});

describe('patchMarkers: examples', () => {
  test('keeps each quoting style and changes nothing but the marked scalars', () => {
    const before = [
      'spec:',
      '  chart:',
      '    spec:',
      '      version: 6.5.0 # {"$promotion": "flux-system:podinfo:prod"}',
      "      other: '6.5.0' # {'$promotion': 'flux-system:podinfo:prod'}",
      '      third: "6.5.0"   #{"$promotion":"flux-system:podinfo:prod"}',
      '      untouched: 6.5.0 # {"$promotion": "flux-system:podinfo:dev"}',
      '  # a comment that stays',
      '',
    ].join('\n');
    const result = patch(before);
    assert.equal(
      result.content.toString(),
      before
        .replace('version: 6.5.0', 'version: 6.7.1')
        .replace("other: '6.5.0'", "other: '6.7.1'")
        .replace('third: "6.5.0"', 'third: "6.7.1"'),
    );
    assert.deepEqual(result.markers, [
      { line: 4, column: 16, currentValue: '6.5.0' },
      { line: 5, column: 14, currentValue: '6.5.0' },
      { line: 6, column: 14, currentValue: '6.5.0' },
    ]);
    assert.equal(result.changed, true);
  });

  test('changes markers in every document of a multi-document file', () => {
    const before = [
      'version: 1.0.0 # {"$promotion": "flux-system:podinfo:prod"}',
      '---',
      'items:',
      '  - 1.0.0 # {"$promotion": "flux-system:podinfo:prod"}',
      '  - 1.0.0',
      '---',
      'tag: "1.0.0" # {"$promotion": "flux-system:podinfo:staging"}',
      '',
    ].join('\n');
    const result = patch(before, '2.0.0');
    assert.deepEqual(toJs(result.content.toString()), [{ version: '2.0.0' }, { items: ['2.0.0', '1.0.0'] }, { tag: '1.0.0' }]);
    assert.deepEqual(
      result.markers.map((m) => m.line),
      [1, 4],
    );
  });

  test('a reference that merely starts like the requested one is not it', () => {
    const before = 'a: 1.0.0 # {"$promotion": "flux-system:podinfo:prod-eu"}\n';
    const result = patch(before);
    assert.equal(result.changed, false);
    assert.deepEqual(result.markers, []);
    assert.equal(result.content.toString(), before);
  });

  test('already at the version: nothing changes and the content is the input', () => {
    const before = 'a: "6.7.1" # {"$promotion": "flux-system:podinfo:prod"}\n';
    const input = Buffer.from(before);
    const result = patchMarkers({ path: 'x.yaml', content: input, reference: REF, version: '6.7.1' });
    assert.equal(result.changed, false);
    assert.equal(result.content, input);
    assert.deepEqual(result.markers, [{ line: 1, column: 4, currentValue: '6.7.1' }]);
  });

  test('keeps CRLF line endings, a BOM and non-ASCII text byte for byte', () => {
    const before = '\uFEFFname: café # ünïcode\r\nversion: 1.0.0 # {"$promotion": "flux-system:podinfo:prod"}\r\nnext: ✓\r\n';
    const result = patch(before);
    assert.deepEqual(result.content, Buffer.from(before.replace('1.0.0', '6.7.1')));
  });

  test('a plain value stays plain unless the version would read back as something else', () => {
    const before = 'a: 1.0.0 # {"$promotion": "flux-system:podinfo:prod"}\nb: 2 # {"$promotion": "flux-system:podinfo:prod"}\n';
    assert.equal(
      patch(before, '1.10').content.toString(),
      'a: "1.10" # {"$promotion": "flux-system:podinfo:prod"}\nb: "1.10" # {"$promotion": "flux-system:podinfo:prod"}\n',
    );
    assert.equal(
      patch(before, '3').content.toString(),
      'a: "3" # {"$promotion": "flux-system:podinfo:prod"}\nb: 3 # {"$promotion": "flux-system:podinfo:prod"}\n',
    );
    assert.deepEqual(toJs(patch(before, 'true').content.toString()), [{ a: 'true', b: 'true' }]);
  });

  test('quotes inside the version are escaped in the scalar style kept', () => {
    const before = 'a: \'x\' # {"$promotion": "flux-system:podinfo:prod"}\nb: "x" # {"$promotion": "flux-system:podinfo:prod"}\n';
    const version = `it's "v1"`;
    assert.deepEqual(toJs(patch(before, version).content.toString()), [{ a: version, b: version }]);
    assert.match(patch(before, version).content.toString(), /^a: 'it''s "v1"' /);
  });

  test('an empty value gets the version, and its comment stays a comment', () => {
    const result = patch('image:\n  tag: # {"$promotion": "flux-system:podinfo:prod"}\n');
    assert.equal(result.content.toString(), 'image:\n  tag: 6.7.1 # {"$promotion": "flux-system:podinfo:prod"}\n');
  });

  test('a marker comment on its own line or after a flow collection is reported as stray, not applied', () => {
    const before = [
      '# {"$promotion": "flux-system:podinfo:prod"}',
      'a: 1.0.0',
      'b: [1.0.0] # {"$promotion": "flux-system:podinfo:prod"}',
      'c: "# {\\"$promotion\\": \\"flux-system:podinfo:prod\\"}"',
      '',
    ].join('\n');
    const result = patch(before);
    assert.equal(result.changed, false);
    assert.deepEqual(result.stray, [
      { line: 1, column: 1 },
      { line: 3, column: 12 },
    ]);
  });

  test('a file holding the marker that does not parse is an error naming the file', () => {
    const broken = 'a: 1.0.0 # {"$promotion": "flux-system:podinfo:prod"}\nb: [unclosed\n';
    assert.throws(
      () => patch(broken),
      (error: unknown) =>
        error instanceof MarkerFileError &&
        error.path === 'apps/podinfo.yaml' &&
        /^apps\/podinfo\.yaml: not valid YAML/.test(error.message),
    );
    assert.throws(() => findMarkers({ path: 'apps/podinfo.yaml', content: broken, reference: REF }), MarkerFileError);
  });

  test('a marked file whose keys repeat is an error naming the key and its line', () => {
    const repeated = 'spec:\n  version: 1.0.0 # {"$promotion": "flux-system:podinfo:prod"}\n  replicas: 2\n  version: 2.0.0\n';
    assert.throws(
      () => patch(repeated),
      (error: unknown) =>
        error instanceof MarkerFileError &&
        error.message === 'apps/podinfo.yaml: not valid YAML: map keys must be unique; "version" repeats at line 4, column 3',
    );
  });

  test('files without a marker for the reference are not parsed at all', () => {
    const broken = 'b: [unclosed\n';
    assert.equal(patch(broken).changed, false);
    assert.equal(patch(`${broken}# {"$promotion": "other:pipeline:prod"}\n`).changed, false);
    assert.equal(mayContainMarker(Buffer.from(broken), REF), false);
  });

  test('invalid UTF-8 in a marked file is an error, not a silently mangled file', () => {
    const content = Buffer.concat([
      Buffer.from('a: 1.0.0 # {"$promotion": "flux-system:podinfo:prod"}\nb: '),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('\n'),
    ]);
    assert.throws(() => patchMarkers({ path: 'x.yaml', content, reference: REF, version: '2.0.0' }), /x\.yaml: .*not valid UTF-8/);
  });

  test('a version with a line break is refused', () => {
    assert.throws(() => patch('a: 1 # {"$promotion": "flux-system:podinfo:prod"}\n', '1.0\n2'), /cannot be written/);
  });
});

// ---------------------------------------------------------------------------------------------
// Property tests: generated documents with markers in the three quoting styles.

type Style = 'plain' | 'single' | 'double';

interface ScalarSpec {
  style: Style;
  text: string;
  /** Which reference the marker comment names, if the scalar has one. */
  marker?: 'target' | 'other';
  /** Exact source of the marker comment (spacing and quote variations), after one or more spaces. */
  markerSource: string;
}

type EntrySpec =
  | { kind: 'scalar'; key: string; scalar: ScalarSpec }
  | { kind: 'map'; key: string; children: ScalarSpec[] }
  | { kind: 'seq'; key: string; items: ScalarSpec[] };

const OTHER_REFS = ['flux-system:podinfo:dev', 'flux-system:podinfo:prod-eu', 'apps:podinfo:prod'];

const spaces = fc.constantFrom('', ' ', '  ');
const quote = fc.constantFrom('"', "'");

function markerComment(reference: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .record({ s1: spaces, s2: spaces, s3: spaces, s4: spaces, q1: quote, q2: quote, reference })
    .map(({ s1, s2, s3, s4, q1, q2, reference: ref }) => `#${s1}{${s2}${q1}$promotion${q1}${s3}:${s4}${q2}${ref}${q2}}`);
}

const plainText = fc.oneof(
  fc.tuple(fc.nat(20), fc.nat(20), fc.nat(20)).map(([a, b, c]) => `${a}.${b}.${c}`),
  fc.stringMatching(/^v?[a-z0-9][a-z0-9.-]{0,10}$/).filter((text) => !/[.-]$/.test(text)),
);
const quotedText = fc.string({ unit: fc.constantFrom(...'abc 123.-_:#\'"\\/é✓'.split('')), maxLength: 12 });

const scalarSpec: fc.Arbitrary<ScalarSpec> = fc
  .record({
    style: fc.constantFrom<Style>('plain', 'single', 'double'),
    plain: plainText,
    quoted: quotedText,
    marker: fc.constantFrom<ScalarSpec['marker']>('target', 'target', 'other', undefined, undefined),
    targetComment: markerComment(fc.constant(REF)),
    otherComment: markerComment(fc.constantFrom(...OTHER_REFS)),
    gap: fc.constantFrom(' ', '  ', '\t'),
  })
  .map(({ style, plain, quoted, marker, targetComment, otherComment, gap }) => ({
    style,
    text: style === 'plain' ? plain : quoted,
    ...(marker === undefined ? {} : { marker }),
    markerSource: marker === undefined ? '' : `${gap}${marker === 'target' ? targetComment : otherComment}`,
  }));

const entrySpecs: fc.Arbitrary<EntrySpec[]> = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: scalarSpec.map((scalar) => ({ kind: 'scalar' as const, scalar })) },
      {
        weight: 1,
        arbitrary: fc.array(scalarSpec, { minLength: 1, maxLength: 4 }).map((children) => ({ kind: 'map' as const, children })),
      },
      { weight: 1, arbitrary: fc.array(scalarSpec, { minLength: 1, maxLength: 4 }).map((items) => ({ kind: 'seq' as const, items })) },
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((entries) => entries.map((entry, index): EntrySpec => ({ ...entry, key: `k${index}` })));

const documentsSpec = fc.array(entrySpecs, { minLength: 1, maxLength: 3 });

const versionArb = fc.oneof(
  fc.tuple(fc.nat(30), fc.nat(30), fc.nat(30)).map(([a, b, c]) => `${a}.${b}.${c}`),
  fc.constantFrom('6.7.1', '1.10', 'v2.0.0+build.7', '1.0.0-rc.1', 'true', '1e3', "it's", 'say "hi"', 'a: b'),
);

function scalarSource({ style, text }: ScalarSpec): string {
  if (style === 'plain') return text;
  if (style === 'single') return `'${text.replaceAll("'", "''")}'`;
  return JSON.stringify(text);
}

interface Rendered {
  text: string;
  /** Source ranges of the scalars marked for REF, in order. */
  targets: Array<{ start: number; end: number; path: Array<string | number>; currentValue: string; style: Style }>;
}

/** Renders the documents and remembers where each scalar marked for REF sits. */
function render(documents: EntrySpec[][]): Rendered {
  let text = '';
  const targets: Rendered['targets'] = [];
  const emit = (prefix: string, scalar: ScalarSpec, path: Array<string | number>): void => {
    text += prefix;
    const start = text.length;
    text += scalarSource(scalar);
    if (scalar.marker === 'target') targets.push({ start, end: text.length, path, currentValue: scalar.text, style: scalar.style });
    text += `${scalar.markerSource}\n`;
  };
  documents.forEach((entries, documentIndex) => {
    if (documentIndex > 0) text += '---\n';
    for (const entry of entries) {
      if (entry.kind === 'scalar') emit(`${entry.key}: `, entry.scalar, [documentIndex, entry.key]);
      else if (entry.kind === 'map') {
        text += `${entry.key}:\n`;
        entry.children.forEach((child, i) => emit(`  c${i}: `, child, [documentIndex, entry.key, `c${i}`]));
      } else {
        text += `${entry.key}:\n`;
        entry.items.forEach((item, i) => emit('  - ', item, [documentIndex, entry.key, i]));
      }
    }
  });
  return { text, targets };
}

function setPath(root: unknown[], path: Array<string | number>, value: unknown): void {
  let node: Record<string | number, unknown> = root as unknown as Record<string | number, unknown>;
  for (const step of path.slice(0, -1)) node = node[step] as Record<string | number, unknown>;
  node[path.at(-1)!] = value;
}

/** A scalar's source text, read back on its own, is `version`. */
function readsAs(source: string, version: string): boolean {
  const [document] = toJs(`v: ${source}\n`) as Array<{ v: unknown } | undefined>;
  return document?.v === version;
}

/**
 * Quoted scalars keep their quotes. A plain one stays the bare version, or is double-quoted when
 * the version is not a safe plain scalar; an ordinary `x.y.z` version is always safe.
 */
function keepsStyle(style: Style, scalar: string, version: string): boolean {
  if (style === 'single') return scalar.startsWith("'");
  if (style === 'double') return scalar.startsWith('"');
  if (/^\d+\.\d+\.\d+$/.test(version)) return scalar === version;
  return scalar === version || scalar === JSON.stringify(version);
}

describe('patchMarkers: properties', () => {
  test('only the bytes of scalars marked for the reference change, and they read back as the version', () => {
    fc.assert(
      fc.property(documentsSpec, versionArb, (documents, version) => {
        const { text, targets } = render(documents);
        const result = patch(text, version);
        const patched = result.content.toString('utf8');
        // Walk the original's unmarked stretches: each must appear verbatim, in order, in the result.
        let cursor = 0;
        let previousEnd = 0;
        for (const target of targets) {
          const between = text.slice(previousEnd, target.start);
          assert.equal(patched.slice(cursor, cursor + between.length), between);
          cursor += between.length;
          const next = targets[targets.indexOf(target) + 1];
          const following = text.slice(target.end, next?.start ?? text.length);
          const scalarEnd = patched.indexOf(following, cursor);
          const scalar = patched.slice(cursor, scalarEnd);
          assert.ok(readsAs(scalar, version), `scalar ${scalar} reads as ${version}`);
          assert.ok(keepsStyle(target.style, scalar, version), `${target.style} scalar became ${scalar}`);
          cursor = scalarEnd;
          previousEnd = target.end;
        }
        assert.equal(patched.slice(cursor), text.slice(previousEnd));
      }),
      { numRuns: 300 },
    );
  });

  test('the result parses to the original values with every marked one set to the version', () => {
    fc.assert(
      fc.property(documentsSpec, versionArb, (documents, version) => {
        const { text, targets } = render(documents);
        const expected = toJs(text);
        for (const target of targets) setPath(expected, target.path, version);
        assert.deepEqual(toJs(patch(text, version).content.toString('utf8')), expected);
      }),
      { numRuns: 300 },
    );
  });

  test('markers are reported for exactly the scalars marked for the reference, and patching is idempotent', () => {
    fc.assert(
      fc.property(documentsSpec, versionArb, (documents, version) => {
        const { text, targets } = render(documents);
        const found = findMarkers({ path: 'x.yaml', content: text, reference: REF });
        assert.equal(found.markers.length, targets.length);
        assert.deepEqual(found.stray, []);
        const once = patch(text, version);
        assert.equal(
          once.changed,
          targets.some((target) => target.currentValue !== version),
        );
        const twice = patch(once.content.toString('utf8'), version);
        assert.equal(twice.changed, false);
        assert.ok(twice.markers.every((marker) => marker.currentValue === version));
      }),
      { numRuns: 300 },
    );
  });
});
