/**
 * What Baton accepts as a version: the revision Flux reports (a chart version, an OCI tag or
 * digest, `main@sha1:<hash>`) becomes part of the workflow ID, a search attribute, PR bodies and
 * notifications, so it is bounded in length and limited to the characters those revisions use.
 */
import { promotedVersion } from './flux-event.js';

/** An OCI tag is at most 128 characters; a digest or a git ref with its hash fits in twice that. */
export const MAX_REVISION_LENGTH = 256;

/** SemVer (build metadata included), OCI tags and digests, git `<ref>@sha1:<hash>`. */
const REVISION_CHARACTERS = /^[0-9A-Za-z._+@:/-]*$/;
export const REVISION_CHARACTERS_TEXT = 'letters, digits and . _ + @ : / -';

/** The version to promote (the revision without build metadata), or what is wrong with the revision. */
export type VersionCheck = { ok: true; version: string } | { ok: false; problem: string };

/**
 * Checks a revision and derives its version (`promotedVersion`: build metadata stripped). The
 * problem never quotes the revision: it may be long or hold control characters.
 */
export function checkRevision(revision: string): VersionCheck {
  if (revision.length > MAX_REVISION_LENGTH) {
    return { ok: false, problem: `the revision is ${revision.length} characters long; at most ${MAX_REVISION_LENGTH} are accepted` };
  }
  if (!REVISION_CHARACTERS.test(revision)) {
    const position = [...revision].findIndex((c) => !REVISION_CHARACTERS.test(c));
    return {
      ok: false,
      problem: `the revision has a character other than ${REVISION_CHARACTERS_TEXT} (at position ${position + 1})`,
    };
  }
  const version = promotedVersion(revision);
  if (version.length === 0) return { ok: false, problem: 'the revision is empty once its build metadata (after +) is removed' };
  return { ok: true, version };
}
