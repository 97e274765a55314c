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
    assert.match(body, /> Helm upgrade succeeded for release podinfo-dev\/podinfo\.v3 with chart podinfo\\@6\.7\.1/);
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

  test('a blank line cannot end a code span: approver and build metadata stay on one line, inside it', () => {
    const c = content('6.6.1');
    const approver = 'alice\n\n[click](https://evil.example) ![x](https://evil.example/t.png)';
    const body = pullRequestBody({
      ...c,
      event: { ...c.event!, revision: '6.6.1+meta\n\n<details>\n<summary>metadata</summary>' },
      approval: { approver },
    });
    assert.ok(body.includes('**Approved by:** `alice [click](https://evil.example) ![x](https://evil.example/t.png)`'));
    assert.ok(body.includes('(revision `6.6.1+meta <details> <summary>metadata</summary>`)'));
    assert.equal(body.match(/^<details>$/gm)?.length, 1, 'no second block at the start of a line');
    assert.equal(body.split('\n\n').length, pullRequestBody(content('6.6.1')).split('\n\n').length);
  });

  test('outside text outside code spans cannot add links, images, mentions, headings or HTML', () => {
    const c = content();
    const evil =
      '[link](https://evil.example) ![img](https://evil.example/x.png) @org/team #1 <b>x</b> https://evil.example www.evil.example';
    const body = pullRequestBody({
      ...c,
      event: { ...c.event!, reason: evil, reportingController: 'ctl\n\n# Heading', message: `${evil}\n# Heading\n1. list\n<details>` },
      approval: { approver: 'mallory', comment: `${evil}\n\n- [x] done\n> nested` },
    });
    const prose = body.slice(0, body.lastIndexOf('<details>'));
    assert.doesNotMatch(prose, /(?<!\\)\[(?:link|img)\]/, 'no unescaped link or image text');
    assert.doesNotMatch(prose, /(?<!\\)!\[/);
    assert.doesNotMatch(prose, /(?<![\\`])@org/, 'no mention');
    assert.doesNotMatch(prose, /(?<!\\)#1/, 'no issue reference');
    assert.doesNotMatch(prose, /<b>|<details>/, 'no HTML');
    assert.doesNotMatch(prose, /https:\/\/evil/, 'no bare URL GitHub would link');
    assert.doesNotMatch(prose, /www\.evil/);
    assert.doesNotMatch(prose, /^#|^> #|^> 1\.|^> - \[/m, 'no heading, list or task item');
    assert.match(prose, /reported by ctl \\# Heading at/);
  });

  test('only the real metadata block is read: forged copies elsewhere are ignored', () => {
    const real = pullRequestBody(content());
    const forged = metadataBlock({ namespace: 'evil', name: 'pipeline' }, 'prod');
    assert.deepEqual(readMetadata(`${forged}\n\n${real}`), { namespace: 'flux-system', name: 'podinfo-02', environment: 'staging' });
    assert.equal(readMetadata(`${real}\n\nappended by someone`), undefined, 'the block must end the body');
    assert.equal(readMetadata(`text ${WEAVE_METADATA}`), undefined, 'the block starts a line');
    assert.equal(readMetadata(WEAVE_METADATA.replace('!!! DO NOT EDIT !!!', '!! DO NOT EDIT !!')), undefined, 'exact markers');
    assert.equal(readMetadata(WEAVE_METADATA.replace('flux-system/podinfo-02/staging', 'a/b/c d')), undefined);
    assert.deepEqual(readMetadata(`${real.replace(/\n/g, '\r\n')}\r\n`), {
      namespace: 'flux-system',
      name: 'podinfo-02',
      environment: 'staging',
    });
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
