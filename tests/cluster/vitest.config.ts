/**
 * Vitest for the whole-system test on a CouchDB cluster (`npm run test:cluster`, which starts the
 * cluster and passes it in LV_CLUSTER_*). Kept apart from the root config so that `npm test` never
 * picks these files up: they need three CouchDB nodes and take minutes.
 */
import { defineConfig } from 'vitest/config';
import root from '../../vitest.config';

export default defineConfig({
  ...root,
  test: {
    ...root.test,
    // Replaces the root's list (mergeConfig would add to it).
    include: ['tests/cluster/**/*.test.ts'],
    testTimeout: 270_000,
    hookTimeout: 120_000,
    fileParallelism: false
  }
});
