/**
 * `baton markers <dir> --ref <ns>:<name>:<env> [--set <version>]`: lists (or sets) the `$promotion`
 * markers a promotion would change, with the pull-request activity's marker code, so users can
 * preview their GitOps repository in CI. Exit 0: markers found (and written); 1: none, or a marked
 * file is invalid (nothing written); 2: usage error.
 */
import { type Dirent, readFileSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { findMarkers, type MarkedFile, MarkerFileError, patchMarkers, type PatchedFile } from '../activities/git/markers.js';
import { unifiedDiff } from './unified-diff.js';

export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const MARKERS_USAGE = `usage: baton markers <dir> --ref <namespace>:<pipeline>:<environment> [--set <version>]

Lists every value marked # {"$promotion": "<namespace>:<pipeline>:<environment>"} in the *.yaml and
*.yml files under <dir> (file:line:column and current value); exits 1 when there is none.
With --set, rewrites those values in place (only their bytes change) and prints the diff.
`;

const REFERENCE = /^[^:\s]+:[^:\s]+:[^:\s]+$/;
const YAML_FILE = /\.ya?ml$/i;

interface MarkersOptions {
  dir: string;
  reference: string;
  version?: string;
}

class UsageError extends Error {}

function parseMarkersArgs(args: readonly string[]): MarkersOptions {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { ref: { type: 'string' }, set: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) throw new UsageError('');
  if (positionals.length !== 1) throw new UsageError('expected exactly one directory');
  if (values.ref === undefined || !REFERENCE.test(values.ref))
    throw new UsageError('--ref <namespace>:<pipeline>:<environment> is required');
  if (values.set !== undefined && values.set.trim() === '') throw new UsageError('--set needs a version');
  return { dir: positionals[0]!, reference: values.ref, ...(values.set === undefined ? {} : { version: values.set }) };
}

/** YAML files under `dir`, sorted; `.git` and symlinks are skipped (a link could point outside the tree). */
async function yamlFiles(dir: string): Promise<string[]> {
  const entries: Dirent[] = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && YAML_FILE.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((path) => !relative(dir, path).split(/[\\/]/).includes('.git'))
    .sort();
}

interface ScannedFile {
  path: string;
  before: Buffer;
  result: MarkedFile | PatchedFile;
}

async function scan(options: MarkersOptions, io: CommandIo): Promise<{ files: ScannedFile[]; failed: boolean }> {
  const files: ScannedFile[] = [];
  let failed = false;
  for (const absolute of await yamlFiles(options.dir)) {
    const path = relative(options.dir, absolute);
    // Synchronous on purpose: for thousands of small files it is ~25× faster than awaiting each read.
    const before = readFileSync(absolute);
    const input = { path, content: before, reference: options.reference };
    try {
      const result = options.version === undefined ? findMarkers(input) : patchMarkers({ ...input, version: options.version });
      if (result.markers.length > 0 || result.stray.length > 0) files.push({ path, before, result });
    } catch (error) {
      if (!(error instanceof MarkerFileError)) throw error;
      io.stderr(`error: ${error.message}\n`);
      failed = true;
    }
  }
  return { files, failed };
}

function report(file: ScannedFile, version: string | undefined, io: CommandIo): void {
  for (const marker of file.result.markers) {
    const change = version === undefined || marker.currentValue === version ? '' : ` -> ${version}`;
    io.stdout(`${file.path}:${marker.line}:${marker.column}: ${marker.currentValue}${change}\n`);
  }
  for (const stray of file.result.stray) {
    io.stderr(`warning: ${file.path}:${stray.line}:${stray.column}: marker comment follows no value on its line; nothing there changes\n`);
  }
}

async function writeChanges(options: MarkersOptions, files: readonly ScannedFile[], io: CommandIo): Promise<number> {
  let written = 0;
  for (const file of files) {
    if (!('changed' in file.result) || !file.result.changed) continue;
    await writeFile(join(options.dir, file.path), file.result.content);
    io.stdout(unifiedDiff(file.path, file.before.toString('utf8'), file.result.content.toString('utf8')));
    written++;
  }
  return written;
}

/** The message to show for a usage problem (empty for --help), or undefined when `error` is something else. */
function usageProblem(error: unknown): string | undefined {
  if (error instanceof UsageError) return error.message;
  // parseArgs' own errors (unknown option, missing value) carry an ERR_PARSE_ARGS_* code.
  if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) return error.message;
  return undefined;
}

export async function runMarkersCommand(args: readonly string[], io: CommandIo): Promise<number> {
  let options: MarkersOptions;
  try {
    options = parseMarkersArgs(args);
  } catch (error) {
    const problem = usageProblem(error);
    if (problem === undefined) throw error;
    io.stderr(`${problem ? `error: ${problem}\n\n` : ''}${MARKERS_USAGE}`);
    return problem ? 2 : 0;
  }
  const { files, failed } = await scan(options, io);
  for (const file of files) report(file, options.version, io);
  const markers = files.reduce((sum, file) => sum + file.result.markers.length, 0);
  if (failed) {
    io.stderr('nothing written: fix the files above first\n');
    return 1;
  }
  if (markers === 0) {
    io.stderr(`no $promotion marker for ${options.reference} under ${options.dir}\n`);
    return 1;
  }
  const written = options.version === undefined ? 0 : await writeChanges(options, files, io);
  const withMarkers = files.filter((file) => file.result.markers.length > 0).length;
  io.stderr(
    `${markers} marker(s) for ${options.reference} in ${withMarkers} file(s)${options.version === undefined ? '' : `; ${written} file(s) changed`}\n`,
  );
  return 0;
}
