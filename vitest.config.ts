import { defineConfig } from "vitest/config";

// Three projects: pure unit tests, the Alipay simulator driven through the real alipay-sdk,
// and integration tests against the whole local stack.
// Files run one at a time: the machine has 2 cores and the engines are shared.
export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The run's temp folder (the stacks' throwaway keys), removed also on Ctrl-C.
    globalSetup: ["test/runTempDir.ts"],
    projects: [
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      { extends: true, test: { name: "simulator", include: ["test/simulator/**/*.test.ts"] } },
      // Each file starts its own local stack (test/integration/harness.ts).
      { extends: true, test: { name: "integration", include: ["test/integration/**/*.test.ts"] } },
    ],
  },
});
