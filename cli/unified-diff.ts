/**
 * A unified diff of two texts (`diff -u` / `git diff` format), for `baton markers --set` to show
 * what it changed. Myers' O(ND) algorithm: a promotion changes a handful of lines, so D is tiny
 * even in a long file.
 */

type Edit = { kind: ' ' | '-' | '+'; line: string; oldIndex: number; newIndex: number };

const CONTEXT_LINES = 3;

/** Lines with their `\n`, so a last line without one differs from the same line with one, as in diff. */
function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

/** The furthest-reaching D-paths, one snapshot per D, as Myers' backtracking needs them. */
function shortestEditTrace(a: readonly string[], b: readonly string[]): Int32Array[] {
  const max = a.length + b.length;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      const down = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!);
      let x = down ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < a.length && y < b.length && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= a.length && y >= b.length) return trace;
    }
  }
  return trace;
}

function editScript(a: readonly string[], b: readonly string[]): Edit[] {
  const trace = shortestEditTrace(a, b);
  const offset = a.length + b.length + 1;
  const edits: Edit[] = [];
  let [x, y] = [a.length, b.length];
  for (let d = trace.length - 1; d >= 0; d--) {
    const v = trace[d]!;
    const k = x - y;
    const down = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!);
    const previousK = down ? k + 1 : k - 1;
    const previousX = v[offset + previousK]!;
    const previousY = previousX - previousK;
    while (x > previousX && y > previousY) {
      x--;
      y--;
      edits.push({ kind: ' ', line: a[x]!, oldIndex: x, newIndex: y });
    }
    if (d === 0) break;
    if (x === previousX) edits.push({ kind: '+', line: b[--y]!, oldIndex: x, newIndex: y });
    else edits.push({ kind: '-', line: a[--x]!, oldIndex: x, newIndex: y });
  }
  return edits.reverse();
}

/** Runs of edits with at most 2×CONTEXT_LINES unchanged lines between changes. */
function hunks(edits: readonly Edit[]): Edit[][] {
  const changed = edits.flatMap((edit, index) => (edit.kind === ' ' ? [] : [index]));
  const groups: Edit[][] = [];
  let start = -1;
  let end = -1;
  for (const index of changed) {
    if (start >= 0 && index - end > 2 * CONTEXT_LINES) {
      groups.push(edits.slice(Math.max(0, start - CONTEXT_LINES), end + CONTEXT_LINES + 1));
      start = -1;
    }
    if (start < 0) start = index;
    end = index;
  }
  if (start >= 0) groups.push(edits.slice(Math.max(0, start - CONTEXT_LINES), end + CONTEXT_LINES + 1));
  return groups;
}

function hunkHeader(hunk: readonly Edit[]): string {
  const olds = hunk.filter((e) => e.kind !== '+').length;
  const news = hunk.filter((e) => e.kind !== '-').length;
  const first = hunk[0]!;
  // Ranges start at 1; an empty range names the line before it (diff's convention).
  const oldStart = olds === 0 ? first.oldIndex : first.oldIndex + 1;
  const newStart = news === 0 ? first.newIndex : first.newIndex + 1;
  return `@@ -${oldStart},${olds} +${newStart},${news} @@`;
}

function renderLine(edit: Edit): string[] {
  if (edit.line.endsWith('\n')) return [`${edit.kind}${edit.line.slice(0, -1)}`];
  return [`${edit.kind}${edit.line}`, '\\ No newline at end of file'];
}

/** `--- a/<path>`, `+++ b/<path>`, then the hunks; empty when the texts are equal. */
export function unifiedDiff(path: string, before: string, after: string): string {
  if (before === after) return '';
  const out = [`--- a/${path}`, `+++ b/${path}`];
  for (const hunk of hunks(editScript(splitLines(before), splitLines(after)))) {
    out.push(hunkHeader(hunk), ...hunk.flatMap(renderLine));
  }
  return `${out.join('\n')}\n`;
}
