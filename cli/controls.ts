/**
 * Stop-the-line, holds, freezes and bad versions from a terminal, as Updates of the promotion-controls workflow
 * (started on first use, on the release task queue): they are in its history, visible in the
 * Temporal UI, and Temporal's authorization decides who may send them.
 *
 *   baton stop [<ns/name> | --all] [--env <env>] --reason "…"      baton resume [<ns/name> | --all] [--env <env>]
 *   baton hold <ns/name> --env <env> --reason "…"                  baton unhold <ns/name> --env <env>
 *   baton freeze [<ns/name> | --all] [--env <env>] --from <date> --until <date> --reason "…"
 *   baton unfreeze <freeze-id>                                      baton controls [--json]
 *   baton mark-bad <ns/name> <version> --reason "…"                 baton unmark-bad <ns/name> <version>
 *   baton promote <ns/name> --env <env> --version <version> --reason "…"   (a rollback: a start of the version's release)
 */
import { userInfo } from 'node:os';
import { Client } from '@temporalio/client';
import { type Config, ConfigError, loadConfig } from '../config/config.js';
import { ControlRefusedError, createTemporalPromotionControls, type PromotionControls } from '../gateway/promotion-controls.js';
import { createTemporalRollbackStarter, type RollbackAsk } from '../gateway/rollback-starter.js';
import { workflowUrl } from '../model/temporal-ui.js';
import { isTemporalUnavailable } from '../gateway/temporal-calls.js';
import { type ControlScope, controlScope, describeControl, type PromotionControl } from '../model/promotion-controls.js';
import { pipelineKey } from '../model/pipeline.js';
import { ExitCode, parseCommandArgs, parsePipelineRef, UsageError } from './decide.js';
import type { CommandIo } from './markers.js';
import { connectToTemporal } from './temporal-client.js';

export const CONTROL_COMMANDS = [
  'stop',
  'resume',
  'hold',
  'unhold',
  'freeze',
  'unfreeze',
  'mark-bad',
  'unmark-bad',
  'controls',
  'promote',
] as const;
export type ControlCommand = (typeof CONTROL_COMMANDS)[number];

export const CONTROLS_USAGE = `usage:
  baton stop [<namespace>/<pipeline> | --all] [--env <environment>] --reason "…" [--by <you>]
  baton resume [<namespace>/<pipeline> | --all] [--env <environment>] [--by <you>]
  baton hold <namespace>/<pipeline> --env <environment> --reason "…" [--by <you>]
  baton unhold <namespace>/<pipeline> --env <environment> [--by <you>]
  baton freeze [<namespace>/<pipeline> | --all] [--env <environment>] --from <date-time> --until <date-time> --reason "…" [--by <you>]
  baton unfreeze <freeze-id> [--by <you>]
  baton mark-bad <namespace>/<pipeline> <version> --reason "…" [--by <you>]
  baton unmark-bad <namespace>/<pipeline> <version> [--by <you>]
  baton controls [--json]
  baton promote <namespace>/<pipeline> --env <environment> --version <version> --reason "…" [--by <you>]

stop holds every promotion in its scope that has not started — waiting releases and new ones —
until resume lifts it: resume lifts the stops of exactly the scope given (baton stop --all, then
baton resume --all; --env narrows either to one environment).
hold and unhold are stop and resume for one environment of one Pipeline. freeze holds promotions
between two ISO 8601 date-times (2026-12-24T00:00:00+01:00); releases resume by themselves when it
ends. Promotion steps already running finish. Who, when and why is shown on every release held.
mark-bad ends the running release of the version (an open gate closes; it says who and why) and
keeps the version from being promoted again: later Flux events for it are ignored. The mark stays
until unmark-bad lifts it, however long ago its release ended.
promote asks for one version in one environment, usually an older one to roll back to: it runs
that environment's strategy (with pull requests, the PR that puts the markers back) through its
gates, windows and stops, recorded as a rollback, and ends once Flux reports the version there.

--by defaults to BATON_USER, else your login name. Connects to Temporal like the worker
(TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, BATON_TASK_QUEUE).

exit codes: 0 done; 1 refused by Temporal (the reason is printed); 2 usage error;
3 Temporal unreachable or temporarily unavailable, retry later.
`;

type Request =
  | { command: 'stop'; scope: ControlScope; reason: string; by: string }
  | { command: 'resume'; scope: ControlScope; by: string }
  | { command: 'freeze'; scope: ControlScope; reason: string; by: string; from: string; until: string }
  | { command: 'unfreeze'; id: string; by: string }
  | { command: 'mark-bad'; pipeline: string; version: string; reason: string; by: string }
  | { command: 'unmark-bad'; pipeline: string; version: string; by: string }
  | { command: 'controls'; json: boolean }
  | ({ command: 'promote' } & RollbackAsk);

function parse(command: ControlCommand, args: readonly string[], env: NodeJS.ProcessEnv): Request | 'help' {
  const { values, positionals } = parseCommandArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      all: { type: 'boolean', default: false },
      env: { type: 'string' },
      reason: { type: 'string' },
      by: { type: 'string' },
      from: { type: 'string' },
      until: { type: 'string' },
      version: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const by = values.by ?? env.BATON_USER ?? userInfo().username;
  if (command === 'controls') {
    if (positionals.length > 0) throw new UsageError(`controls takes no arguments, not ${positionals.join(' ')}`);
    return { command, json: values.json };
  }
  if (command === 'promote') {
    const ref = positionals.length === 1 ? parsePipelineRef(positionals[0]!) : undefined;
    if (ref === undefined) throw new UsageError('promote takes one <namespace>/<pipeline>');
    if (values.env === undefined || values.version === undefined) throw new UsageError('promote needs --env and --version');
    if (values.reason === undefined || values.reason.trim() === '') throw new UsageError('--reason is required: the release records it');
    return { command, pipeline: ref, environment: values.env, version: values.version, reason: values.reason, by };
  }
  if (command === 'unfreeze') {
    if (positionals.length !== 1) throw new UsageError('unfreeze takes the freeze id (baton controls lists them)');
    return { command, id: positionals[0]!, by };
  }
  if (command === 'mark-bad' || command === 'unmark-bad') {
    if (positionals.length !== 2) throw new UsageError(`${command} takes <namespace>/<pipeline> and the version`);
    const ref = parsePipelineRef(positionals[0]!);
    if (ref === undefined) throw new UsageError(`expected <namespace>/<pipeline>, not ${positionals[0]}`);
    if (values.all || values.env !== undefined) throw new UsageError(`${command} marks one version of one Pipeline: no --all or --env`);
    const marked = { pipeline: pipelineKey(ref), version: positionals[1]!, by };
    if (command === 'unmark-bad') return { command, ...marked };
    if (values.reason === undefined || values.reason.trim() === '') throw new UsageError('--reason is required: the release ends with it');
    return { command, ...marked, reason: values.reason };
  }
  if (positionals.length > 1) throw new UsageError(`unexpected ${positionals.slice(1).join(' ')}`);
  const pipeline = positionals[0] === undefined ? undefined : parsePipelineRef(positionals[0]);
  if (positionals[0] !== undefined && pipeline === undefined)
    throw new UsageError(`expected <namespace>/<pipeline>, not ${positionals[0]}`);
  if (values.env === '') throw new UsageError('--env is empty');
  if (values.all && pipeline !== undefined) throw new UsageError('--all and a Pipeline exclude each other');
  if (command === 'hold' || command === 'unhold') {
    if (pipeline === undefined || values.env === undefined) throw new UsageError(`${command} takes <namespace>/<pipeline> and --env`);
  } else if (pipeline === undefined && !values.all) {
    throw new UsageError('name the Pipeline, or say --all for every Pipeline');
  }
  const scope = controlScope(pipeline, values.env);
  if (command === 'resume' || command === 'unhold') return { command: 'resume', scope, by };
  if (values.reason === undefined || values.reason.trim() === '') throw new UsageError('--reason is required: everyone held sees it');
  if (command === 'freeze') {
    if (values.from === undefined || values.until === undefined) throw new UsageError('freeze needs --from and --until');
    return { command, scope, reason: values.reason, by, from: values.from, until: values.until };
  }
  return { command: 'stop', scope, reason: values.reason, by };
}

function table(controls: readonly PromotionControl[]): string {
  if (controls.length === 0) return 'no stop, freeze or mark: promotions run when due\n';
  return controls.map((c) => `${c.id.padEnd(10)} ${describeControl(c)}${c.kind === 'freeze' ? ` (from ${c.from})` : ''}\n`).join('');
}

async function send(
  controls: PromotionControls,
  request: Exclude<Request, { command: 'controls' | 'promote' }>,
): Promise<PromotionControl[]> {
  switch (request.command) {
    case 'stop':
      return [await controls.stop(request)];
    case 'freeze':
      return [await controls.freeze(request)];
    case 'resume':
      return controls.resume(request);
    case 'unfreeze':
      return [await controls.unfreeze(request)];
    case 'mark-bad':
      return [(await controls.markBad(request)).mark];
    case 'unmark-bad':
      return [await controls.unmarkBad(request)];
  }
}

export async function runControlsCommand(
  command: ControlCommand,
  args: readonly string[],
  io: CommandIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let request: Request | 'help';
  let config: Config;
  try {
    request = parse(command, args, env);
    config = loadConfig(env);
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof ConfigError)) throw error;
    io.stderr(`error: ${error.message}\n\n${error instanceof UsageError ? CONTROLS_USAGE : ''}`);
    return ExitCode.usage;
  }
  if (request === 'help') {
    io.stdout(CONTROLS_USAGE);
    return ExitCode.ok;
  }
  const { temporal } = config;
  const connection = await connectToTemporal(temporal, io);
  if (connection === undefined) return ExitCode.unavailable;
  try {
    const client = new Client({ connection, namespace: temporal.namespace });
    const controls = createTemporalPromotionControls(client, { taskQueue: temporal.taskQueue });
    if (request.command === 'controls') {
      const listed = await controls.list();
      io.stdout(request.json ? `${JSON.stringify(listed, null, 2)}\n` : table(listed));
      return ExitCode.ok;
    }
    if (request.command === 'promote') {
      const rollbacks = createTemporalRollbackStarter(client, { taskQueue: temporal.taskQueue, policy: config.releasePolicy, controls });
      const { workflowId } = await rollbacks.start(request);
      io.stdout(
        `rolling back ${pipelineKey(request.pipeline)} to ${request.version} in ${request.environment}: ${workflowId}\n` +
          `${workflowUrl(temporal, workflowId)}\n`,
      );
      return ExitCode.ok;
    }
    if (request.command === 'mark-bad') {
      const { mark, endedRelease } = await controls.markBad(request);
      io.stdout(`set ${table([mark])}${endedRelease === undefined ? 'no release of it runs' : `ending ${endedRelease}`}\n`);
      return ExitCode.ok;
    }
    const done = await send(controls, request);
    io.stdout(
      request.command === 'resume'
        ? `resumed: lifted ${done.map((c) => c.id).join(', ')}\n`
        : `${request.command === 'unfreeze' || request.command === 'unmark-bad' ? 'lifted' : 'set'} ${table(done)}`,
    );
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof ControlRefusedError) {
      io.stderr(`refused: ${error.message}\n`);
      return ExitCode.refused;
    }
    io.stderr(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return isTemporalUnavailable(error) ? ExitCode.unavailable : ExitCode.refused;
  } finally {
    await connection.close();
  }
}
