/**
 * Rate limits that unauthenticated traffic cannot turn against Flux. Two kinds of bucket:
 * - per client (`rateLimitKey(request.ip)`): requests that are not authenticated, i.e. 404s, 405s,
 *   malformed URLs, and webhook requests refused before or by authentication (401, 413, 415, unknown
 *   Pipeline). Behind an ingress whose address is not trusted, every client shares this bucket;
 * - per Pipeline: requests whose signature was verified. Only holders of the Pipeline's key draw
 *   from it, so an anonymous flood never makes a signed delivery 429.
 */
import type { FastifyRequest } from 'fastify';
import { type Pipeline, pipelineKey } from '../model/pipeline.js';
import { rateLimitKey } from './client-ip.js';
import { HttpError } from './errors.js';

/** Authenticated deliveries of one Pipeline may come in bursts (several targets, several environments). */
export const PIPELINE_ALLOWANCE_FACTOR = 5;

/**
 * Fixed-window counters, bounded in memory: when full, windows that ended go first, then the oldest.
 * Baton's own rather than @fastify/rate-limit's: a request is counted where authentication is
 * decided (the error handler, fastify's frameworkErrors, which run outside any route's hooks), and
 * a bucket must be peeked without counting; the plugin's `createRateLimit` check always counts.
 */
export class RateBuckets {
  /** key → hits in the window and when the window ends (ms since the epoch). Map order = insertion order. */
  private readonly windows = new Map<string, { hits: number; resetAt: number }>();

  constructor(
    readonly max: number,
    readonly windowMs: number,
    private readonly maxKeys = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one hit for `key`; the seconds until the window ends when the allowance is used up. */
  take(key: string): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    const window = this.current(key);
    window.hits += 1;
    return window.hits <= this.max ? { allowed: true } : { allowed: false, retryAfterSeconds: this.retryAfter(window.resetAt) };
  }

  /** Whether `key` has used up its allowance, without counting a hit. */
  exhausted(key: string): boolean {
    const window = this.windows.get(key);
    return window !== undefined && window.resetAt > this.now() && window.hits >= this.max;
  }

  private current(key: string): { hits: number; resetAt: number } {
    const now = this.now();
    const known = this.windows.get(key);
    if (known !== undefined && known.resetAt > now) return known;
    this.windows.delete(key);
    if (this.windows.size >= this.maxKeys) this.evict(now);
    const fresh = { hits: 0, resetAt: now + this.windowMs };
    this.windows.set(key, fresh);
    return fresh;
  }

  private retryAfter(resetAt: number): number {
    return Math.max(1, Math.ceil((resetAt - this.now()) / 1000));
  }

  private evict(now: number): void {
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
    for (const key of this.windows.keys()) {
      if (this.windows.size < this.maxKeys) break;
      this.windows.delete(key);
    }
  }
}

function tooManyRequests(retryAfterSeconds: number): HttpError {
  return new HttpError(429, `rate limit exceeded, retry in ${retryAfterSeconds} seconds`, {
    headers: { 'retry-after': String(retryAfterSeconds) },
  });
}

export interface GatewayRateLimits {
  /** Counts an unauthenticated request of the client; a 429 to answer instead when over its allowance. */
  unauthenticated(request: FastifyRequest): HttpError | undefined;
  /** Whether the client has used up its unauthenticated allowance (counts nothing). */
  clientExhausted(request: FastifyRequest): boolean;
  /** Counts an authenticated request for `pipeline`; throws a 429 when over its allowance. */
  authenticated(request: FastifyRequest, pipeline: Pipeline): void;
}

export function gatewayRateLimits(options: { max: number; windowMs: number; onLimited: () => void }): GatewayRateLimits {
  const clients = new RateBuckets(options.max, options.windowMs);
  const pipelines = new RateBuckets(options.max * PIPELINE_ALLOWANCE_FACTOR, options.windowMs);
  const refuse = (result: ReturnType<RateBuckets['take']>): HttpError | undefined => {
    if (result.allowed) return undefined;
    options.onLimited();
    return tooManyRequests(result.retryAfterSeconds);
  };
  return {
    unauthenticated: (request) => refuse(clients.take(rateLimitKey(request.ip))),
    clientExhausted: (request) => clients.exhausted(rateLimitKey(request.ip)),
    authenticated(request, pipeline) {
      request.rateCounted = true;
      const limited = refuse(pipelines.take(pipelineKey(pipeline)));
      if (limited !== undefined) throw limited;
    },
  };
}
