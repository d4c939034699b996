// One number sizes the settlement path (scripts/sizing.cjs), and `npm run capacity` checks the
// packaged template against the bench's measured costs (scripts/capacity.ts): packaged here for
// 50, 500 and 5,000 payments/s, read back, and checked with the committed reference costs.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadService, projectRoot } from "../../local/serverlessConfig.js";
import { maxUtilisation, readCosts, report, templateSettings } from "../../scripts/capacity.js";
import { capacityRows, defaultQuotas, quotasFor, type TemplateSettings, utilisation } from "../../scripts/capacityModel.js";
import { paramOptions } from "./stageParams.js";

const { sizing } = createRequire(import.meta.url)("../../scripts/sizing.cjs") as {
  sizing: (inputs: { peakPaymentsPerSecond: unknown; alipayQueryRatePerSecond: unknown }) => Record<string, any>;
};
const costs = readCosts(join(projectRoot, "bench/reference-costs.json"));
/** The stated peaks and the Alipay rate each needs (7 calls per unpaid payment, a third unpaid, at most 60 %). */
const peaks = [
  { peak: 50, alipay: 200 },
  { peak: 500, alipay: 2_000 },
  { peak: 5_000, alipay: 20_000 },
];
const work = mkdtempSync(join(tmpdir(), "capacity-test-"));
const templates = new Map<number, { file: string; settings: TemplateSettings }>();

beforeAll(() => {
  for (const { peak, alipay } of peaks) {
    const out = join(work, String(peak));
    execFileSync(
      "npx",
      [
        "serverless",
        "package",
        "--stage",
        "prod",
        "--package",
        out,
        ...paramOptions({ peakPaymentsPerSecond: String(peak), alipayQueryRatePerSecond: String(alipay) }),
      ],
      { cwd: projectRoot, stdio: "pipe", timeout: 180_000 },
    );
    const file = join(out, "cloudformation-template-update-stack.json");
    templates.set(peak, { file, settings: templateSettings(JSON.parse(readFileSync(file, "utf8"))) });
  }
}, 600_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("sizing from the peak", () => {
  it("puts what scripts/sizing.cjs derives into the packaged template", () => {
    for (const { peak, alipay } of peaks) {
      const expected = sizing({ peakPaymentsPerSecond: peak, alipayQueryRatePerSecond: alipay });
      const settings = templates.get(peak)!.settings;
      expect(settings).toMatchObject({
        sizedForPeak: peak,
        alipayQueryRatePerSecond: alipay,
        notifyRateLimit: expected.notifyRateLimit,
        notifyReservedConcurrency: expected.alipayNotifyReservedConcurrency,
        checkMaxConcurrency: expected.checkMaxConcurrency,
        checkBatchSize: expected.checkBatchSize,
        deliverMaxConcurrency: expected.deliverMaxConcurrency,
        publishParallelizationFactor: expected.publishParallelizationFactor,
        sweepShards: expected.sweepShards,
        eventShards: expected.eventShards,
        sweepMaxConcurrency: expected.sweepMaxConcurrency,
      });
      // Warm throughput only above what a new on-demand table has anyway.
      expect(settings.tableWarmWrites).toBe(expected.tableWarmThroughput.WriteUnitsPerSecond ?? 0);
      expect(settings.indexWarmWrites.sweep).toBe(expected.sweepIndexWarmThroughput.WriteUnitsPerSecond ?? 0);
    }
    expect(templates.get(50)!.settings.tableWarmWrites).toBe(0);
    expect(templates.get(5_000)!.settings.tableWarmWrites).toBeGreaterThan(4_000);
  });

  it("grows every limit with the peak and keeps the notify burst within the reserved concurrency", () => {
    const [small, medium, large] = peaks.map(({ peak }) => templates.get(peak)!.settings) as [
      TemplateSettings,
      TemplateSettings,
      TemplateSettings,
    ];
    for (const key of [
      "notifyRateLimit",
      "notifyReservedConcurrency",
      "checkMaxConcurrency",
      "deliverMaxConcurrency",
      "sweepShards",
    ] as const) {
      expect(small[key]).toBeLessThanOrEqual(medium[key]);
      expect(medium[key]).toBeLessThanOrEqual(large[key]);
    }
    expect(large.sweepShards).toBeGreaterThan(small.sweepShards);
    for (const { peak, alipay } of peaks) {
      const derived = sizing({ peakPaymentsPerSecond: peak, alipayQueryRatePerSecond: alipay });
      expect(derived.notifyBurstLimit).toBeLessThanOrEqual(derived.alipayNotifyReservedConcurrency);
      expect(derived.checkMaxConcurrency).toBeLessThanOrEqual(1000);
      expect(derived.checkBatchSize).toBeLessThanOrEqual(10);
    }
  });

  it("refuses a peak that is not a positive number", () => {
    expect(() => sizing({ peakPaymentsPerSecond: "lots", alipayQueryRatePerSecond: 100 })).toThrow(
      /peakPaymentsPerSecond must be a positive number/,
    );
    expect(() => sizing({ peakPaymentsPerSecond: 50, alipayQueryRatePerSecond: 0 })).toThrow(/alipayQueryRatePerSecond/);
  });

  it("is what the local stack reads too (the loader calls the sizing functions like osls)", () => {
    const service = loadService("local", {
      ...process.env,
      LOCAL_SWEEP_SHARDS: "4",
      LOCAL_ALIPAY_URL: "http://127.0.0.1:1",
      LOCAL_API_URL: "http://127.0.0.1:2",
      LOCAL_KEYS_DIR: work,
    });
    expect(service.environment.SWEEP_SHARDS).toBe("4");
    const check = service.functions.find((f) => f.name === "checkPayment")!;
    expect(check.sqs[0]!.batchSize).toBe(sizing({ peakPaymentsPerSecond: 50, alipayQueryRatePerSecond: 100 }).checkBatchSize);
  });
});

describe("npm run capacity", () => {
  it("finds no component above 70 % at 50, 500 and 5,000 payments/s with the quotas it asks for", () => {
    for (const { peak } of peaks) {
      const settings = templates.get(peak)!.settings;
      const quotas = quotasFor(peak, settings, costs, maxUtilisation);
      const rows = capacityRows(peak, settings, costs, quotas);
      const over = rows.filter((r) => Math.max(utilisation(r, "loadPaid"), utilisation(r, "loadMix")) > maxUtilisation);
      expect(
        over.map((r) => r.component),
        `at ${peak}/s`,
      ).toEqual([]);
      // Small stages fit AWS's default quotas.
      if (peak <= 50) expect(quotas).toEqual(defaultQuotas);
    }
  });

  it("reports an under-sized template: 5,000 payments/s on the stage sized for 50", () => {
    const { text, worst } = report(5_000, templates.get(50)!.settings, costs, defaultQuotas, "reference");
    expect(worst).toBeGreaterThan(1);
    expect(text.split("\n").at(-1)).toMatch(/^Largest utilisation: \d[\d,]* % \(/);
  });

  it("runs from the command line: packaged template, committed costs, quotas given; exit 0 within 70 %", () => {
    const settings = templates.get(5_000)!.settings;
    const quotas = quotasFor(5_000, settings, costs, maxUtilisation);
    const run = spawnSync(
      "npm",
      [
        "run",
        "--silent",
        "capacity",
        "--",
        "--peak",
        "5000",
        "--template",
        templates.get(5_000)!.file,
        "--costs",
        join(projectRoot, "bench/reference-costs.json"),
        ...Object.entries(quotas).flatMap(([name, value]) => ["--quota", `${name}=${value}`]),
      ],
      { cwd: projectRoot, encoding: "utf8", timeout: 120_000 },
    );
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/sweep index, one shard of \d+: writes/);
    expect(run.stdout).toMatch(/https:\/\/docs\.aws\.amazon\.com\/lambda\/latest\/dg\/gettingstarted-limits\.html/);
    const last = run.stdout.trim().split("\n").at(-1)!;
    expect(Number(/Largest utilisation: ([\d.]+) %/.exec(last)?.[1])).toBeLessThanOrEqual(70);
  });
});
