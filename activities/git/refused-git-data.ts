/**
 * What the git server sent cannot be used: malformed git data, more than Baton's limits allow, or a
 * redirect Baton will not follow. Asking again gets the same answer, so the step fails for good.
 */
export type RefusalReason = 'malformed' | 'too-large' | 'redirect';

export class RefusedGitData extends Error {
  constructor(
    message: string,
    readonly reason: RefusalReason,
  ) {
    super(message);
    this.name = 'RefusedGitData';
  }
}
