// EventBridge schedules for local runs: rate(...) expressions fire the same handler, never two
// runs of one function at once. Locally the interval can be compressed.
import { randomUUID } from "node:crypto";
import type { ScheduledEvent } from "aws-lambda";
import type { LocalLambda } from "./lambdaRuntime.js";

export function rateToMs(expression: string): number {
  const match = /^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!match) throw new Error(`Unsupported schedule expression for local runs: ${expression}`);
  const unit = match[2]!.startsWith("minute") ? 60_000 : match[2]!.startsWith("hour") ? 3_600_000 : 86_400_000;
  return Number(match[1]) * unit;
}

export interface Schedule {
  /**
   * Runs the function now (waits for a run in progress first), and then for what `settle` says the
   * run started (the sweep: every shard's sweepShard invocation).
   */
  fire(): Promise<void>;
  stop(): Promise<void>;
}

export function startSchedule(
  lambda: LocalLambda,
  intervalMs: number,
  log: (line: string) => void,
  settle: (result: unknown) => Promise<void> = async () => undefined,
): Schedule {
  let running: Promise<void> = Promise.resolve();
  let queued = 0;
  const fire = () => {
    queued += 1;
    running = running.then(async () => {
      const event: ScheduledEvent = {
        version: "0",
        id: randomUUID(),
        "detail-type": "Scheduled Event",
        source: "aws.events",
        account: "000000000000",
        time: new Date().toISOString(),
        region: "local",
        resources: [],
        detail: {},
      };
      try {
        await settle(await lambda.invoke(event));
      } catch (error) {
        log(`${lambda.definition.name} failed: ${String(error)}`);
      } finally {
        queued -= 1;
      }
    });
    return running;
  };
  // A tick while a run (and what it started) is still going is skipped rather than queued: a slow
  // sweep under load must not leave a growing line of runs behind it.
  const timer = setInterval(() => {
    if (queued === 0) void fire();
  }, intervalMs);
  return {
    fire,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
