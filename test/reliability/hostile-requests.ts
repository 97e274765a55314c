/**
 * A seeded generator of hostile requests for every route of the gateway: malformed, oversized and
 * deeply nested JSON, prototype-pollution keys, huge strings, invalid UTF-8 and NUL in paths,
 * traversal and encoded slashes, every variant of the signature header, signed events with extreme
 * values, wrong methods and content types, hostile headers and credentials. The same seed gives
 * the same requests, so a failure names the seed and the request that reproduce it.
 *
 * Each request says which credential it carries: `valid` (it would authenticate), `forged` (it
 * tries to and must not) or `none`. Only a `valid` one may be answered 2xx, and not even that when
 * the request is invalid whatever its credential (`mustRefuse`).
 */
import { createHmac } from 'node:crypto';
import { signApproval, signBody } from '../../gateway/hmac.js';
import { fixtureBody, FIXTURES } from '../support/events.js';
import type { RawRequest } from '../support/raw-http.js';

export type Credential = 'none' | 'forged' | 'valid';

export interface HostileRequest {
  /** Which kind of abuse, e.g. `signature/sha1`; the report counts answers per family. */
  family: string;
  request: RawRequest;
  credential: Credential;
  /** Whatever the credential, a 2xx answer is wrong: the request is invalid (bad body, nothing to decide). */
  mustRefuse?: true;
}

export interface HostileContext {
  /** The example Pipeline's webhook `hmac-key`. */
  hmacKey: string;
  /** The example Pipeline's prod approval key. */
  approvalKey: string;
  /** A valid OpenID token of the gateway's issuer: control routes get past authentication with it. */
  bearerToken: string;
  /** Distinguishes the versions a run's valid events start from another run's. */
  runTag: string;
}

/** mulberry32: small, fast and good enough to pick cases; the seed alone decides every request. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Pick {
  random: () => number;
  one<T>(items: readonly T[]): T;
  int(max: number): number;
}

function picker(random: () => number): Pick {
  return {
    random,
    one: <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!,
    int: (max: number) => Math.floor(random() * max),
  };
}

const PIPELINE = '/promotion/flux-system/podinfo-02';
const KiB = 1024;
const MiB = 1024 * KiB;
/** Just over the promotion route's 1 MiB body limit. */
const OVER_EVENT_LIMIT = MiB + 1;

const JSON_HEADERS: [string, string][] = [['content-type', 'application/json']];
const FIXTURE = fixtureBody(FIXTURES.upgradeSucceeded).toString('utf8');
type FluxEventJson = Record<string, unknown> & { metadata: Record<string, string>; involvedObject: Record<string, string> };
const fixtureEvent = (): FluxEventJson => JSON.parse(FIXTURE) as FluxEventJson;

const signed = (body: Buffer, key: string, algorithm: 'sha224' | 'sha256' | 'sha384' | 'sha512' = 'sha256'): string =>
  signBody(body, key, algorithm);

function promotion(
  env: string,
  body: Buffer,
  headers: [string, string][],
  credential: Credential,
  family: string,
  mustRefuse = false,
): HostileRequest {
  return {
    family,
    credential,
    ...(mustRefuse ? { mustRefuse: true as const } : {}),
    request: { method: 'POST', target: `${PIPELINE}/${env}`, headers: [...JSON_HEADERS, ...headers], body },
  };
}

/** An event that would promote, for a version of its own: accepted only with a valid signature. */
function promotableEvent(context: HostileContext, version: string): Buffer {
  const event = fixtureEvent();
  event.metadata = { ...event.metadata, revision: version };
  return Buffer.from(JSON.stringify(event));
}

const MALFORMED_JSON = [
  '',
  '{',
  '}',
  '{"involvedObject":',
  '{"a":1,}',
  "{'single':'quotes'}",
  'null',
  'true',
  '42',
  '"just a string"',
  '[]',
  '{"a":NaN}',
  '{"a":1e999999}',
  '{"a":"\\ud800"}',
  '{"a":"\\u0000"}',
  '\ufeff{"bom":true}',
  '{"a":1}{"b":2}',
  '{"a" 1}',
  '\u0000',
  '{"__proto__":',
];

/** Keys that pollute prototypes in code that merges objects naively. */
function pollutedEvent(p: Pick, version: string): Record<string, unknown> {
  const event: Record<string, unknown> = fixtureEvent();
  const variant = p.int(5);
  if (variant === 0)
    return JSON.parse(`{"__proto__":{"polluted":"yes","isAdmin":true},${JSON.stringify(event).slice(1)}`) as object as never;
  if (variant === 1) return { ...event, constructor: { prototype: { polluted: 'yes' } } };
  if (variant === 2) {
    return {
      ...event,
      metadata: JSON.parse(`{"__proto__":"x","constructor":"y","prototype":"z","revision":${JSON.stringify(version)}}`) as object,
    };
  }
  if (variant === 3) return { ...event, involvedObject: { ...(event.involvedObject as object), __proto__: { kind: 'Pipeline' } } };
  return JSON.parse(`{"constructor":{"prototype":{"toString":"boom"}},"__proto__":null,${JSON.stringify(event).slice(1)}`) as never;
}

/** A document nested `depth` levels deep, under a key the schema allows. */
function deeplyNested(depth: number, arrays: boolean): string {
  const open = arrays ? '['.repeat(depth) : '{"a":'.repeat(depth);
  const close = arrays ? ']'.repeat(depth) : '}'.repeat(depth);
  return `${FIXTURE.trimEnd().slice(0, -1)},"extra":${open}1${close}}`;
}

const ODD_VERSIONS = [
  'x'.repeat(257),
  '6.7.1'.repeat(2000),
  '6.7.1\u0000',
  '6.7.1\n7.0.0',
  '../../../etc/passwd',
  '..%2f..%2fetc',
  '6.7.1; rm -rf /',
  '<script>alert(1)</script>',
  '6.7.1\u202e',
  '🚀.🚀.🚀',
  '',
  ' ',
  '+build',
  'v',
  '%00',
  '$(reboot)',
  '6.7.1\\',
  '\ud800',
];

const ODD_NAMES = ['', ' ', '../podinfo', 'podinfo\u0000', 'x'.repeat(100 * KiB), 'PodInfo', 'podinfo/../../', '🚀', '<b>'];

/** Signed events whose fields carry extreme values. */
function extremeEvent(p: Pick, context: HostileContext, index: number): { body: Buffer; family: string; mustRefuse?: boolean } {
  const event = fixtureEvent();
  switch (p.int(7)) {
    case 0:
      event.metadata.revision = p.one(ODD_VERSIONS);
      return { body: Buffer.from(JSON.stringify(event)), family: 'signed/odd-version' };
    case 1:
      event.involvedObject[p.one(['name', 'namespace', 'kind', 'apiVersion'])] = p.one(ODD_NAMES);
      return { body: Buffer.from(JSON.stringify(event)), family: 'signed/odd-name' };
    case 2: {
      // Thousands of metadata keys, and a revision a release may start for.
      const metadata: Record<string, string> = {};
      for (let i = 0; i < 2000 + p.int(3000); i++) metadata[`key-${i}`] = 'v'.repeat(p.int(40));
      metadata.revision = `7.${context.runTag}.${index}`;
      event.metadata = metadata;
      return { body: Buffer.from(JSON.stringify(event)), family: 'signed/thousands-of-metadata-keys' };
    }
    case 3: {
      // A huge string in every field.
      const huge = 'h'.repeat(60 * KiB);
      for (const field of ['severity', 'timestamp', 'message', 'reason', 'reportingController', 'reportingInstance']) event[field] = huge;
      for (const field of Object.keys(event.involvedObject)) event.involvedObject[field] = huge;
      event.metadata = { revision: huge, [huge]: huge };
      return { body: Buffer.from(JSON.stringify(event)), family: 'signed/huge-strings', mustRefuse: true };
    }
    case 4: {
      // Wrong types everywhere the schema looks.
      const wrong = p.one<unknown>([null, 42, true, [], {}, [1, 2], 'x']);
      event[p.one(['involvedObject', 'severity', 'timestamp', 'message', 'reason', 'metadata', 'reportingController'])] = wrong;
      return { body: Buffer.from(JSON.stringify(event)), family: 'signed/wrong-types', mustRefuse: true };
    }
    case 5: {
      // A long message: accepted, and kept cut to a few hundred characters.
      event.message = 'm'.repeat(900 * KiB);
      event.metadata.revision = `7.${context.runTag}.${index}`;
      return { body: Buffer.from(JSON.stringify(event)), family: 'signed/900KiB-message' };
    }
    default:
      return { body: Buffer.from(JSON.stringify(pollutedEvent(p, `7.${context.runTag}.${index}`))), family: 'signed/prototype-pollution' };
  }
}

/** Every way an `X-Signature` header can be wrong (or right in an unusual way). */
function signatureVariant(p: Pick, body: Buffer, key: string): { headers: [string, string][]; credential: Credential; family: string } {
  const good = signed(body, key);
  const hex = good.slice('sha256='.length);
  const variants: [string, [string, string][], Credential][] = [
    ['missing', [], 'none'],
    ['empty', [['x-signature', '']], 'forged'],
    ['algorithm-only', [['x-signature', 'sha256']], 'forged'],
    ['no-digest', [['x-signature', 'sha256=']], 'forged'],
    ['no-algorithm', [['x-signature', `=${hex}`]], 'forged'],
    ['md5', [['x-signature', `md5=${createHmac('md5', key).update(body).digest('hex')}`]], 'forged'],
    ['sha1', [['x-signature', `sha1=${createHmac('sha1', key).update(body).digest('hex')}`]], 'forged'],
    ['sha256-as-sha512', [['x-signature', `sha512=${hex}`]], 'forged'],
    ['truncated', [['x-signature', good.slice(0, -1 - p.int(30))]], 'forged'],
    ['extended', [['x-signature', `${good}0`]], 'forged'],
    ['non-hex', [['x-signature', `sha256=${'z'.repeat(64)}`]], 'forged'],
    ['wrong-key', [['x-signature', signed(body, `${key}x`)]], 'forged'],
    ['other-body', [['x-signature', signed(Buffer.concat([body, Buffer.from(' ')]), key)]], 'forged'],
    [
      'two-headers',
      [
        ['x-signature', good],
        ['x-signature', good],
      ],
      'forged',
    ],
    [
      'good-and-bad-headers',
      [
        ['x-signature', 'sha256=00'],
        ['x-signature', good],
      ],
      'forged',
    ],
    ['huge', [['x-signature', `sha256=${'a'.repeat(8 * KiB)}`]], 'forged'],
    ['internal-space', [['x-signature', `sha256=${hex.slice(0, 10)} ${hex.slice(10)}`]], 'forged'],
    ['unknown-algorithm', [['x-signature', `sha3-256=${hex}`]], 'forged'],
    ['__proto__', [['x-signature', `__proto__=${hex}`]], 'forged'],
    ['constructor', [['x-signature', `constructor=${hex}`]], 'forged'],
    // Unusual spellings of a right signature: accepted, as Flux and Weave accept them.
    ['uppercase-hex', [['x-signature', `sha256=${hex.toUpperCase()}`]], 'valid'],
    ['uppercase-algorithm', [['x-signature', `SHA256=${hex}`]], 'valid'],
    ['whitespace', [['x-signature', ` sha256= ${hex} `]], 'valid'],
    ['sha224', [['x-signature', signed(body, key, 'sha224')]], 'valid'],
    ['sha384', [['x-signature', signed(body, key, 'sha384')]], 'valid'],
    ['sha512', [['x-signature', signed(body, key, 'sha512')]], 'valid'],
  ];
  const [name, headers, credential] = p.one(variants);
  return { headers, credential, family: `signature/${name}` };
}

const RAW_BAD_PATHS: [string, Buffer][] = [
  ['nul', Buffer.from('/promotion/flux-system/podinfo-02\u0000/dev', 'latin1')],
  ['invalid-utf8', Buffer.concat([Buffer.from('/promotion/flux-system/'), Buffer.from([0xff, 0xfe]), Buffer.from('/dev')])],
  ['overlong-utf8', Buffer.concat([Buffer.from('/promotion/flux-system/'), Buffer.from([0xc0, 0xae, 0xc0, 0xae]), Buffer.from('/dev')])],
  ['lone-continuation', Buffer.concat([Buffer.from('/approval/flux-system/podinfo-02/prod/'), Buffer.from([0x80, 0x80])])],
  ['space', Buffer.from('/promotion/flux system/podinfo-02/dev')],
  ['tab', Buffer.from('/promotion/flux\tsystem/podinfo-02/dev')],
  ['cr', Buffer.from('/promotion/flux\rsystem/podinfo-02/dev')],
  ['absolute-uri', Buffer.from('http://evil.example/promotion/flux-system/podinfo-02/dev')],
  ['asterisk', Buffer.from('*')],
  ['empty-ish', Buffer.from('?')],
];

const ENCODED_BAD_PATHS: [string, string][] = [
  ['traversal', '/promotion/flux-system/podinfo-02/../../healthz'],
  ['traversal-encoded', '/promotion/flux-system/%2e%2e/%2e%2e/dev'],
  ['traversal-mixed', '/promotion/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd/podinfo-02/dev'],
  ['encoded-slash', '/promotion/flux-system%2Fpodinfo-02/podinfo-02/dev'],
  ['encoded-backslash', '/promotion/flux-system%5C..%5C/podinfo-02/dev'],
  ['percent-nul', '/promotion/flux-system/podinfo-02%00/dev'],
  ['percent-invalid-utf8', '/promotion/flux-system/%ff%fe/dev'],
  ['percent-overlong', '/promotion/%c0%ae%c0%ae/podinfo-02/dev'],
  ['percent-truncated', '/promotion/flux-system/podinfo-02/dev%'],
  ['percent-bad-hex', '/promotion/flux-system/podinfo-02/%zz'],
  ['double-slash', '//promotion//flux-system//podinfo-02//dev'],
  ['trailing-slash', '/promotion/flux-system/podinfo-02/dev/'],
  ['extra-segment', '/promotion/flux-system/podinfo-02/dev/extra'],
  ['missing-segment', '/promotion/flux-system/podinfo-02'],
  ['long-segment', `/promotion/flux-system/${'p'.repeat(4000)}/dev`],
  ['many-segments', `/promotion/${'a/'.repeat(2000)}dev`],
  ['unknown-pipeline', '/promotion/flux-system/nope/dev'],
  ['unknown-environment', '/promotion/flux-system/podinfo-02/%F0%9F%9A%80'],
  ['query-pollution', '/promotion/flux-system/podinfo-02/dev?__proto__[polluted]=1&constructor.prototype.x=1'],
  ['fragment', '/promotion/flux-system/podinfo-02/dev#frag'],
  ['approval-traversal', '/approval/flux-system/podinfo-02/prod/..%2F..%2F..%2Fetc'],
  ['approval-long-revision', `/approval/flux-system/podinfo-02/prod/${'9'.repeat(3000)}`],
  ['rejection-nul', '/rejection/flux-system/podinfo-02/prod/6.7.1%00'],
  ['health-traversal', '/healthz/../metrics'],
  ['metrics-query', '/metrics?name[]=%ff&__proto__=x'],
  ['dotenv', '/.env'],
  ['root', '/'],
];

const METHODS = ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'SEARCH', 'FOO', 'get', 'POST '];
const CONTENT_TYPES: [string, boolean][] = [
  ['text/plain', false],
  ['application/x-www-form-urlencoded', false],
  ['multipart/form-data; boundary=x', false],
  ['application/jsonx', false],
  ['application/json-patch+json', false],
  ['application/xml', false],
  ['application/json; charset=utf-16', true],
  ['APPLICATION/JSON', true],
  ['application/json, text/plain', false],
  [`application/json; ${'x'.repeat(4000)}=1`, true],
  ['', false],
];
const ROUTES = [
  `${PIPELINE}/dev`,
  '/approval/flux-system/podinfo-02/prod/6.7.1',
  '/rejection/flux-system/podinfo-02/prod/6.7.1',
  '/stop',
  '/resume',
  '/mark-bad',
  '/unmark-bad',
  '/promote',
  '/healthz',
  '/readyz',
  '/metrics',
];
const CONTROL_ROUTES = ['/stop', '/resume', '/mark-bad', '/unmark-bad', '/promote'];

/** Bodies a control route must refuse even from a caller with a valid token. */
function invalidControlBody(p: Pick): { body: Buffer; contentType: string; family: string } {
  const cases: [string, () => string][] = [
    ['malformed', () => p.one(MALFORMED_JSON)],
    ['proto-key', () => '{"__proto__":{"isAdmin":true},"reason":"x","pipeline":"flux-system/podinfo-02","version":"1.0.0"}'],
    ['constructor-key', () => '{"constructor":{"prototype":{"isAdmin":true}},"reason":"x"}'],
    ['extra-key', () => '{"reason":"x","scope":{},"admin":true,"pipeline":"flux-system/podinfo-02","version":"1.0.0"}'],
    ['wrong-types', () => '{"reason":42,"scope":"everything","pipeline":["a"],"version":null,"environment":{}}'],
    ['empty-reason', () => '{"reason":"   ","pipeline":"flux-system/podinfo-02","version":"1.0.0","environment":"prod"}'],
    ['bad-pipeline', () => '{"reason":"x","pipeline":"../../etc","version":"1.0.0","environment":"prod"}'],
    ['huge', () => JSON.stringify({ reason: 'r'.repeat(16 * KiB) })],
    ['deep', () => `{"reason":"x","scope":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`],
  ];
  const [name, make] = p.one(cases);
  return { body: Buffer.from(make()), contentType: p.random() < 0.9 ? 'application/json' : 'text/plain', family: `control-body/${name}` };
}

const BAD_BEARERS: [string, string][] = [
  ['none', ''],
  ['garbage', 'Bearer garbage'],
  ['empty', 'Bearer '],
  ['basic', 'Basic YWxpY2U6c2VjcmV0'],
  [
    'alg-none',
    `Bearer ${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"email":"admin@example.com","aud":"https://baton.example/approvals"}').toString('base64url')}.`,
  ],
  ['huge', `Bearer ${'a'.repeat(8 * KiB)}`],
  ['two-tokens', 'Bearer a.b.c Bearer d.e.f'],
  ['hs256-forged', `Bearer ${jwtHs256()}`],
];

function jwtHs256(): string {
  const head = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');
  const payload = Buffer.from('{"email":"mallory@example.com","aud":"https://baton.example/approvals","exp":9999999999}').toString(
    'base64url',
  );
  return `${head}.${payload}.${createHmac('sha256', 'guess').update(`${head}.${payload}`).digest('base64url')}`;
}

/** Approval bodies that are not `{approver, comment?, allowDowngrade?}`. */
const BAD_APPROVAL_BODIES = [
  '{}',
  '{"approver":""}',
  '{"approver":"   "}',
  `{"approver":"${'a'.repeat(300)}"}`,
  '{"approver":"a","comment":42}',
  '{"approver":"a","admin":true}',
  '{"__proto__":{"approver":"admin"}}',
  '{"approver":"a","constructor":{"prototype":{"x":1}}}',
  `{"approver":"a","comment":"${'c'.repeat(70 * KiB)}"}`,
  '[',
];

/** One hostile request; `index` makes the versions of accepted events unique within the run. */
function hostileRequest(p: Pick, context: HostileContext, index: number): HostileRequest {
  const family = p.random();
  // Malformed JSON, signed (so it reaches the parser) or not.
  if (family < 0.08) {
    const body = Buffer.from(p.one(MALFORMED_JSON));
    const sign = p.random() < 0.7;
    return promotion(
      p.one(['dev', 'test', 'prod']),
      body,
      sign ? [['x-signature', signed(body, context.hmacKey)]] : [],
      sign ? 'valid' : 'none',
      `json/malformed${sign ? '-signed' : ''}`,
      true,
    );
  }
  if (family < 0.1) {
    const body = Buffer.alloc(OVER_EVENT_LIMIT + p.int(MiB), '{');
    return promotion('dev', body, [['x-signature', signed(body, context.hmacKey)]], 'valid', 'json/oversized', true);
  }
  if (family < 0.14) {
    const body = Buffer.from(deeplyNested(1000 + p.int(100_000), p.random() < 0.5));
    const sign = p.random() < 0.8;
    return promotion(
      'dev',
      body,
      sign ? [['x-signature', signed(body, context.hmacKey)]] : [],
      sign ? 'valid' : 'none',
      `json/deep-nesting${sign ? '-signed' : ''}`,
    );
  }
  if (family < 0.22) {
    const body = Buffer.from(JSON.stringify(pollutedEvent(p, `7.${context.runTag}.${index}`)));
    const sign = p.random() < 0.5;
    return promotion(
      'dev',
      body,
      sign ? [['x-signature', signed(body, context.hmacKey)]] : [['x-signature', signed(body, 'not-the-key')]],
      sign ? 'valid' : 'forged',
      `json/prototype-pollution${sign ? '-signed' : '-forged'}`,
    );
  }
  if (family < 0.34) {
    const { body, family: name, mustRefuse } = extremeEvent(p, context, index);
    return promotion('dev', body, [['x-signature', signed(body, context.hmacKey)]], 'valid', name, mustRefuse === true);
  }
  if (family < 0.48) {
    // Every signature variant over an event that would start a release if believed.
    const body = promotableEvent(context, `8.${context.runTag}.${index}`);
    const variant = signatureVariant(p, body, context.hmacKey);
    return promotion('dev', body, variant.headers, variant.credential, variant.family);
  }
  if (family < 0.56) {
    const [name, target] = p.one(ENCODED_BAD_PATHS);
    const body = promotableEvent(context, `8.${context.runTag}.${index}`);
    return {
      family: `path/${name}`,
      // The body's signature is right: where the path still routes to the Pipeline, it is accepted.
      credential: 'valid',
      request: { method: 'POST', target, headers: [...JSON_HEADERS, ['x-signature', signed(body, context.hmacKey)]], body },
    };
  }
  if (family < 0.62) {
    const [name, target] = p.one(RAW_BAD_PATHS);
    const body = promotableEvent(context, `8.${context.runTag}.${index}`);
    return {
      family: `raw-path/${name}`,
      credential: 'valid',
      request: { method: 'POST', target, headers: [...JSON_HEADERS, ['x-signature', signed(body, context.hmacKey)]], body },
    };
  }
  if (family < 0.68) {
    const method = p.one(METHODS);
    const target = p.one(ROUTES);
    const body = promotableEvent(context, `8.${context.runTag}.${index}`);
    const withBody = method !== 'HEAD' && method !== 'GET' && p.random() < 0.7;
    return {
      family: `method/${method.trim() || 'blank'}`,
      credential: 'valid',
      request: {
        method,
        target,
        headers: [...JSON_HEADERS, ['x-signature', signed(body, context.hmacKey)], ['authorization', `Bearer ${context.bearerToken}`]],
        ...(withBody ? { body } : {}),
      },
    };
  }
  if (family < 0.74) {
    const [contentType, isJson] = p.one(CONTENT_TYPES);
    const body = Buffer.from(JSON.stringify({ ...fixtureEvent(), metadata: { revision: `6.${context.runTag}.${index}` } }));
    const headers: [string, string][] = contentType === '' ? [] : [['content-type', contentType]];
    return {
      family: `content-type/${contentType.slice(0, 40) || 'missing'}`,
      // A JSON spelling with a valid signature is a valid event; the others must be refused.
      credential: isJson ? 'valid' : 'forged',
      request: { method: 'POST', target: `${PIPELINE}/dev`, headers: [...headers, ['x-signature', signed(body, context.hmacKey)]], body },
    };
  }
  if (family < 0.8) return hostileHeaders(p, context, index);
  if (family < 0.88) {
    // Control routes: no or a bad credential, or a valid token with a body that must be refused.
    const target = p.one(CONTROL_ROUTES);
    if (p.random() < 0.4) {
      const [name, authorization] = p.one(BAD_BEARERS);
      return {
        family: `control-auth/${name}`,
        credential: name === 'none' ? 'none' : 'forged',
        request: {
          method: 'POST',
          target,
          headers: [...JSON_HEADERS, ...(authorization === '' ? [] : ([['authorization', authorization]] as [string, string][]))],
          body: Buffer.from('{"reason":"x","pipeline":"flux-system/podinfo-02","version":"1.0.0","environment":"prod"}'),
        },
      };
    }
    const { body, contentType, family: name } = invalidControlBody(p);
    return {
      family: name,
      credential: 'valid',
      mustRefuse: true,
      request: {
        method: 'POST',
        target,
        headers: [
          ['content-type', contentType],
          ['authorization', `Bearer ${context.bearerToken}`],
        ],
        body,
      },
    };
  }
  if (family < 0.96) return hostileApproval(p, context, index);
  // Probes and metrics with hostile extras.
  const target = p.one(['/healthz', '/readyz', '/metrics', '/healthz?x=%ff', '/readyz?__proto__[a]=1', '/metrics/../healthz']);
  return {
    family: `probe/${target.slice(1, 8)}`,
    credential: 'none',
    request: {
      method: p.one(['GET', 'GET', 'POST', 'HEAD']),
      target,
      headers: [['content-type', 'application/json']],
      body: Buffer.from(p.one(MALFORMED_JSON)),
    },
  };
}

function hostileHeaders(p: Pick, context: HostileContext, index: number): HostileRequest {
  const body = promotableEvent(context, `8.${context.runTag}.${index}`);
  const signature: [string, string] = ['x-signature', signed(body, context.hmacKey)];
  const cases: [string, () => RawRequest][] = [
    [
      'header-over-16KiB',
      () => ({ method: 'POST', target: `${PIPELINE}/dev`, headers: [...JSON_HEADERS, ['x-padding', 'p'.repeat(17 * KiB)]], body }),
    ],
    [
      'many-headers',
      () => ({
        method: 'POST',
        target: `${PIPELINE}/dev`,
        headers: [...JSON_HEADERS, ...Array.from({ length: 500 }, (_, i): [string, string] => [`x-h${i}`, 'v'])],
        body,
      }),
    ],
    [
      'content-length-and-chunked',
      () => ({
        method: 'POST',
        target: `${PIPELINE}/dev`,
        headers: [...JSON_HEADERS, ['transfer-encoding', 'chunked'], ['content-length', String(body.length)]],
        body,
      }),
    ],
    [
      'bad-chunk',
      () => ({
        method: 'POST',
        target: `${PIPELINE}/dev`,
        headers: [...JSON_HEADERS, ['transfer-encoding', 'chunked']],
        body: Buffer.from('zz\r\n{}\r\n0\r\n\r\n'),
      }),
    ],
    [
      'two-content-lengths',
      () => ({
        method: 'POST',
        target: `${PIPELINE}/dev`,
        headers: [...JSON_HEADERS, ['content-length', '2'], ['content-length', '3']],
        body: Buffer.from('{}'),
      }),
    ],
    ['nul-in-header', () => ({ method: 'POST', target: `${PIPELINE}/dev`, headers: [...JSON_HEADERS, ['x-evil', 'a\u0000b']], body })],
    ['invalid-header-name', () => ({ method: 'POST', target: `${PIPELINE}/dev`, headers: [...JSON_HEADERS, ['x evil', 'a']], body })],
    [
      'expect-continue',
      () => ({ method: 'POST', target: `${PIPELINE}/dev`, headers: [...JSON_HEADERS, ['expect', '100-continue']], body }),
    ],
    [
      'x-forwarded-for-spoof',
      () => ({
        method: 'POST',
        target: `${PIPELINE}/dev`,
        headers: [...JSON_HEADERS, ['x-forwarded-for', '10.0.0.1, ::1, garbage']],
        body,
      }),
    ],
    ['gzip-claimed', () => ({ method: 'POST', target: `${PIPELINE}/dev`, headers: [...JSON_HEADERS, ['content-encoding', 'gzip']], body })],
    ['empty-host', () => ({ method: 'POST', target: `${PIPELINE}/dev`, headers: [['host', ''], ...JSON_HEADERS], body })],
  ];
  const [name, make] = p.one(cases);
  const request = make();
  // The signature header goes last, so the hostile part is what the server meets first.
  request.headers.push(signature);
  // The signature is right; what is hostile is the framing, which the server may or may not accept.
  return { family: `headers/${name}`, credential: 'valid', request };
}

function hostileApproval(p: Pick, context: HostileContext, index: number): HostileRequest {
  const kind = p.one(['approval', 'rejection']);
  const revision = p.one(['6.7.1', `9.${context.runTag}.${index}`, '..%2F..', 'x'.repeat(300), '%F0%9F%9A%80', '6.7.1+build', '%00']);
  const path = `/${kind}/flux-system/podinfo-02/${p.one(['prod', 'test', 'nope'])}/${revision}`;
  const variant = p.int(5);
  if (variant === 0) {
    // No credential, or a forged one.
    const forged = p.random() < 0.5;
    const body = Buffer.from('{"approver":"mallory@example.com"}');
    return {
      family: `approval/${forged ? 'forged-signature' : 'unauthenticated'}`,
      credential: forged ? 'forged' : 'none',
      request: {
        method: 'POST',
        target: path,
        headers: [...JSON_HEADERS, ...(forged ? Object.entries(signApproval(path, body, 'not-the-key')) : [])],
        body,
      },
    };
  }
  if (variant === 1) {
    // Signed, but too long ago: replaying a captured approval.
    const body = Buffer.from('{"approver":"alice@example.com"}');
    const headers = signApproval(path, body, context.approvalKey, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    return {
      family: 'approval/stale-timestamp',
      credential: 'forged',
      request: { method: 'POST', target: path, headers: [...JSON_HEADERS, ...Object.entries(headers)], body },
    };
  }
  if (variant === 2) {
    // Signed with the webhook key, which never approves.
    const body = Buffer.from('{"approver":"flux@example.com"}');
    const headers = signApproval(path, body, context.hmacKey);
    return {
      family: 'approval/webhook-key',
      credential: 'forged',
      request: { method: 'POST', target: path, headers: [...JSON_HEADERS, ...Object.entries(headers)], body },
    };
  }
  // Validly signed, hostile body (or a valid one for a release that does not wait).
  const body = Buffer.from(variant === 3 ? p.one(BAD_APPROVAL_BODIES) : '{"approver":"alice@example.com","comment":"\\u0000<b>"}');
  const headers = signApproval(path, body, context.approvalKey);
  return {
    family: variant === 3 ? 'approval/signed-bad-body' : 'approval/signed-nothing-waits',
    credential: 'valid',
    // A bad body, or a release that does not exist or waits for nothing: never a decision.
    mustRefuse: true,
    request: { method: 'POST', target: path, headers: [...JSON_HEADERS, ...Object.entries(headers)], body },
  };
}

/** `count` hostile requests for `seed`. */
export function* hostileRequests(seed: number, count: number, context: HostileContext): Generator<HostileRequest> {
  const p = picker(seededRandom(seed));
  for (let index = 0; index < count; index++) yield hostileRequest(p, context, index);
}
