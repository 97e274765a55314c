/** The rate-limited task queue of git provider API calls, next to a release task queue. */
export function providerTaskQueueFor(releaseTaskQueue: string): string {
  return `${releaseTaskQueue}-git-provider`;
}
