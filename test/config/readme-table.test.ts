/** The README's configuration table and the configuration schema name the same variables. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { configSchema } from '../../config/config.js';

const README = new URL('../../README.md', import.meta.url);

/** The variables in the first column of the table under `## Configuration` (a cell may name several). */
function tableVariables(markdown: string): string[] {
  const section = /^## Configuration\n([\s\S]*?)(?=^## )/m.exec(markdown)?.[1];
  assert.ok(section !== undefined, 'README.md has a "## Configuration" section');
  const rows = section.split('\n').filter((line) => line.startsWith('|'));
  // Header and separator first; a data row's first cell lists `NAME`s.
  return rows.slice(2).flatMap((row) => {
    const firstCell = row.split('|')[1] ?? '';
    return [...firstCell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1] as string);
  });
}

describe('README configuration table', () => {
  test('lists every variable of the schema once, and nothing else', async () => {
    const listed = tableVariables(await readFile(README, 'utf8'));
    const declared = Object.keys(configSchema.properties);
    const twice = listed.filter((name, index) => listed.indexOf(name) !== index);
    assert.deepEqual(twice, [], 'listed more than once');
    assert.deepEqual(
      declared.filter((name) => !listed.includes(name)),
      [],
      'declared in config/config.ts but missing from the README table',
    );
    assert.deepEqual(
      listed.filter((name) => !declared.includes(name)),
      [],
      'in the README table but not declared in config/config.ts',
    );
  });

  test('the parser reads names from the first column only', () => {
    const markdown = [
      '## Configuration',
      '',
      '| Variable | Default | Meaning |',
      '|---|---|---|',
      '| `A_B`, `C` | `NOT_A_NAME` | see `ALSO_NOT` |',
      '| `D_1` | — | x |',
      '',
      '## Next',
      '| `E` | | |',
    ].join('\n');
    assert.deepEqual(tableVariables(markdown), ['A_B', 'C', 'D_1']);
  });
});
