import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start nats-servers and child processes; on 2 cores, running
    // many files at once makes timing-sensitive tests (leases, heartbeats) flaky.
    fileParallelism: true,
    maxWorkers: 2,
    minWorkers: 1,
  },
});
