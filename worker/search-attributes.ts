/**
 * Makes sure the namespace knows Baton's search attributes before a release starts: without them
 * every workflow task that upserts one fails and the release stalls. Registers missing ones where
 * the cluster allows it (dev server, self-hosted); otherwise fails with the command to run.
 */
import type { OperatorService } from '@temporalio/client';
import protos from '@temporalio/proto';
import { RELEASE_SEARCH_ATTRIBUTES } from '../model/search-attributes.js';

const KEYWORD = protos.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

export function registrationCommand(namespace: string): string {
  return RELEASE_SEARCH_ATTRIBUTES.map(
    (key) => `temporal operator search-attribute create --namespace ${namespace} --name ${key.name} --type Keyword`,
  ).join('\n');
}

/** `connection` is a client `Connection` or a worker `NativeConnection`: both carry the operator service. */
export async function ensureSearchAttributes(connection: { operatorService: OperatorService }, namespace: string): Promise<string[]> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = RELEASE_SEARCH_ATTRIBUTES.filter((key) => !(key.name in customAttributes));
  if (missing.length === 0) return [];
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, KEYWORD])),
    });
  } catch (error) {
    throw new Error(
      `namespace ${namespace} lacks the search attributes ${missing.map((k) => k.name).join(', ')} and Baton ` +
        `could not register them (${(error as Error).message}). Register them once with:\n${registrationCommand(namespace)}\n` +
        `(Temporal Cloud: tcld namespace search-attributes add … or the Cloud UI)`,
    );
  }
  return missing.map((key) => key.name);
}
