// The cold-start floor's child: plain child_process.fork() with its IPC channel; answers every message.
process.on('message', (m) => process.send(m));
