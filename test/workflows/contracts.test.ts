/** Activities start workflows by type name: the names must be the ones the workflow bundle exports. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENVIRONMENT_CLAIMS_WORKFLOW_TYPE } from '../../model/environment-claims.js';
import * as workflows from '../../workflows/index.js';

test('the claims workflow type name is a workflow the bundle exports', () => {
  assert.equal(typeof (workflows as Record<string, unknown>)[ENVIRONMENT_CLAIMS_WORKFLOW_TYPE], 'function');
});
