/**
 * How much a git server may make the worker hold, inflate and wait for. A server (or whoever
 * controls the repository URL) chooses what it sends: without these bounds a few hundred kilobytes
 * of pack inflate to gigabytes, and a server that never answers holds the activity for ever.
 *
 * The defaults leave room for any GitOps repository of manifests, charts and the odd binary, while
 * keeping one worker's memory for a promotion within a few hundred MiB.
 */

export interface GitLimits {
  /**
   * One object as inflated (blob, tree, commit), one delta's instructions, and the size a delta
   * declares for its result. 64 MiB: a YAML manifest is kilobytes, a vendored chart archive a few
   * MiB; GitHub already warns at 50 MiB and refuses files over 100 MiB.
   */
  maxObjectBytes: number;
  /**
   * Every object of the fetched snapshot together, as inflated. Zlib can inflate ~1,000× and a
   * delta can repeat its base's bytes at will, so the compressed size alone bounds nothing. 1 GiB:
   * the 10,000-file repository of the benchmark weighs 4 MiB.
   */
  maxInflatedBytes: number;
  /**
   * Tree entries walked to list the snapshot's files, a subtree counted each time it appears: a
   * tree may name the same subtree twice at every level, so a few KiB of trees could otherwise
   * list billions of paths. 1,000,000: a hundred times the benchmark's 10,000 files.
   */
  maxTreeEntries: number;
  /** One HTTP answer of the git server (the ref advertisement, the pack), held in memory. */
  maxResponseBytes: number;
  /** From the request to the TCP (and TLS) connection being up. */
  connectTimeoutMs: number;
  /** No byte from the server for this long, while waiting for the answer or reading it. */
  idleTimeoutMs: number;
  /** One request from start to the answer's last byte, however steadily the bytes trickle in. */
  requestTimeoutMs: number;
}

/** git's own bound on a pkt-line: 65520 bytes, its 4-byte length included. */
export const MAX_PKT_LINE_BYTES = 65520;

export const DEFAULT_GIT_LIMITS: Readonly<GitLimits> = Object.freeze({
  maxObjectBytes: 64 * 1024 * 1024,
  maxInflatedBytes: 1024 * 1024 * 1024,
  maxTreeEntries: 1_000_000,
  // A shallow pack of a large GitOps repository is tens of MiB; the answer is held twice (body, pack).
  maxResponseBytes: 256 * 1024 * 1024,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  // A backstop: the activity's own timeout usually ends the attempt first, but the request (its
  // socket, its buffers) goes on until something aborts it.
  requestTimeoutMs: 120_000,
});

/** The defaults with some limits replaced (tests use small ones). */
export function gitLimits(overrides: Partial<GitLimits> = {}): GitLimits {
  return { ...DEFAULT_GIT_LIMITS, ...overrides };
}

/** `64 MiB`, `1.5 KiB`, `300 bytes`: limits as failure messages show them. */
export function formatBytes(bytes: number): string {
  const units = ['GiB', 'MiB', 'KiB'] as const;
  for (const [index, unit] of units.entries()) {
    const size = 1024 ** (units.length - index);
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`;
  }
  return `${bytes} bytes`;
}

/** The longest delta chain read: git's pack-objects never writes one deeper (its --depth maximum). */
export const MAX_DELTA_CHAIN = 4095;
