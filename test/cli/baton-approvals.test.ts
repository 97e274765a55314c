/**
 * An approver's command line, `baton approvals list` and `baton approve|reject`, run as a user runs
 * it (`node cli/baton.mjs`, a child process) against the stack `npm start` runs: a real Temporal dev
 * server, the worker, and the gateway on loopback over the example Pipelines, with a real OpenID
 * issuer for token approvals. Releases reach prod's manual gate through signed Flux events.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WaitingGate } from '../../cli/approvals.js';
import { createTemporalReleaseApprover } from '../../gateway/release-approver.js';
import { GATEWAY_GRPC_RETRY } from '../../gateway/temporal-calls.js';
import { stateQuery } from '../../model/messages.js';
import { ReleasePhase, type ReleaseState } from '../../model/release.js';
import type { release } from '../../workflows/release.js';
import { startDevServer } from '../infra/temporal.js';
import { type BatonStack, startBatonStack } from '../support/baton-stack.js';
import { eventually } from '../support/eventually.js';
import { FIXTURES, variant } from '../support/events.js';
import { freePort } from '../support/free-port.js';
import { directorySource, EXAMPLE_PIPELINES_DIR, testApp, unreachableStarter } from '../gateway/helpers.js';
import { GUARDED, ReleaseHarness } from '../workflows/harness.js';
import { APPROVAL_AUDIENCE, signingKeys, startTestIssuer, type TestIssuer } from '../support/oidc-issuer.js';
import { APPROVAL_KEY, fluxHeaders } from '../support/signing.js';
import { visibleIn } from '../support/visibility.js';

const BATON = new URL('../../cli/baton.mjs', import.meta.url).pathname;
const PIPELINE = 'flux-system/podinfo-02';
const WRONG_KEY = 'not-the-approval-key-of-podinfo-02';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('baton approvals list, baton approve|reject (dev server, worker, gateway, OpenID issuer)', () => {
  let temporal: TestWorkflowEnvironment;
  let issuer: TestIssuer;
  let stack: BatonStack;
  let dir: string;
  let keyFile: string;
  let wrongKeyFile: string;
  let token: string;
  let tokenFile: string;
  /** Everything the command printed, checked for secrets at the end. */
  const printed: string[] = [];

  before(async () => {
    temporal = await startDevServer();
    issuer = await startTestIssuer(await signingKeys());
    stack = await startBatonStack(temporal, { BATON_OIDC_ISSUER: issuer.issuer, BATON_OIDC_AUDIENCE: APPROVAL_AUDIENCE });
    dir = await mkdtemp(join(tmpdir(), 'baton-cli-'));
    keyFile = join(dir, 'approval-key');
    wrongKeyFile = join(dir, 'wrong-key');
    tokenFile = join(dir, 'token');
    token = await issuer.token('alice');
    // As `openssl rand -hex 32 > file` leaves them: with a final newline.
    await writeFile(keyFile, `${APPROVAL_KEY}\n`);
    await writeFile(wrongKeyFile, `${WRONG_KEY}\n`);
    await writeFile(tokenFile, `${token}\n`);
  });

  after(async () => {
    await stack?.stop();
    await issuer?.stop();
    await temporal?.teardown();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** `baton <args>` with only the environment given here (no BATON_APPROVAL_* of the caller's). */
  function baton(args: string[], env: Record<string, string> = {}): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [BATON, ...args],
        {
          env: {
            PATH: process.env.PATH ?? '',
            HOME: dir,
            TEMPORAL_ADDRESS: temporal.address,
            BATON_GATEWAY_URL: stack.gateway.url,
            ...env,
          },
        },
        (error, stdout, stderr) => {
          printed.push(stdout, stderr);
          const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /** Release `version` of podinfo-02 reported in dev, then in both targets of test: it waits at prod's gate. */
  async function waitingAtProd(version: string) {
    const workflowId = `release/${PIPELINE}/${version}`;
    for (const [environment, namespace] of [
      ['dev', 'podinfo-02-dev'],
      ['test', 'podinfo-02-qa'],
      ['test', 'podinfo-02-perf'],
    ] as const) {
      const body = variant(FIXTURES.upgradeSucceeded, ['6.7.1', version], ['"namespace":"podinfo-02-dev"', `"namespace":"${namespace}"`]);
      const response = await fetch(`${stack.gateway.url}/promotion/${PIPELINE}/${environment}`, {
        method: 'POST',
        headers: fluxHeaders(body),
        body,
      });
      assert.equal(response.status, 202, await response.text());
      if (environment === 'dev') {
        // Reported in test only once promoted there, as Flux would.
        const handle = temporal.client.workflow.getHandle<typeof release>(workflowId);
        await eventually('the promotion into test', async () => {
          const state = await handle.query(stateQuery);
          return state.phase === ReleasePhase.awaitingDeployment && state.targetEnvironment === 'test';
        });
      }
    }
    await visibleIn(temporal.client, workflowId, ReleasePhase.awaitingApproval);
    return temporal.client.workflow.getHandle<typeof release>(workflowId);
  }

  test('approvals list shows the waiting gate, filters by pipeline and environment, and --json parses', async () => {
    const handle = await waitingAtProd('7.0.0');
    const state = await handle.query(stateQuery);

    const listed = await baton(['approvals', 'list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^PIPELINE\s+VERSION\s+ENVIRONMENT\s+SINCE\s+APPROVALS\s+APPROVERS\s+CHANNELS$/m);
    assert.match(
      listed.stdout,
      new RegExp(
        `^flux-system/podinfo-02\\s+7\\.0\\.0\\s+prod\\s+${state.pendingGate?.since}\\s+0/1\\s+anyone\\s+temporal,oidc,approval-key$`,
        'm',
      ),
    );

    const filtered = await baton(['approvals', 'list', '--pipeline', PIPELINE, '--env', 'prod']);
    assert.match(filtered.stdout, /7\.0\.0/);
    for (const args of [
      ['--env', 'test'],
      ['--pipeline', 'team-a/guarded'],
    ]) {
      const none = await baton(['approvals', 'list', ...args]);
      assert.equal(none.code, 0, none.stderr);
      assert.equal(none.stdout, 'no release is waiting for approval\n');
    }

    const json = await baton(['approvals', 'list', '--json', '--pipeline', PIPELINE]);
    assert.equal(json.code, 0, json.stderr);
    const gates = JSON.parse(json.stdout) as WaitingGate[];
    assert.deepEqual(
      gates.map(({ runId: _, ...gate }) => gate),
      [
        {
          pipeline: PIPELINE,
          version: '7.0.0',
          environment: 'prod',
          since: state.pendingGate?.since,
          approvals: { received: 0, required: 1 },
          approvers: null,
          channels: ['temporal', 'oidc', 'approval-key'],
          expiresAt: state.pendingGate?.expiresAt ?? null,
          workflowId: handle.workflowId,
        },
      ],
    );

    // Decided here so the next test's release does not supersede this one at the gate.
    const approved = await baton(['approve', PIPELINE, 'prod', '7.0.0', '--key-file', keyFile, '--approver', 'lister@example.com']);
    assert.equal(approved.code, 0, approved.stderr);
  });

  test('approve with an approval key: a wrong key is refused (exit 1), the right one approves and the release proceeds', async () => {
    const handle = await waitingAtProd('7.1.0');

    const wrong = await baton(['approve', PIPELINE, 'prod', '7.1.0', '--key-file', wrongKeyFile, '--approver', 'cli-user@example.com']);
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stderr, 'error: credentials refused: signature verification failed\n');
    assert.equal((await handle.query(stateQuery)).phase, ReleasePhase.awaitingApproval);

    const approved = await baton(
      [
        'approve',
        PIPELINE,
        'prod',
        '7.1.0',
        '--approver',
        'cli-user@example.com',
        '--comment',
        'ship it from the CLI',
        '--allow-downgrade',
      ],
      { BATON_APPROVAL_KEY: APPROVAL_KEY },
    );
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /^flux-system\/podinfo-02 7\.1\.0 approved for prod by cli-user@example\.com \(approval-key\)$/m);

    const promoted = await eventually('the promotion into prod', async () => {
      const state: ReleaseState = await handle.query(stateQuery);
      return state.phase === ReleasePhase.awaitingDeployment && state.targetEnvironment === 'prod' && state;
    });
    const approval = promoted.promotions.find((p) => p.targetEnvironment === 'prod')?.approval;
    assert.deepEqual(
      [approval?.decision, approval?.approver, approval?.comment, approval?.allowDowngrade],
      ['approved', 'cli-user@example.com', 'ship it from the CLI', true],
    );

    const again = await baton(['reject', PIPELINE, 'prod', '7.1.0', '--key-file', keyFile, '--approver', 'cli-user@example.com']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error: refused: failed approving promotion: .+/);
  });

  test('reject with an OpenID token: the token names the approver; another name is refused', async () => {
    const handle = await waitingAtProd('7.2.0');

    const impostor = await baton(['reject', PIPELINE, 'prod', '7.2.0', '--token-file', tokenFile, '--approver', 'bob@example.com']);
    assert.equal(impostor.code, 1);
    assert.match(impostor.stderr, /^error: forbidden: the approver is the token's user/);

    const rejected = await baton(['reject', PIPELINE, 'prod', '7.2.0', '--comment', 'not this one'], { BATON_APPROVAL_TOKEN: token });
    assert.equal(rejected.code, 0, rejected.stderr);
    assert.match(rejected.stdout, /7\.2\.0 rejected for prod by alice@example\.com \(oidc, verified\)/);
    const result = await handle.result();
    assert.equal(result.phase, ReleasePhase.rejected);
    assert.match(result.currentStep, /Rejected by alice@example\.com \(not this one\)/);

    const none = await baton(['approvals', 'list', '--pipeline', PIPELINE]);
    assert.equal(none.stdout, 'no release is waiting for approval\n');
  });

  test('refusals: an unknown Pipeline (404) and a gate that does not wait are exit 1 with the reason', async () => {
    const unknown = await baton(['approve', 'flux-system/nope', 'prod', '1.0.0', '--key-file', keyFile, '--approver', 'a@example.com']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^error: no such pipeline: /);

    const noGate = await baton(['approve', PIPELINE, 'prod', '9.9.9', '--token', token]);
    assert.equal(noGate.code, 1);
    assert.match(
      noGate.stderr,
      /^error: refused: failed approving promotion: no release of 9\.9\.9 is running for flux-system\/podinfo-02/,
    );
  });

  test('npm run approve (scripts/approve.ts) sends through the same client: the example key approves', async () => {
    const handle = await waitingAtProd('7.4.0');
    const { stdout, stderr, code } = await new Promise<Run>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'scripts/approve.ts', PIPELINE, 'prod', '7.4.0', '--approver', 'script@example.com'],
        { env: { PATH: process.env.PATH ?? '', HOME: dir, BATON_GATEWAY_URL: stack.gateway.url } },
        (error, out, err) => {
          printed.push(out, err);
          resolve({ code: error === null ? 0 : Number(error.code), stdout: out, stderr: err });
        },
      );
    });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^200 OK\nLocation: http:\/\/.+\n\{"workflowId":"release\/flux-system\/podinfo-02\/7\.4\.0"/);
    await eventually('the promotion into prod', async () => (await handle.query(stateQuery)).phase === ReleasePhase.awaitingDeployment);
  });

  test('an unreachable gateway or Temporal is exit 3', async () => {
    const port = await freePort();
    const gateway = await baton(['approve', PIPELINE, 'prod', '7.3.0', '--key-file', keyFile, '--approver', 'a@example.com'], {
      BATON_GATEWAY_URL: `http://user:password@127.0.0.1:${port}`,
    });
    assert.equal(gateway.code, 3);
    assert.equal(gateway.stderr, `error: the gateway at http://127.0.0.1:${port} could not be reached (ECONNREFUSED); retry later\n`);

    const list = await baton(['approvals', 'list'], { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    assert.equal(list.code, 3);
    assert.match(list.stderr, new RegExp(`^error: Temporal at 127\\.0\\.0\\.1:${port} could not be reached`));
  });

  test("a Pipeline's approvers are listed (a release of the test harness, on its own task queue)", async () => {
    const harness = await ReleaseHarness.start(temporal);
    try {
      const { handle, version } = await harness.startRelease('dev', GUARDED, 'api-dev');
      await visibleIn(temporal.client, handle.workflowId, ReleasePhase.awaitingApproval);
      const json = await baton(['approvals', 'list', '--json', '--pipeline', 'team-a/guarded']);
      assert.equal(json.code, 0, json.stderr);
      const [gate, ...more] = JSON.parse(json.stdout) as WaitingGate[];
      assert.deepEqual(more, []);
      assert.deepEqual([gate?.version, gate?.environment, gate?.approvers], [version, 'prod', ['alice@example.com', 'bob@example.com']]);
      const text = await baton(['approvals', 'list', '--env', 'prod']);
      assert.match(text.stdout, /^team-a\/guarded\s+\S+\s+prod\s+\S+\s+0\/1\s+alice@example\.com,bob@example\.com\s+any$/m);
      await handle.terminate('test done');
    } finally {
      await harness.stop();
    }
  });

  test('a gateway that cannot reach Temporal (503) is exit 3, with when to retry', async () => {
    const pipelines = await directorySource(EXAMPLE_PIPELINES_DIR);
    // The gateway's own approver, on a connection to an address where no Temporal listens.
    const connection = Connection.lazy({
      address: `127.0.0.1:${await freePort()}`,
      interceptors: [makeGrpcRetryInterceptor(GATEWAY_GRPC_RETRY)],
    });
    const approvals = createTemporalReleaseApprover(new Client({ connection, namespace: 'default' }), { timeoutMs: 1_000 });
    const app = await testApp({ pipelines, releases: unreachableStarter(), approvals });
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const run = await baton([
        'approve',
        PIPELINE,
        'prod',
        '7.9.0',
        '--key-file',
        keyFile,
        '--approver',
        'a@example.com',
        '--gateway',
        url,
      ]);
      assert.equal(run.code, 3);
      assert.equal(
        run.stderr,
        'error: temporarily unavailable (503), retry in 30 s: Temporal is unavailable, the approval was not delivered; retry later\n',
      );
    } finally {
      await app.close();
      await approvals.drain(10_000);
      await connection.close();
      await pipelines.stop();
    }
  });

  test('usage errors are exit 2 with the usage; --help is exit 0', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['approve'], {}, /expected <namespace>\/<pipeline> <environment> <version>/],
      [['approve', 'podinfo-02', 'prod', '1.0.0', '--key-file', 'k'], {}, /expected <namespace>\/<pipeline>, not podinfo-02/],
      [['approve', PIPELINE, 'prod', '1.0.0'], {}, /no credential/],
      [['reject', PIPELINE, 'prod', '1.0.0', '--key-file', 'k', '--token', 'x'], {}, /give one credential, not --token and --key-file/],
      [['approve', PIPELINE, 'prod', '1.0.0'], { BATON_APPROVAL_KEY: APPROVAL_KEY }, /--approver <name> is required with an approval key/],
      [['approve', PIPELINE, 'prod', '1.0.0', '--key-file', join(dir, 'missing')], {}, /cannot read the key file .*missing: ENOENT/],
      [['approve', PIPELINE, 'prod', '1.0.0', '--token', 'x', '--gateway', 'ftp://example.com'], {}, /--gateway must be an http\(s\) URL/],
      [['approve', PIPELINE, 'prod', '1.0.0', '--bogus'], {}, /Unknown option '--bogus'/],
      [['reject', PIPELINE, 'prod', '1.0.0', '--key-file', 'k', '--allow-downgrade'], {}, /--allow-downgrade applies to approve only/],
      [['approve', PIPELINE, 'prod', '1.0.0'], { BATON_APPROVAL_TOKEN: 'eyJ secret\r' }, /the token contains spaces .*\(it is not shown\)/],
      [['approvals'], {}, /expected a subcommand: list/],
      [['approvals', 'list', '--pipeline', 'nope'], {}, /--pipeline expects <namespace>\/<pipeline>/],
      [['approvals', 'list', '--env', "prod' OR 'a'='a"], {}, /--env cannot contain quotes/],
      [['nonsense'], {}, /unknown command nonsense/],
    ];
    // Concurrently: each run starts Node and tsx, about two seconds.
    const runs = await Promise.all(cases.map(([args, env]) => baton(args, env)));
    for (const [index, [args, , message]] of cases.entries()) {
      const run = runs[index]!;
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
      assert.match(run.stderr, /usage: baton/, args.join(' '));
    }
    for (const args of [['approve', '--help'], ['reject', '-h'], ['approvals', '--help'], ['--help']]) {
      const run = await baton(args);
      assert.equal(run.code, 0, args.join(' '));
      assert.match(run.stdout + run.stderr, /exit codes/);
    }
  });

  test('no token or key is ever printed', () => {
    assert.ok(printed.length > 0);
    const all = printed.join('\n');
    for (const secret of [APPROVAL_KEY, WRONG_KEY, token, 'password', 'eyJ secret'])
      assert.ok(!all.includes(secret), 'a secret was printed');
  });
});
