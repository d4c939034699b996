// `npm run chaos`: the full chaos run (1,000 payments by default) with its figures.
import "./quietLogs.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exitOnSignals, removeOnExit } from "../../local/interrupt.js";
import { type LocalStack, startStack } from "../../local/stack.js";
import { chaosStackOptions } from "./settings.js";
import { formatReport, runChaos } from "./chaos.js";

const keysDir = mkdtempSync(join(tmpdir(), "alipay-pay-chaos-"));
// Ctrl-C at any point: the stack stops, its JVM is killed and the temp keys are removed.
const removeKeys = removeOnExit(keysDir);
let stack: LocalStack | undefined;
exitOnSignals(async () => stack?.stop());
console.error(`chaos: starting the local stack (keys in ${keysDir})`);
stack = await startStack({ ...chaosStackOptions, keysDir, log: () => undefined });
try {
  const report = await runChaos(stack, {
    payments: Number(process.env.CHAOS_PAYMENTS ?? process.env.CHAOS_ORDERS ?? 1000),
    concurrency: Number(process.env.CHAOS_CONCURRENCY ?? 40),
    dynamoFailureRate: Number(process.env.CHAOS_DYNAMO_FAILURE_RATE ?? 0.03),
    cancelRate: Number(process.env.CHAOS_CANCEL_RATE ?? 0.05),
    refundRate: Number(process.env.CHAOS_REFUND_RATE ?? 0.15),
    settleTimeoutMs: Number(process.env.CHAOS_SETTLE_TIMEOUT_MS ?? 180_000),
    seed: Number(process.env.CHAOS_SEED ?? Date.now() % 100_000),
    progressEvery: Number(process.env.CHAOS_PROGRESS_EVERY ?? 50),
    log: (line) => console.error(line),
  });
  console.log(formatReport(report));
  if (report.problems.length) console.log(`\nproblems:\n${report.problems.slice(0, 50).join("\n")}`);
  process.exitCode = report.problems.length === 0 ? 0 : 1;
} finally {
  await stack.stop();
  removeKeys();
}
