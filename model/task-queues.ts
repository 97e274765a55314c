/** The task queue release workflows and their activities run on, unless configured otherwise. */
export const DEFAULT_RELEASE_TASK_QUEUE = 'baton-release';

/** The rate-limited task queue of git provider API calls, next to a release task queue. */
export function providerTaskQueueFor(releaseTaskQueue: string): string {
  return `${releaseTaskQueue}-git-provider`;
}
