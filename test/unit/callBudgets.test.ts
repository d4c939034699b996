// Every function's worst-case Alipay call budget fits its timeout (issue 17): the budget lines
// written above the functions in serverless.yml are held to the timeouts and params next to them,
// and a function whose calls could outlast its timeout must run them against the invocation's
// deadline (lib/alipay/deadline.ts).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { deadlineReserveMs, minAlipayCallMs } from "../../lib/alipay/deadline.js";
import { projectRoot, readYaml } from "../../local/serverlessConfig.js";

type Raw = Record<string, any>;
const raw = readYaml("serverless.yml") as Raw;
const text = readFileSync(join(projectRoot, "serverless.yml"), "utf8");
const alipayTimeoutSeconds = Number(raw.params.default.alipayTimeoutMs) / 1000;

interface Budget {
  name: string;
  calls: number;
  perCallSeconds: number;
  totalSeconds: number;
  comparison: "<" | ">";
  timeoutSeconds: number;
  deadlineBound: boolean;
}

const budgets: Budget[] = [
  ...text.matchAll(
    /^ *# +budget (\w+): (\d+) calls? (?:\([^)]*\) )?x ([\d.]+) s = ([\d.]+) s ([<>]) (\d+) s timeout(: deadline-bound)?$/gm,
  ),
].map((m) => ({
  name: m[1]!,
  calls: Number(m[2]),
  perCallSeconds: Number(m[3]),
  totalSeconds: Number(m[4]),
  comparison: m[5] as "<" | ">",
  timeoutSeconds: Number(m[6]),
  deadlineBound: m[7] !== undefined,
}));

const source = (name: string) => readFileSync(join(projectRoot, "functions", `${name}.ts`), "utf8");
/** The functions whose handler holds the Alipay keys, i.e. may call Alipay. */
const alipayFunctions = Object.keys(raw.functions).filter((name) => source(name).includes("lib/alipay/client.js"));

describe("Alipay call budgets (serverless.yml)", () => {
  it("are written for every function that may call Alipay", () => {
    // reconcile (900 s) makes one call per payment it heals: not an API answer, written down apart.
    expect(budgets.map((b) => b.name).sort()).toEqual(alipayFunctions.filter((name) => name !== "reconcile").sort());
    expect(text).toMatch(/# \(reconcile, 900 s:/);
  });

  it.each(budgets.map((b) => [b.name, b] as const))("%s: its arithmetic, timeout and per-call timeout are the template's", (name, b) => {
    const fn = raw.functions[name] as Raw;
    expect(b.timeoutSeconds).toBe(Number(fn.timeout ?? raw.provider.timeout));
    expect(b.perCallSeconds).toBeLessThanOrEqual(alipayTimeoutSeconds);
    expect(b.totalSeconds).toBeCloseTo(b.calls * b.perCallSeconds, 6);
    expect(b.comparison).toBe(b.totalSeconds < b.timeoutSeconds ? "<" : ">");
    // The budget of a message is the invocation's: one message per invocation, or a batch checked in
    // parallel (checkBatchSize, sized from Alipay's rate), each check against the same deadline.
    for (const event of fn.events ?? []) {
      if (!event.sqs || event.sqs.batchSize === 1) continue;
      expect(event.sqs.batchSize).toBe(["${param:", "checkBatchSize}"].join(""));
      expect(source(b.name)).toMatch(/processInParallel: inParallel/);
    }
  });

  it.each(budgets.map((b) => [b.name, b] as const))("%s: calls that could outlast the timeout run against the deadline", (name, b) => {
    const reserveSeconds = deadlineReserveMs / 1000;
    if (b.calls > 0 && b.totalSeconds > b.timeoutSeconds - reserveSeconds) expect(b.deadlineBound).toBe(true);
    if (b.deadlineBound) expect(source(name)).toMatch(/middy\(withAlipayDeadline\(\w+\)\)/);
    // Room for at least one call inside the deadline.
    if (b.deadlineBound) expect(b.timeoutSeconds * 1000 - deadlineReserveMs).toBeGreaterThan(minAlipayCallMs);
  });
});
