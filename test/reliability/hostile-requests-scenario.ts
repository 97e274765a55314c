/**
 * The hostile-requests scenario: `count` requests of the seeded generator (hostile-requests.ts)
 * over loopback against the real gateway process, with the worker process and a Temporal dev server
 * behind it, so that anything that slipped through would start a release. Asserted:
 * - no 5xx, and the gateway process neither exits nor logs an error;
 * - every 4xx carries a JSON error body with a message (HEAD answers carry no body at all);
 * - nothing without a valid credential is answered 2xx (the probes excepted);
 * - every workflow that exists afterwards and did not before is a release some validly signed event
 *   was answered 202 for, or the machinery such releases start (their environment's claims);
 * - the gateway's resident set at the start, peak and end stays bounded.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { signBody } from '../../gateway/hmac.js';
import { fixtureBody, FIXTURES } from '../support/events.js';
import { sendFluxEvent } from '../support/send-flux-event.js';
import { APPROVAL_KEY, HMAC_KEY } from '../support/signing.js';
import { MiB, mib } from '../support/measured-processes.js';
import { eventually } from '../support/eventually.js';
import { APPROVAL_AUDIENCE, signingKeys, startTestIssuer } from '../support/oidc-issuer.js';
import { startProcessStack } from '../support/process-stack.js';
import { type RawResponse, sendRaw } from '../support/raw-http.js';
import { type HostileRequest, hostileRequests } from './hostile-requests.js';

export interface HostileScenarioOptions {
  seed: number;
  count: number;
  /** Requests in flight at once. */
  concurrency?: number;
}

/** Far above the gateway's own few hundred MiB; a leak of the request sizes sent would cross it. */
const GATEWAY_PEAK_RSS_BOUND = 1024 * MiB;

const PUBLIC_PATH = /^\/(healthz|readyz|metrics)(\?|$)/;

interface Outcome {
  hostile: HostileRequest;
  response: RawResponse;
}

function describeRequest({ hostile }: Pick<Outcome, 'hostile'>): string {
  const target = typeof hostile.request.target === 'string' ? hostile.request.target : hostile.request.target.toString('latin1');
  return `${hostile.family}: ${hostile.request.method} ${JSON.stringify(target.slice(0, 120))}`;
}

/** What is wrong with one answer, or undefined. */
function problemWith({ hostile, response }: Outcome): string | undefined {
  const { status } = response;
  if (status >= 500) return `answered ${status}: ${response.body.toString('utf8').slice(0, 300)}`;
  const target = typeof hostile.request.target === 'string' ? hostile.request.target : '';
  const probe = (hostile.request.method === 'GET' || hostile.request.method === 'HEAD') && PUBLIC_PATH.test(target);
  if (status < 400 && hostile.credential !== 'valid' && !probe) return `answered ${status} without a valid credential`;
  if (status < 400 && hostile.mustRefuse === true) return `answered ${status} to a request that must be refused`;
  if (status >= 400 && hostile.request.method !== 'HEAD') {
    let body: unknown;
    try {
      body = JSON.parse(response.body.toString('utf8'));
    } catch {
      return `answered ${status} without a JSON body: ${JSON.stringify(response.body.toString('latin1').slice(0, 200))}`;
    }
    const message = (body as { message?: unknown }).message;
    if (typeof message !== 'string' || message.trim() === '') return `answered ${status} with no message: ${JSON.stringify(body)}`;
  }
  return undefined;
}

export async function runHostileRequestScenario(t: TestContext, options: HostileScenarioOptions): Promise<void> {
  const { seed, count } = options;
  const concurrency = options.concurrency ?? 8;
  const issuer = await startTestIssuer(await signingKeys());
  const stack = await startProcessStack({
    env: {
      BATON_OIDC_ISSUER: issuer.issuer,
      BATON_OIDC_AUDIENCE: APPROVAL_AUDIENCE,
      // On a loaded machine Temporal may take longer than the default 5 s, which is a 503 by contract;
      // what is tested here is the input, so Temporal is given time.
      BATON_SIGNAL_TIMEOUT: '60s',
    },
  });
  try {
    const { temporal, gateway } = stack;
    const client = temporal.client;
    const listAll = async (): Promise<Set<string>> => {
      const ids = new Set<string>();
      for await (const execution of client.workflow.list()) ids.add(execution.workflowId);
      return ids;
    };
    const before = await listAll();
    const start = await gateway.memory();

    const context = {
      hmacKey: HMAC_KEY,
      approvalKey: APPROVAL_KEY,
      bearerToken: await issuer.token('alice'),
      runTag: String(seed),
    };
    const requests = hostileRequests(seed, count, context);
    const problems: string[] = [];
    const accepted = new Set<string>();
    const statuses = new Map<number, number>();
    const families = new Map<string, Map<number, number>>();
    let sent = 0;
    let peak = start.peakRssBytes;

    const lane = async (): Promise<void> => {
      for (let next = requests.next(); next.done !== true; next = requests.next()) {
        const hostile = next.value;
        sent += 1;
        const response = await sendRaw(gateway.url, hostile.request).catch((error: unknown) => {
          throw new Error(`${describeRequest({ hostile })} (seed ${seed}) got no answer: ${String(error)}`, { cause: error });
        });
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        const byStatus = families.get(hostile.family) ?? new Map<number, number>();
        byStatus.set(response.status, (byStatus.get(response.status) ?? 0) + 1);
        families.set(hostile.family, byStatus);
        const problem = problemWith({ hostile, response });
        if (problem !== undefined && problems.length < 50) problems.push(`${describeRequest({ hostile })} ${problem}`);
        if (response.status === 202) {
          const { workflowId } = JSON.parse(response.body.toString('utf8')) as { workflowId: string };
          accepted.add(workflowId);
        }
        if (sent % 250 === 0) peak = Math.max(peak, (await gateway.memory()).peakRssBytes);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));

    // Still serving, and still telling good from bad.
    const health = await fetch(`${gateway.url}/healthz`);
    assert.equal(health.status, 200, 'the gateway still answers its liveness probe');
    const good = await sendFluxEvent(gateway.url, 'dev', FIXTURES.upgradeSucceeded);
    assert.equal(good.status, 202, 'a genuine Flux event is still accepted');
    accepted.add(good.body.workflowId);
    const forged = await fetch(`${gateway.url}/promotion/flux-system/podinfo-02/dev`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature': signBody(fixtureBody(FIXTURES.upgradeSucceeded), 'guess') },
      body: fixtureBody(FIXTURES.upgradeSucceeded),
    });
    assert.equal(forged.status, 401, 'a forged one is still refused');

    // Visibility is eventually consistent: wait until it shows every release answered 202.
    const after = await eventually(
      'visibility to list every accepted release',
      async () => {
        const ids = await listAll();
        return [...accepted].every((id) => ids.has(id)) && ids;
      },
      120_000,
    );
    // Releases claim their environments; nothing else may start (a stop, a mark or a rollback would).
    const machinery = (id: string): boolean => accepted.size > 0 && id.startsWith('claims/flux-system/podinfo-02/');
    const unexplained = [...after].filter((id) => !before.has(id) && !accepted.has(id) && !machinery(id));

    const end = await gateway.memory();
    peak = Math.max(peak, end.peakRssBytes);
    const figures = {
      seed,
      requests: count,
      families: families.size,
      statuses: Object.fromEntries([...statuses].sort(([a], [b]) => a - b)),
      acceptedReleases: accepted.size,
      newWorkflows: [...after].filter((id) => !before.has(id)).length,
      gatewayRss: { start: mib(start.rssBytes), peak: mib(peak), end: mib(end.rssBytes) },
      workerRss: mib((await stack.worker.memory()).rssBytes),
    };
    t.diagnostic(JSON.stringify(figures));
    console.log(JSON.stringify({ scenario: 'hostile-requests', ...figures }));
    if (process.env.BATON_RELIABILITY_VERBOSE) {
      for (const [family, byStatus] of [...families].sort()) t.diagnostic(`${family} ${JSON.stringify(Object.fromEntries(byStatus))}`);
    }

    assert.deepEqual(problems, [], `seed ${seed}: answers that break the contract`);
    assert.equal(sent, count);
    assert.deepEqual(unexplained, [], 'workflows started by requests that were not validly signed and valid');
    assert.equal(gateway.exited(), undefined, 'the gateway process is still running');
    assert.equal(stack.worker.exited(), undefined, 'the worker process is still running');
    assert.deepEqual(gateway.errorLines, [], 'the gateway logged no error');
    assert.ok(peak < GATEWAY_PEAK_RSS_BOUND, `the gateway's resident set peaked at ${mib(peak)}`);
  } finally {
    await stack.stop();
    await issuer.stop();
  }
}
