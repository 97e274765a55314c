/** The task queue release workflows and their activities run on, unless configured otherwise. */
export const DEFAULT_RELEASE_TASK_QUEUE = 'baton-release';
