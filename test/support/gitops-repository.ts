/**
 * A GitOps repository as a production worker reaches it for the pull-request strategy: a real git
 * server over HTTPS whose host also serves the GitHub Enterprise API (`/api/v3`, the GitHub fake),
 * so Baton, configured as in production (https only, API root derived from the repository URL),
 * needs nothing but the Pipelines and their Secret, which carries the git server's CA (`caFile`).
 * Pipelines promote `flux-system/<name>` from dev to prod by pull request.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GitHubApiFake, startGitHubApi } from '../fakes/github-api.js';
import { type GitServer, startGitServer } from '../infra/git-server.js';

export const GITOPS_REPOSITORY = 'acme/gitops';
const NAMESPACE = 'flux-system';
const SECRET = 'gitops-credentials';
const TOKEN = 'ghp_baton_test_token_5f1c0a';
/** The example's webhook Secret (examples/pipelines/podinfo-02-webhook-secret.yaml): events are signed as for podinfo-02. */
const WEBHOOK_SECRET = 'podinfo-02-webhook';

export interface GitOpsRepository {
  git: GitServer;
  github: GitHubApiFake;
  /** The Pipelines and their credentials Secret, as one multi-document YAML. */
  manifests: string;
  /** `promotion-flux-system-<name>-prod`: the branch Baton pushes for a Pipeline. */
  branchOf(pipeline: string): string;
  /** The version the marker on `branch` names for `pipeline`. */
  markedVersion(pipeline: string, branch: string): Promise<string | undefined>;
  close(): Promise<void>;
}

const markerFile = (pipeline: string): string => `apps/${pipeline}/prod/release.yaml`;
const markerLine = (pipeline: string, version: string): string => `    tag: ${version} # {"$promotion": "${NAMESPACE}:${pipeline}:prod"}`;

function pipelineManifest(name: string, url: string): string {
  return `apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata: {name: ${name}, namespace: ${NAMESPACE}}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: podinfo}
  environments:
    - name: dev
      targets: [{namespace: podinfo-02-dev}]
    - name: prod
      targets: [{namespace: podinfo-02-prod}]
  promotion:
    strategy:
      pull-request: {type: github, url: '${url}', baseBranch: main, secretRef: {name: ${SECRET}}}
      secretRef: {name: ${WEBHOOK_SECRET}}
`;
}

export async function startGitOpsRepository(pipelines: string[]): Promise<GitOpsRepository> {
  const github = await startGitHubApi({ token: TOKEN, repositories: [GITOPS_REPOSITORY] });
  const git = await startGitServer({ tls: true, api: { pathPrefix: '/api/v3/', origin: github.http.url } });
  const seed = await mkdtemp(join(tmpdir(), 'baton-gitops-seed-'));
  try {
    for (const name of pipelines) {
      await mkdir(join(seed, `apps/${name}/prod`), { recursive: true });
      await writeFile(join(seed, markerFile(name)), `image:\n  spec:\n${markerLine(name, '1.0.0')}\n`);
    }
    await git.createRepository(GITOPS_REPOSITORY, seed);
  } finally {
    await rm(seed, { recursive: true, force: true });
  }
  const url = git.repositoryUrl(GITOPS_REPOSITORY);
  const secret = `apiVersion: v1
kind: Secret
metadata: {name: ${SECRET}, namespace: ${NAMESPACE}}
stringData: ${JSON.stringify({ ...git.credentials, token: TOKEN, caFile: await readFile(git.caFile!, 'utf8') })}
`;
  return {
    git,
    github,
    manifests: [...pipelines.map((name) => pipelineManifest(name, url)), secret].join('---\n'),
    branchOf: (pipeline) => `promotion-${NAMESPACE}-${pipeline}-prod`,
    async markedVersion(pipeline, branch) {
      const file = (await git.readBranch(GITOPS_REPOSITORY, branch)).get(markerFile(pipeline))?.toString('utf8');
      return file === undefined ? undefined : /tag: (\S+) #/.exec(file)?.[1];
    },
    async close() {
      await git.close();
      await github.close();
    },
  };
}
