/**
 * A release manager approves a promotion in the Temporal dev server's real Web UI, in headless
 * Chromium: the saved-view query finds the release waiting at prod's gate, its details say what
 * waits and how to approve, "Send a Signal" → approve continues it. Screenshots of each step are in
 * test-artifacts/ui/ (docs/approve-in-temporal-ui.png is the third).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Frame, Page } from 'playwright-core';
import { stateQuery } from '../../model/messages.js';
import { ReleasePhase } from '../../model/release.js';
import { PromotionDecidedBy, PromotionState } from '../../model/search-attributes.js';
import type { release } from '../../workflows/release.js';
import { type Browser, startBrowser } from '../infra/chromium.js';
import { startDevServer } from '../infra/temporal.js';
import { type BatonStack, startBatonStack } from '../support/baton-stack.js';
import { eventually } from '../support/eventually.js';
import { FIXTURES } from '../support/events.js';
import { type FluxEventReceiver, startFluxEventReceiver } from '../support/flux-event-receiver.js';
import { freePort } from '../support/free-port.js';
import { sendFluxEvent } from '../support/send-flux-event.js';
import { visibleIn } from '../support/visibility.js';

const AWAITING_APPROVAL = `${PromotionState.name} = '${ReleasePhase.awaitingApproval}'`;

describe('approving a promotion in the Temporal Web UI (headless Chromium)', () => {
  let temporal: TestWorkflowEnvironment;
  let uiUrl: string;
  let receiver: FluxEventReceiver;
  let stack: BatonStack;
  let browser: Browser;

  before(async () => {
    const uiPort = await freePort();
    temporal = await startDevServer({ uiPort });
    uiUrl = `http://127.0.0.1:${uiPort}`;
    receiver = await startFluxEventReceiver();
    stack = await startBatonStack(temporal, { BATON_EVENTS_ADDRESS: receiver.url });
    browser = await startBrowser();
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
    await receiver?.close();
    await temporal?.teardown();
  });

  /** The UI renders a workflow's summary and details (markdown) in sandboxed iframes: the one showing `text`. */
  function metadataShowing(page: Page, text: RegExp): Promise<Frame> {
    return eventually(`the Temporal UI to show ${text}`, async () => {
      for (const frame of page.frames()) {
        if (frame === page.mainFrame()) continue;
        const shown = await frame
          .locator('body')
          .innerText({ timeout: 1000 })
          .catch(() => '');
        if (text.test(shown.trim())) return frame;
      }
      return undefined;
    });
  }

  test('the waiting release is found with the saved-view query, approved with "Send a Signal", and promoted into prod', () =>
    browser.capturingFailure('approve-in-temporal-ui', async () => {
      const { page } = browser;
      // 6.7.1 goes dev → test and waits at prod's manual gate; 6.6.1, promoted into test after it, yields
      // there to the higher 6.7.1 and ends superseded.
      const waiting = await sendFluxEvent(stack.gateway.url, 'dev', FIXTURES.upgradeSucceeded);
      assert.equal(waiting.status, 202);
      const handle = temporal.client.workflow.getHandle<typeof release>(waiting.body.workflowId);
      await eventually('the promotion into test', () =>
        receiver.events.find((e) => e.reason === 'Promote' && e.metadata['pipelines.weave.works/environment'] === 'test'),
      );
      for (const namespace of ['podinfo-02-qa', 'podinfo-02-perf']) {
        assert.equal((await sendFluxEvent(stack.gateway.url, 'test', FIXTURES.upgradeSucceeded, { namespace })).status, 202);
      }
      const other = await sendFluxEvent(stack.gateway.url, 'dev', FIXTURES.installSucceededOci);
      assert.equal(other.status, 202);
      await visibleIn(temporal.client, waiting.body.workflowId, ReleasePhase.awaitingApproval);
      await visibleIn(temporal.client, other.body.workflowId, ReleasePhase.superseded);

      await page.goto(`${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(AWAITING_APPROVAL)}`);
      const row = page.getByRole('link', { name: waiting.body.workflowId, exact: true });
      await row.waitFor();
      assert.equal(
        await page.getByRole('link', { name: other.body.workflowId, exact: true }).count(),
        0,
        'the view lists only releases waiting for approval',
      );
      await browser.screenshot('1-awaiting-approval-view');

      await row.click();
      await page.getByRole('tab', { name: 'User Metadata' }).click();
      await metadataShowing(page, /^Promote podinfo 6\.7\.1: dev → test → prod$/);
      const details = await metadataShowing(page, /^Waiting for approval to promote podinfo 6\.7\.1 into prod/);
      // Rendered as code, the command in the details is copied exactly as it must be typed.
      const command = await details.locator('code').innerText();
      assert.equal(
        command,
        `temporal workflow signal --workflow-id '${waiting.body.workflowId}' --name approve --input '{"approver":"<you>","comment":"<why>"}'`,
      );
      await browser.screenshot('2-waiting-for-approval');
      assert.equal(
        receiver.events.filter((e) => e.reason === 'Promote' && e.metadata['pipelines.weave.works/environment'] === 'prod').length,
        0,
        'nothing promoted into prod yet',
      );

      await page.getByRole('button', { name: 'More Actions' }).click();
      await page.getByText('Send a Signal', { exact: true }).locator('visible=true').first().click();
      const dialog = page.locator('dialog[open]');
      await dialog.getByTestId('signal-select-button').click();
      const approveOption = dialog.getByRole('option', { name: /^approve/ });
      assert.match(
        await approveOption.innerText(),
        /Approve the promotion waiting at a manual gate/,
        'the UI shows the signal’s description',
      );
      await approveOption.click();
      await dialog.getByRole('textbox', { name: 'Data' }).click();
      await page.keyboard.insertText('{"approver":"ui-user@example.com","comment":"from the UI"}');
      await browser.screenshot('3-send-approve-signal');
      await dialog.getByRole('button', { name: 'Submit' }).click();
      await dialog.waitFor({ state: 'hidden' });

      const toProd = await eventually('the promotion into prod', () =>
        receiver.events.find((e) => e.reason === 'Promote' && e.metadata['pipelines.weave.works/environment'] === 'prod'),
      );
      assert.equal(toProd.message, 'Promote pipeline flux-system/podinfo-02 to prod with version 6.7.1');
      const state = await handle.query(stateQuery);
      const approval = state.promotions.find((p) => p.targetEnvironment === 'prod')?.approval;
      assert.deepEqual([approval?.decision, approval?.approver, approval?.comment], ['approved', 'ui-user@example.com', 'from the UI']);
      assert.equal((await handle.describe()).typedSearchAttributes.get(PromotionDecidedBy), 'ui-user@example.com');

      await page.reload();
      await page.getByRole('tab', { name: 'User Metadata' }).click();
      await metadataShowing(page, /^Promoted 6\.7\.1 into prod, approved by ui-user@example\.com,/);
      await browser.screenshot('4-promoted-into-prod');
    }));
});
