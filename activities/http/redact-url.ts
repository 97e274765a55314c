/** URLs as they may be quoted in failures, logs and histories: never with the credentials they carry. */

const MAX_QUOTED_URL = 200;

/**
 * `url` without userinfo (`https://user:token@host/…` → `https://***@host/…`), query string or
 * fragment, and at most 200 characters. Text that does not parse as a URL is quoted only as far as
 * its first `@`, so `user:token@host` typed without a scheme cannot leak either.
 */
export function redactUrl(url: string): string {
  let quoted: string;
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  // `user:token@host` parses too, as scheme `user:` with the token in its path: only a URL with a
  // host has its userinfo where the parser can find it.
  if (parsed !== undefined && parsed.host !== '') {
    const userinfo = parsed.username !== '' || parsed.password !== '' ? '***@' : '';
    quoted = `${parsed.protocol}//${userinfo}${parsed.host}${parsed.pathname}`;
  } else {
    const at = url.lastIndexOf('@');
    quoted = at < 0 ? url : `***@${url.slice(at + 1)}`;
  }

  quoted = quoted.replace(/[\u0000-\u001f\u007f]/g, '?');
  return quoted.length > MAX_QUOTED_URL ? `${quoted.slice(0, MAX_QUOTED_URL)}…` : quoted;
}
