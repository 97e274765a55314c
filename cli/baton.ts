/**
 * The `baton` command: `baton <command> [args…]`. Commands are listed explicitly (no registration
 * by side effect); each returns its exit status.
 */
import { runApprovalsCommand } from './approvals.js';
import { CONTROL_COMMANDS, runControlsCommand } from './controls.js';
import { runDecideCommand } from './decide.js';
import { type CommandIo, runMarkersCommand } from './markers.js';

const COMMANDS: Record<string, (args: readonly string[], io: CommandIo) => Promise<number>> = {
  markers: runMarkersCommand,
  approvals: runApprovalsCommand,
  approve: (args, io) => runDecideCommand('approve', args, io),
  reject: (args, io) => runDecideCommand('reject', args, io),
  ...Object.fromEntries(
    CONTROL_COMMANDS.map((name) => [name, (args: readonly string[], io: CommandIo) => runControlsCommand(name, args, io)]),
  ),
};

const USAGE = `usage: baton <command> [args…]

commands:
  markers     list or set the $promotion markers of a GitOps repository (baton markers --help)
  approvals   list the releases waiting at a manual gate (baton approvals list --help)
  approve     approve a waiting release through the gateway (baton approve --help)
  reject      reject a waiting release through the gateway (baton reject --help)
  stop        stop promotions (one Pipeline, one environment, or --all) until resumed (baton stop --help)
  resume      lift a stop
  hold        stop promotions into one environment of one Pipeline; unhold lifts it
  freeze      hold promotions between two dates; unfreeze lifts it
  mark-bad    end the release of a bad version and never promote it; unmark-bad lifts the mark
  controls    list the stops, freezes and marks in force or to come
  promote     roll back: ask for a version in one environment, through its gates (baton promote --help)

exit codes of approvals, approve, reject and the controls: 0 ok; 1 refused (by the gateway or Temporal);
2 usage error; 3 unreachable or temporarily unavailable, retry later.
`;

async function main(argv: readonly string[]): Promise<number> {
  const io: CommandIo = { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) };
  const [name, ...args] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined) {
    io.stderr(`${name === undefined || name === '--help' || name === '-h' ? '' : `unknown command ${name}\n\n`}${USAGE}`);
    return name === '--help' || name === '-h' ? 0 : 2;
  }
  return command(args, io);
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
