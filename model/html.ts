/** HTML escaping, one way for whatever Baton reflects into HTML or Markdown (error bodies, PR bodies). */

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&#34;',
  "'": '&#39;',
};

/** The same five characters Go's `template.HTMLEscape` rewrites, with the same entities. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}
