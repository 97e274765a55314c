/** Outside text made inert in the Markdown GitHub, GitLab and Bitbucket render: no links, images, HTML or mentions. */

const MAX_INLINE_LENGTH = 200;

/** Control, line-separator and bidirectional-override characters: none belongs in one line of a PR body. */

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

function oneLine(text: string, max = MAX_INLINE_LENGTH): string {
  const line = text.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/**
 * HTML's special characters as entities, and every character that can open Markdown inline markup
 * (emphasis, code, links and images, strikethrough, tables, mentions, issue references) behind a
 * backslash, and bare URLs broken. Line-start markup cannot occur: callers put this text after
 * other text on a line.
 */
function escapeText(text: string): string {
  return (
    text
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/[\\`*_[\]!|~@#]/g, (c) => `\\${c}`)
      // GitHub links bare `scheme://` and `www.` text; an escaped character breaks the match.
      .replace(/:(?=\/\/)/g, '\\:')
      .replace(/\b(www)\./gi, '$1\\.')
  );
}

/** One line of outside text: newlines and control characters folded, escaped, bounded. */
export function inline(text: string): string {
  return escapeText(oneLine(text));
}

/**
 * An inline code span holding `value` literally: on one line (a blank line would end the span and
 * let the rest be parsed as Markdown), fenced by more backticks than any run inside it.
 */
export function codeSpan(value: string): string {
  const line = oneLine(value);
  if (line === '') return '` `';
  const longest = Math.max(0, ...[...line.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return longest === 0 ? `${fence}${line}${fence}` : `${fence} ${line} ${fence}`;
}

/** Outside text as a block quote: each line escaped (so no line starts a heading or HTML block), bounded. */
export function blockQuote(text: string, maxLength = 1_000): string {
  const bounded = text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
  return bounded
    .trim()
    .split(/\r\n|[\r\n\u2028\u2029]/)
    .slice(0, 50)
    .map((line) => `> ${escapeText(line.replace(CONTROL, ' ')).replace(/^(\s*)([-+=]|\d+[.)])/, '$1\\$2')}`.trimEnd())
    .join('\n');
}

/** A URL as a Markdown link target: the characters that would end or break it, percent-encoded. */
export function linkTarget(url: string): string {
  return url.replace(/[\s()<>\\[\]`]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}
