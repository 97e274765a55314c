/**
 * The `baton` command: `baton <command> [args…]`. Commands are listed explicitly (no registration
 * by side effect); each returns its exit status.
 */
import { type CommandIo, runMarkersCommand } from './markers.js';

const COMMANDS: Record<string, (args: readonly string[], io: CommandIo) => Promise<number>> = {
  markers: runMarkersCommand,
};

const USAGE = `usage: baton <command> [args…]

commands:
  markers   list or set the $promotion markers of a GitOps repository (baton markers --help)
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
