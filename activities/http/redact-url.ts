/** URLs as they may be quoted in failures, logs and histories: never with the credentials they carry. */

const MAX_QUOTED_URL = 200;

/**
 * `url` without userinfo (`https://user:token@host/…` → `https://***@host/…`), query string or
 * fragment, and at most 200 characters. Text that does not parse as a URL is quoted only as far as
 * its first `@`, so `user:token@host` typed without a scheme cannot leak either.
 */
export function redactUrl(url: string): string {
  let quoted: string;
  try {
    const parsed = new URL(url);
    const userinfo = parsed.username !== '' || parsed.password !== '' ? '***@' : '';
    quoted = `${parsed.protocol}//${userinfo}${parsed.host}${parsed.pathname}`;
  } catch {
    const at = url.lastIndexOf('@');
    quoted = at < 0 ? url : `***@${url.slice(at + 1)}`;
  }

  quoted = quoted.replace(/[\u0000-\u001f\u007f]/g, '?');
  return quoted.length > MAX_QUOTED_URL ? `${quoted.slice(0, MAX_QUOTED_URL)}…` : quoted;
}
