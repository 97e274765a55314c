/**
 * Stop-the-line over 50 waiting releases on the dev server: how long `baton stop --all` takes to hold
 * every release due for a promotion, and `baton resume --all` to let all of them go. The stop is
 * set while each release is on its way (events sent at once), the resume while all of them wait.
 * Prints `{"benchmark":"stop-the-line","releases":50,"heldMs":…,"resumedMs":…}`.
 */
import { runControlsCommand } from '../cli/controls.js';
import { stateQuery } from '../model/messages.js';
import { ReleasePhase } from '../model/release.js';
import { startDevServer } from '../test/infra/temporal.js';
import { PODINFO, type ReleaseHandle, ReleaseHarness } from '../test/workflows/harness.js';

const RELEASES = 50;

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function all(handles: readonly ReleaseHandle[], predicate: (phase: string, promoted: boolean) => boolean): Promise<boolean> {
  const states = await Promise.all(handles.map((handle) => handle.query(stateQuery)));
  return states.every((state) =>
    predicate(
      state.phase,
      state.promotions.some((p) => p.completedAt !== undefined),
    ),
  );
}

export async function runStopTheLineBenchmark(): Promise<void> {
  const env = await startDevServer();
  const harness = await ReleaseHarness.start(env);
  const io = { stdout: () => undefined, stderr: (text: string) => void process.stderr.write(text) };
  const cli = (...args: string[]) =>
    runControlsCommand(args[0] as 'stop', args.slice(1), io, {
      TEMPORAL_ADDRESS: env.address,
      BATON_TASK_QUEUE: harness.taskQueue,
      BATON_USER: 'bench',
    });
  try {
    let started = Date.now();
    if ((await cli('stop', '--all', '--reason', 'benchmark')) !== 0) throw new Error('baton stop failed');
    const handles = await Promise.all(Array.from({ length: RELEASES }, () => harness.startRelease('dev', PODINFO, 'podinfo-02-dev')));
    await until('every release to be held', () =>
      all(
        handles.map((h) => h.handle),
        (phase) => phase === ReleasePhase.blocked,
      ),
    );
    const heldMs = Date.now() - started;
    started = Date.now();
    if ((await cli('resume', '--all')) !== 0) throw new Error('baton resume failed');
    await until('every release to be promoted', () =>
      all(
        handles.map((h) => h.handle),
        (_phase, promoted) => promoted,
      ),
    );
    const resumedMs = Date.now() - started;
    console.log(JSON.stringify({ benchmark: 'stop-the-line', releases: RELEASES, heldMs, resumedMs }));
    // Lower versions end superseded by higher ones once promoted: only the rest still run.
    for (const { handle } of handles) {
      if ((await handle.describe()).status.name === 'RUNNING') await handle.terminate('benchmark done');
    }
  } finally {
    await harness.stop();
    await env.teardown();
  }
}
