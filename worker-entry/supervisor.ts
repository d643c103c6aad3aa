// The supervisor: the main process of a pool's systemd unit (see relay.ts for what it does). This entry point forks
// the first workers before anything else is loaded (fork.ts), so the two Node start-ups (supervisor, workers)
// overlap instead of running one after the other; then it loads the relay.

import './fork.js';

await import('./relay.js');
