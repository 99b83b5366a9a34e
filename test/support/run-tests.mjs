#!/usr/bin/env node
// `npm test`: checks that redis-server and memcached are installed (the integration tests start their own servers), then
// runs Jest in ESM mode with this script's arguments passed through, exiting with Jest's code.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

// Each system server the integration tests start, with how to install it.
const servers = [
  { command: 'redis-server', args: ['--version'], install: '`sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis` (macOS)' },
  { command: 'memcached', args: ['-V'], install: '`sudo apt-get install -y memcached` (Debian/Ubuntu) or `brew install memcached` (macOS)' },
];
for (const server of servers) {
  const probe = spawnSync(server.command, server.args, { stdio: 'ignore' });
  if (probe.error !== undefined || probe.status !== 0) {
    console.error(
      `${server.command} not found: install it with ${server.install}, then run \`npm test\` again.\n` +
        'The integration tests start their own redis-server and memcached processes on free loopback ports; ' +
        'nothing needs to be running. To run only the unit tests meanwhile: `npm run test:unit`.',
    );
    process.exit(1);
  }
}

const jest = spawn(
  process.execPath,
  ['--experimental-vm-modules', 'node_modules/jest/bin/jest.js', ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit' },
);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => jest.kill(signal));
}
jest.on('error', (error) => {
  console.error(`Could not start Jest: ${error.message}`);
  process.exit(1);
});
jest.on('exit', (code, signal) => {
  process.exit(code ?? (signal !== null ? 1 : 0));
});
