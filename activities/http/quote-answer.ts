/** A remote server's answer as it may be quoted in a failure: short, one line, no markup. */

export const MAX_QUOTED_ANSWER = 200;

/**
 * Tags (and what `<script>`/`<style>` hold) removed, control and bidirectional-override characters
 * replaced, whitespace folded, at most `max` characters. Whoever runs the server chooses this text,
 * and it ends up in workflow histories, logs and the UI.
 */
export function quoteAnswer(text: string, max = MAX_QUOTED_ANSWER): string {
  const plain = text
    .replace(/<(script|style)\b[\s\S]*?(<\/\1\s*>|$)/gi, ' ')
    .replace(/<[^>]*(>|$)/g, ' ')
    .replace(/[<>]/g, ' ')
    .replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return plain.length > max ? `${plain.slice(0, max)}…` : plain;
}
