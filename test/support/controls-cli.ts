/** `baton stop|resume|hold|…|mark-bad` run in-process against a test server, as the operator `oncall@example.com`. */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runControlsCommand } from '../../cli/controls.js';

export async function baton(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const [command, ...rest] = args as [Parameters<typeof runControlsCommand>[0], ...string[]];
  const code = await runControlsCommand(
    command,
    rest,
    { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text) },
    { TEMPORAL_ADDRESS: env.address, BATON_TASK_QUEUE: taskQueue, BATON_USER: 'oncall@example.com' },
  );
  return { code, stdout, stderr };
}
