/** Shared by the providers' status readers: a provider's nullable fields, kept only when present. */
import type { PullRequestStatus } from '../../model/promotion.js';

type Field = Exclude<keyof PullRequestStatus, 'state'>;

/** `{[key]: value}` for a non-empty string, `{}` for null, undefined or ''. */
export function optional<K extends Field>(key: K, value: string | null | undefined): Partial<Record<K, string>> {
  return typeof value === 'string' && value !== '' ? ({ [key]: value } as Partial<Record<K, string>>) : {};
}

/** Epoch milliseconds (Bitbucket Server's dates) as ISO 8601; undefined for anything else. */
export function isoFromEpochMs(value: unknown): string | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? new Date(value).toISOString() : undefined;
}
