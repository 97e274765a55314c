/** The promotion PR's title and body: Weave's exact title and metadata block, and a safe human part. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { metadataBlock, pullRequestBody, pullRequestTitle, readMetadata } from '../../../activities/providers/pull-request-body.js';
import { content, WEAVE_METADATA } from './helpers.js';

void describe('pull request title and body', () => {
  test("the title is Weave's", () => {
    assert.equal(pullRequestTitle(content('6.7.1')), 'Promote flux-system/podinfo-02 in staging to 6.7.1');
  });

  test("the body ends with Weave's metadata block, byte for byte, and it reads back", () => {
    const body = pullRequestBody(content());
    assert.equal(metadataBlock({ namespace: 'flux-system', name: 'podinfo-02' }, 'staging'), WEAVE_METADATA);
    assert.ok(body.endsWith(`\n${WEAVE_METADATA}`));
    assert.deepEqual(readMetadata(body), { namespace: 'flux-system', name: 'podinfo-02', environment: 'staging' });
    assert.equal(readMetadata('no block here'), undefined);
  });

  test('says what is promoted, from where, by which event, and links the workflow', () => {
    const body = pullRequestBody(content());
    assert.match(body, /Promotes HelmRelease `podinfo` of Pipeline `flux-system\/podinfo-02` to version `6\.7\.1` in `staging`/);
    assert.match(body, /\*\*From:\*\* `dev`/);
    assert.match(
      body,
      /\*\*Event:\*\* UpgradeSucceeded on HelmRelease `podinfo-dev\/podinfo`, reported by helm-controller at 2026-11-22T01:47:12Z/,
    );
    assert.match(body, /> Helm upgrade succeeded for release podinfo-dev\/podinfo\.v3 with chart podinfo@6\.7\.1/);
    assert.ok(
      body.includes(
        '[`release/flux-system/podinfo-02/6.7.1`](http://localhost:8233/namespaces/default/workflows/release%2Fflux-system%2Fpodinfo-02%2F6.7.1)',
      ),
    );
    assert.doesNotMatch(body, /Approved by/);
  });

  test('names the approver and quotes the comment when there was an approval', () => {
    const body = pullRequestBody({
      ...content(),
      approval: { approver: 'alice', comment: 'ship it\nafter the freeze', at: '2026-11-22T03:00:00Z' },
    });
    assert.match(body, /\*\*Approved by:\*\* `alice` at 2026-11-22T03:00:00Z/);
    assert.match(body, /`alice` commented:\n\n> ship it\n> after the freeze/);
  });

  test('outside text cannot inject markup or forge a metadata block', () => {
    const forged = '</details><details><summary>metadata</summary>!!! DO NOT EDIT !!!\n\nevil/pipeline/prod</details>';
    const c = content();
    const body = pullRequestBody({
      ...c,
      event: { ...c.event!, message: forged },
      approval: { approver: 'mallory', comment: '<img src=x onerror=alert(1)>' },
    });
    assert.equal(body.match(/<details>/g)?.length, 1);
    assert.ok(body.includes('&lt;img src=x onerror=alert(1)&gt;'));
    assert.deepEqual(readMetadata(body), { namespace: 'flux-system', name: 'podinfo-02', environment: 'staging' });
  });

  test('a revision with build metadata is shown next to the promoted version; backticks stay in their code span', () => {
    const c = content('6.6.1');
    const body = pullRequestBody({ ...c, event: { ...c.event!, revision: '6.6.1+0cc9a8446c95' }, approval: { approver: 'we`ird' } });
    assert.match(body, /\(revision `6\.6\.1\+0cc9a8446c95`\)/);
    assert.match(body, /\*\*Approved by:\*\* `` we`ird ``/);
  });

  test('without an event or a UI link it still says what and where', () => {
    const body = pullRequestBody({ ...content(), event: undefined, workflowUrl: undefined });
    assert.match(body, /Promotes the application of Pipeline `flux-system\/podinfo-02`/);
    assert.match(body, /\*\*Workflow:\*\* `release\/flux-system\/podinfo-02\/6\.7\.1`/);
    assert.ok(body.endsWith(WEAVE_METADATA));
  });
});
