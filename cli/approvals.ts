/**
 * `baton approvals list [--pipeline <ns>/<name>] [--env <environment>] [--json]`: the manual gates
 * waiting for a decision, across Pipelines. Read from Temporal visibility (running release
 * workflows whose `PromotionState` is `AwaitingApproval`, the attribute the workflow sets at a gate),
 * then each release's `state` query for when the gate opened and who may decide. Connects as the
 * worker and the gateway do (config/: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS, API key).
 */
import { Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { ConfigError, loadConfig, type TemporalConfig } from '../config/config.js';
import { RELEASE_WORKFLOW_TYPE } from '../gateway/release-starter.js';
import { isTemporalUnavailable } from '../gateway/temporal-calls.js';
import { stateQuery } from '../model/messages.js';
import { ReleasePhase, type ReleaseState } from '../model/release.js';
import { PromotionPipeline, PromotionState, PromotionTargetEnvironment, PromotionVersion } from '../model/search-attributes.js';
import { ExitCode, parseCommandArgs, parsePipelineRef, UsageError } from './decide.js';
import type { CommandIo } from './markers.js';
import { connectToTemporal, TEMPORAL_TIMEOUT_MS } from './temporal-client.js';

export const APPROVALS_USAGE = `usage: baton approvals list [--pipeline <namespace>/<pipeline>] [--env <environment>] [--json]

Lists the releases waiting at a manual gate: pipeline, version, environment, since when, approvals
received/required and who may decide (the Pipeline's promotion.baton.dev/approvers[.<env>]; "anyone"
when unset). Decide with baton approve|reject.

Connects to Temporal like the worker and the gateway: TEMPORAL_ADDRESS (default localhost:7233),
TEMPORAL_NAMESPACE (default default), TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_CERT/KEY/CA,
TEMPORAL_TLS_SERVER_NAME.

exit codes:
  0  listed (possibly nothing)
  1  Temporal refused the request (e.g. the search attributes are not registered)
  2  usage error or invalid configuration
  3  Temporal unreachable or temporarily unavailable: retry later
`;

const QUERY_CONCURRENCY = 8;

export interface WaitingGate {
  pipeline: string;
  version: string;
  environment: string;
  /** When the gate opened (ISO 8601); null when the release could not be queried. */
  since: string | null;
  /** Approvals received so far and how many the gate's policy requires. */
  approvals: { received: number; required: number };
  /** Who may decide (users and `group:<name>`); null = anyone who can reach a channel. */
  approvers: string[] | null;
  /** The channels a decision may come through; null = all. */
  channels: string[] | null;
  expiresAt: string | null;
  workflowId: string;
  runId: string;
}

interface ListOptions {
  pipeline?: string;
  environment?: string;
  json: boolean;
}

/** Visibility query values are quoted; refusing quotes and backslashes keeps them values. */
function literal(value: string, what: string): string {
  if (/['"\\\n]/.test(value)) throw new UsageError(`${what} cannot contain quotes or backslashes`);
  return `'${value}'`;
}

export function waitingGatesQuery(options: { pipeline?: string; environment?: string }): string {
  return [
    `WorkflowType = ${literal(RELEASE_WORKFLOW_TYPE, 'the workflow type')}`,
    `ExecutionStatus = 'Running'`,
    `${PromotionState.name} = ${literal(ReleasePhase.awaitingApproval, 'the state')}`,
    ...(options.pipeline === undefined ? [] : [`${PromotionPipeline.name} = ${literal(options.pipeline, '--pipeline')}`]),
    ...(options.environment === undefined ? [] : [`${PromotionTargetEnvironment.name} = ${literal(options.environment, '--env')}`]),
  ].join(' AND ');
}

function parseListArgs(args: readonly string[]): ListOptions | 'help' {
  const { values, positionals } = parseCommandArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      pipeline: { type: 'string' },
      env: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (positionals.length !== 1 || positionals[0] !== 'list') {
    throw new UsageError(positionals.length === 0 ? 'expected a subcommand: list' : `unknown subcommand ${positionals.join(' ')}`);
  }
  if (values.pipeline !== undefined && parsePipelineRef(values.pipeline) === undefined) {
    throw new UsageError(`--pipeline expects <namespace>/<pipeline>, not ${values.pipeline}`);
  }
  if (values.env !== undefined && values.env === '') throw new UsageError('--env is empty');
  return {
    json: values.json,
    ...(values.pipeline === undefined ? {} : { pipeline: values.pipeline }),
    ...(values.env === undefined ? {} : { environment: values.env }),
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise.catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

async function describeGate(client: Client, execution: WorkflowExecutionInfo): Promise<WaitingGate> {
  const attributes = execution.typedSearchAttributes;
  // The query needs a worker; without one (or on an old release) the search attributes still say
  // which gate waits, only not since when nor for whom.
  const state: ReleaseState | undefined = await withTimeout(
    client.workflow.getHandle(execution.workflowId, execution.runId).query(stateQuery),
    TEMPORAL_TIMEOUT_MS,
  );
  const gate = state?.phase === ReleasePhase.awaitingApproval ? state.pendingGate : undefined;
  const pipeline = state === undefined ? (attributes.get(PromotionPipeline) ?? '') : `${state.pipeline.namespace}/${state.pipeline.name}`;
  return {
    pipeline,
    version: state?.version ?? attributes.get(PromotionVersion) ?? '',
    environment: gate?.environment ?? attributes.get(PromotionTargetEnvironment) ?? '',
    since: gate?.since ?? null,
    approvals: { received: gate?.approvals?.length ?? 0, required: gate?.requiredApprovals ?? 1 },
    approvers: gate?.approvers ?? null,
    channels: gate?.channels ?? null,
    expiresAt: gate?.expiresAt ?? null,
    workflowId: execution.workflowId,
    runId: execution.runId,
  };
}

export async function listWaitingGates(client: Client, options: { pipeline?: string; environment?: string }): Promise<WaitingGate[]> {
  const executions: WorkflowExecutionInfo[] = [];
  for await (const execution of client.workflow.list({ query: waitingGatesQuery(options) })) executions.push(execution);
  // A few queries at a time: each is a workflow task on the worker, which also runs the releases.
  const gates: WaitingGate[] = [];
  for (let start = 0; start < executions.length; start += QUERY_CONCURRENCY) {
    const batch = executions.slice(start, start + QUERY_CONCURRENCY);
    gates.push(...(await Promise.all(batch.map((execution) => describeGate(client, execution)))));
  }
  return gates.sort(
    (a, b) =>
      a.pipeline.localeCompare(b.pipeline) || a.environment.localeCompare(b.environment) || (a.since ?? '').localeCompare(b.since ?? ''),
  );
}

function table(gates: readonly WaitingGate[]): string {
  const header = ['PIPELINE', 'VERSION', 'ENVIRONMENT', 'SINCE', 'APPROVALS', 'APPROVERS', 'CHANNELS'];
  const rows = gates.map((gate) => [
    gate.pipeline,
    gate.version,
    gate.environment,
    gate.since ?? '?',
    `${gate.approvals.received}/${gate.approvals.required}`,
    gate.approvers === null ? 'anyone' : gate.approvers.join(','),
    gate.channels === null ? 'any' : gate.channels.join(','),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows]
    .map(
      (row) =>
        row
          .map((cell, column) => cell.padEnd(widths[column]!))
          .join('  ')
          .trimEnd() + '\n',
    )
    .join('');
}

function temporalProblem(error: unknown): { code: number; message: string } {
  const message = error instanceof Error ? error.message : String(error);
  return { code: isTemporalUnavailable(error) ? ExitCode.unavailable : ExitCode.refused, message };
}

export async function runApprovalsCommand(args: readonly string[], io: CommandIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let options: ListOptions | 'help';
  let temporal: TemporalConfig;
  try {
    options = parseListArgs(args);
    if (options !== 'help') waitingGatesQuery(options);
    temporal = loadConfig(env).temporal;
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`error: ${error.message}\n`);
      return ExitCode.usage;
    }
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`error: ${error.message}\n\n${APPROVALS_USAGE}`);
    return ExitCode.usage;
  }
  if (options === 'help') {
    io.stdout(APPROVALS_USAGE);
    return ExitCode.ok;
  }

  const connection = await connectToTemporal(temporal, io);
  if (connection === undefined) return ExitCode.unavailable;
  try {
    const client = new Client({ connection, namespace: temporal.namespace });
    let gates: WaitingGate[];
    try {
      gates = await listWaitingGates(client, options);
    } catch (error) {
      const problem = temporalProblem(error);
      io.stderr(`error: listing the waiting releases in namespace ${temporal.namespace} failed: ${problem.message}\n`);
      return problem.code;
    }
    if (options.json) io.stdout(`${JSON.stringify(gates, null, 2)}\n`);
    else if (gates.length === 0) io.stdout('no release is waiting for approval\n');
    else io.stdout(table(gates));
    return ExitCode.ok;
  } finally {
    await connection.close();
  }
}
