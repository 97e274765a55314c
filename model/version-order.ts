/**
 * Which of two versions is higher: SemVer 2.0 precedence when both are SemVer (a leading `v`
 * allowed, build metadata ignored), otherwise no order at all, and callers fall back to the order
 * releases arrived in. Pure and deterministic: workflows import it.
 */

/** A SemVer version: `major.minor.patch`, pre-release fields, build metadata (ignored). No leading zeros. */
const SEMVER =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

interface Parsed {
  core: [string, string, string];
  preRelease: string[];
}

function parse(version: string): Parsed | undefined {
  const match = SEMVER.exec(version);
  if (match === null) return undefined;
  return { core: [match[1]!, match[2]!, match[3]!], preRelease: match[4] === undefined ? [] : match[4].split('.') };
}

/** Whether `version` is SemVer, so that it has an order among other SemVer versions. */
export function isOrdered(version: string): boolean {
  return parse(version) !== undefined;
}

const NUMERIC = /^\d+$/;

/** Digits without leading zeros, of any length (no Number overflow): longer is larger, then lexical. */
function compareNumbers(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareIdentifiers(a: string, b: string): number {
  const aNumeric = NUMERIC.test(a);
  const bNumeric = NUMERIC.test(b);
  if (aNumeric && bNumeric) return compareNumbers(a, b);
  // Numeric identifiers have lower precedence than alphanumeric ones; alphanumeric compare in ASCII order.
  if (aNumeric !== bNumeric) return aNumeric ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Negative when `a` is lower than `b`, positive when higher, 0 when they have the same precedence
 * (`1.0.0+a` and `v1.0.0+b` do), undefined when either is not SemVer (e.g. `main@sha1:abc123`).
 */
export function compareVersions(a: string, b: string): -1 | 0 | 1 | undefined {
  const x = parse(a);
  const y = parse(b);
  if (x === undefined || y === undefined) return undefined;
  for (let i = 0; i < 3; i += 1) {
    const c = compareNumbers(x.core[i]!, y.core[i]!);
    if (c !== 0) return c < 0 ? -1 : 1;
  }
  // A pre-release is lower than its release: 1.0.0-alpha < 1.0.0.
  if (x.preRelease.length === 0 || y.preRelease.length === 0) {
    if (x.preRelease.length === y.preRelease.length) return 0;
    return x.preRelease.length === 0 ? 1 : -1;
  }
  const shared = Math.min(x.preRelease.length, y.preRelease.length);
  for (let i = 0; i < shared; i += 1) {
    const c = compareIdentifiers(x.preRelease[i]!, y.preRelease[i]!);
    if (c !== 0) return c < 0 ? -1 : 1;
  }
  // All shared fields equal: the shorter set is lower (1.0.0-alpha < 1.0.0-alpha.1).
  if (x.preRelease.length === y.preRelease.length) return 0;
  return x.preRelease.length < y.preRelease.length ? -1 : 1;
}

/** Whether `a` is a higher version than `b`; undefined when they have no order (not both SemVer). */
export function isHigher(a: string, b: string): boolean | undefined {
  const c = compareVersions(a, b);
  return c === undefined ? undefined : c > 0;
}
