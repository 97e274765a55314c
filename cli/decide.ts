/**
 * `baton approve|reject <namespace>/<pipeline> <environment> <version>`: decides a gate through the
 * gateway (gateway-client.ts), with an OpenID token or an approval key. Exit codes are documented in
 * DECIDE_USAGE so scripts can tell a refusal (1) from a mistake in the command (2) and from a gateway
 * or Temporal that is down (3, worth retrying).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { PipelineRef } from '../model/pipeline.js';
import { type Credential, type DecisionKind, displayGateway, sendDecision } from './gateway-client.js';
import type { CommandIo } from './markers.js';

export const ExitCode = { ok: 0, refused: 1, usage: 2, unavailable: 3 } as const;

export const DEFAULT_GATEWAY = 'http://127.0.0.1:8082';

export const decideUsage = (
  command: DecisionKind,
): string => `usage: baton ${command} <namespace>/<pipeline> <environment> <version> [options]

${command === 'approve' ? 'Approves' : 'Rejects'} the release of <version> waiting at <environment>'s manual gate, through the
gateway (POST /${command === 'approve' ? 'approval' : 'rejection'}/…).

options:
  --comment <text>      recorded with the decision
${
  command === 'approve'
    ? `  --allow-downgrade     promote even though a higher version is already in <environment> (a
                        Pipeline that queues versions refuses a plain approval then)
`
    : ''
}  --approver <name>     who decides: required with an approval key; with a token the gateway
                        records the token's user (a different name is refused)
  --gateway <url>       the gateway (default: $BATON_GATEWAY_URL, else ${DEFAULT_GATEWAY})
  --token <jwt>         an OpenID token (visible to other local users in the process list:
                        prefer --token-file or $BATON_APPROVAL_TOKEN)
  --token-file <path>   a file holding the token
  --key-file <path>     a file holding the Pipeline's approval key (a trailing newline is ignored)
  -h, --help            this text

Without --token, --token-file or --key-file: $BATON_APPROVAL_TOKEN, else $BATON_APPROVAL_KEY.
Tokens and keys are never printed.

exit codes:
  0  decided
  1  refused by the gateway (credentials, no such pipeline, no matching gate, already decided…)
  2  usage error (arguments, missing credential, unreadable file)
  3  gateway unreachable or temporarily unavailable (429, 503): retry later
`;

export class UsageError extends Error {}

interface DecideOptions {
  gateway: string;
  pipeline: PipelineRef;
  environment: string;
  version: string;
  approver?: string;
  comment?: string;
  allowDowngrade?: boolean;
  credential: Credential;
}

/** `<namespace>/<name>`, both non-empty; undefined otherwise. */
export function parsePipelineRef(text: string): PipelineRef | undefined {
  const [namespace, name, ...rest] = text.split('/');
  return namespace && name && rest.length === 0 ? { namespace, name } : undefined;
}

async function readSecretFile(path: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the ${what} file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  // `openssl rand -hex 32 > file` and editors end the file with a newline that is not part of it.
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new UsageError(`the ${what} file ${path} is empty`);
  return value;
}

async function credentialFrom(
  values: { token?: string; 'token-file'?: string; 'key-file'?: string },
  env: NodeJS.ProcessEnv,
): Promise<Credential> {
  const given = (['token', 'token-file', 'key-file'] as const).filter((name) => values[name] !== undefined);
  if (given.length > 1) throw new UsageError(`give one credential, not ${given.map((name) => `--${name}`).join(' and ')}`);
  if (values.token !== undefined) {
    if (values.token === '') throw new UsageError('--token is empty');
    return { kind: 'token', token: values.token };
  }
  if (values['token-file'] !== undefined) return { kind: 'token', token: await readSecretFile(values['token-file'], 'token') };
  if (values['key-file'] !== undefined) return { kind: 'key', key: await readSecretFile(values['key-file'], 'key') };
  if (env.BATON_APPROVAL_TOKEN) return { kind: 'token', token: env.BATON_APPROVAL_TOKEN };
  if (env.BATON_APPROVAL_KEY) return { kind: 'key', key: env.BATON_APPROVAL_KEY };
  throw new UsageError('no credential: give --token-file, --key-file or --token, or set BATON_APPROVAL_TOKEN or BATON_APPROVAL_KEY');
}

/** `parseArgs`, its refusals as usage errors. */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    // parseArgs quotes an unknown option, never an option's value: safe to show.
    throw new UsageError((error as Error).message);
  }
}

async function parseDecideArgs(decision: DecisionKind, args: readonly string[], env: NodeJS.ProcessEnv): Promise<DecideOptions | 'help'> {
  const { values, positionals } = parseCommandArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      comment: { type: 'string' },
      'allow-downgrade': { type: 'boolean' },
      approver: { type: 'string' },
      gateway: { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      'key-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (values['allow-downgrade'] === true && decision !== 'approve') throw new UsageError('--allow-downgrade applies to approve only');
  if (positionals.length !== 3) throw new UsageError('expected <namespace>/<pipeline> <environment> <version>');
  const [reference, environment, version] = positionals as [string, string, string];
  const pipeline = parsePipelineRef(reference);
  if (pipeline === undefined) throw new UsageError(`expected <namespace>/<pipeline>, not ${reference}`);
  if (environment === '' || version === '') throw new UsageError('the environment and the version cannot be empty');
  if (values.approver !== undefined && values.approver.trim() === '') throw new UsageError('--approver is empty');
  const credential = await credentialFrom(values, env);
  // A JWT is printable ASCII without spaces; anything else would fail in fetch, whose error quotes it.
  if (credential.kind === 'token' && !/^[\x21-\x7e]+$/.test(credential.token)) {
    throw new UsageError('the token contains spaces or characters a token cannot have (it is not shown)');
  }
  if (credential.kind === 'key' && values.approver === undefined) {
    throw new UsageError('--approver <name> is required with an approval key (the key signs, it does not say who you are)');
  }
  const gateway = values.gateway ?? (env.BATON_GATEWAY_URL || DEFAULT_GATEWAY);
  try {
    const url = new URL(gateway);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new UsageError(`--gateway must be an http(s) URL, not ${displayGateway(gateway)}`);
  }
  return {
    gateway,
    pipeline,
    environment,
    version,
    credential,
    ...(values.approver === undefined ? {} : { approver: values.approver }),
    ...(values.comment === undefined ? {} : { comment: values.comment }),
    ...(values['allow-downgrade'] === true ? { allowDowngrade: true } : {}),
  };
}

interface Decided {
  workflowId?: string;
  url?: string;
  pullRequest?: string;
  decision?: { decision?: string; environment?: string; approver?: string };
  authentication?: { method?: string; verified?: boolean };
}

export async function runDecideCommand(
  decision: DecisionKind,
  args: readonly string[],
  io: CommandIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let options: DecideOptions | 'help';
  try {
    options = await parseDecideArgs(decision, args, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`error: ${error.message}\n\n${decideUsage(decision)}`);
    return ExitCode.usage;
  }
  if (options === 'help') {
    io.stdout(decideUsage(decision));
    return ExitCode.ok;
  }
  const outcome = await sendDecision({ ...options, decision });
  if (outcome.kind === 'unavailable') {
    io.stderr(`error: ${outcome.message}\n`);
    return ExitCode.unavailable;
  }
  if (outcome.kind === 'refused') {
    io.stderr(`error: ${outcome.message}\n`);
    return ExitCode.refused;
  }
  const body = (outcome.answer.body ?? {}) as Decided;
  const verb = decision === 'approve' ? 'approved' : 'rejected';
  const who = body.decision?.approver ?? options.approver ?? 'you';
  const how =
    body.authentication?.method === undefined ? '' : ` (${body.authentication.method}${body.authentication.verified ? ', verified' : ''})`;
  io.stdout(
    `${options.pipeline.namespace}/${options.pipeline.name} ${options.version} ${verb} for ${options.environment} by ${who}${how}\n` +
      (body.url === undefined ? '' : `  ${body.url}\n`) +
      (body.pullRequest === undefined ? '' : `  pull request: ${body.pullRequest}\n`),
  );
  return ExitCode.ok;
}
