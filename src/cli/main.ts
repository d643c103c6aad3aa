#!/usr/bin/env node
// The `unitpool` command. Each subcommand is one entry in COMMANDS: a loader of the function from its
// arguments to an exit status. Add a subcommand by adding an entry (and a line to USAGE).

type Command = (argv: readonly string[]) => Promise<number>;

// Each command's module is loaded only when it runs: start-up time is part of `unitpool run`'s cost.
const COMMANDS: Record<string, () => Promise<Command>> = {
  agent: async () => (await import('./agent.js')).runAgentCommand,
  run: async () => (await import('./run.js')).runRunCommand,
  sandbox: async () => (await import('../sandbox/command.js')).runSandboxCommand,
};

const USAGE = `Usage: unitpool <command> [args...]

Commands:
  agent     run a cluster's jobs from a BullMQ queue in this host's pool (unitpool agent --help)
  run       run one command in a confined systemd transient service (unitpool run --help)
  sandbox   boot a private systemd and run a command inside it (unitpool sandbox --help)
`;

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`unitpool: unknown command ${JSON.stringify(name)}\n\n${USAGE}`);
    return 2;
  }
  return (await command())(rest);
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
    // Do not wait for stray handles (a sandbox's stdio pipes, timers): the status is final.
    process.exit(status);
  },
  (e: unknown) => {
    process.stderr.write(`unitpool: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(125);
  },
);
