// `npm run capacity -- --peak 5000 [--stage dev] [--param name=value ...] [--template file]
// [--costs file] [--quota name=value ...]`: packages the stage sized for the peak (or reads a packaged
// template), takes the per-payment costs the bench measured, and prints every component of the
// settlement path with its load, limit, utilisation and the page stating the limit; the largest
// utilisation last. Exits 1 when a component is above 70 %. The model: scripts/capacityModel.ts.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  capacityRows,
  defaultQuotas,
  type MeasuredCosts,
  type Quotas,
  quotaPages,
  quotasFor,
  type Row,
  type TemplateSettings,
  utilisation,
} from "./capacityModel.js";

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
/** The bench's last run, else the committed figures of the reference run (bench/README.md). */
const lastRunCosts = join(projectRoot, "bench/.results/last-run.jsonl");
export const referenceCosts = join(projectRoot, "bench/reference-costs.json");
export const maxUtilisation = 0.7;

// biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template is whatever osls packaged; each value read is checked.
type Cfn = { Resources: Record<string, { Type: string; Properties: Record<string, any> }>; Outputs?: Record<string, { Value: unknown }> };

/** The limits the packaged template sets. */
export function templateSettings(template: Cfn): TemplateSettings {
  const resources = template.Resources;
  const fn = (name: string) => {
    const resource = resources[`${name[0]!.toUpperCase()}${name.slice(1)}LambdaFunction`];
    if (!resource) throw new Error(`the template has no function ${name}`);
    return resource.Properties;
  };
  const mapping = (name: string) => {
    const logicalId = `${name[0]!.toUpperCase()}${name.slice(1)}LambdaFunction`;
    const found = Object.values(resources).find(
      (r) => r.Type === "AWS::Lambda::EventSourceMapping" && JSON.stringify(r.Properties.FunctionName).includes(`"${logicalId}"`),
    );
    if (!found) throw new Error(`the template has no event source mapping for ${name}`);
    return found.Properties;
  };
  const env = fn("checkPayment").Environment.Variables as Record<string, unknown>;
  const number = (value: unknown, what: string) => {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new Error(`the template's ${what} is not a number: ${JSON.stringify(value)}`);
    return n;
  };
  const routeSettings = resources.HttpApiStage?.Properties.RouteSettings?.["POST /alipay/notify"];
  const table = resources.OrdersTable!.Properties;
  const warmWrites = (warm: unknown) => Number((warm as { WriteUnitsPerSecond?: number } | undefined)?.WriteUnitsPerSecond ?? 0);
  const sweepShard = fn("sweepShard");
  return {
    sizedForPeak: number(template.Outputs?.SizedForPeakPaymentsPerSecond?.Value, "SizedForPeakPaymentsPerSecond output"),
    alipayQueryRatePerSecond: number(template.Outputs?.SizedForAlipayQueryRatePerSecond?.Value, "SizedForAlipayQueryRatePerSecond output"),
    notifyRateLimit: number(routeSettings?.ThrottlingRateLimit, "notify route throttle"),
    notifyReservedConcurrency: number(fn("alipayNotify").ReservedConcurrentExecutions, "alipayNotify reserved concurrency"),
    checkMaxConcurrency: number(mapping("checkPayment").ScalingConfig?.MaximumConcurrency, "checkPayment maximumConcurrency"),
    checkBatchSize: number(mapping("checkPayment").BatchSize, "checkPayment batch size"),
    deliverMaxConcurrency: number(mapping("deliverEvent").ScalingConfig?.MaximumConcurrency, "deliverEvent maximumConcurrency"),
    deliverBatchSize: number(mapping("deliverEvent").BatchSize, "deliverEvent batch size"),
    publishParallelizationFactor: number(mapping("publishEvents").ParallelizationFactor ?? 1, "publishEvents parallelization factor"),
    sweepShards: number(env.SWEEP_SHARDS, "SWEEP_SHARDS"),
    eventShards: number(env.EVENT_SHARDS ?? 1, "EVENT_SHARDS"),
    sweepClaimConcurrency: number(sweepShard.Environment.Variables.SWEEP_CLAIM_CONCURRENCY, "SWEEP_CLAIM_CONCURRENCY"),
    sweepMaxConcurrency: number(mapping("sweepShard").ScalingConfig?.MaximumConcurrency, "sweepShard maximumConcurrency"),
    tableWarmWrites: warmWrites(table.WarmThroughput),
    tableWarmReads: Number((table.WarmThroughput as { ReadUnitsPerSecond?: number } | undefined)?.ReadUnitsPerSecond ?? 0),
    indexWarmWrites: Object.fromEntries(
      (table.GlobalSecondaryIndexes as Array<{ IndexName: string; WarmThroughput?: unknown }>).map((i) => [
        i.IndexName,
        warmWrites(i.WarmThroughput),
      ]),
    ),
  };
}

/** The last `summary` record of a bench results file (.jsonl), or a JSON file of the costs (bench/reference-costs.json). */
export function readCosts(file: string): MeasuredCosts {
  const text = readFileSync(file, "utf8").trim();
  const costs: Partial<MeasuredCosts> | undefined = file.endsWith(".jsonl")
    ? text
        .split("\n")
        .map((line) => JSON.parse(line) as { section: string; data: Partial<MeasuredCosts> })
        .findLast((record) => record.section === "summary")?.data
    : JSON.parse(text);
  if (!costs?.tableWcuPerPaidOrder || !costs.indexWcuPerPaidOrder || !costs.handlerMeanMs) {
    throw new Error(`${file} has no per-payment costs (run \`npm run bench -- lifecycle handlers sweep\` first)`);
  }
  return costs as MeasuredCosts;
}

function packageTemplate(stage: string, peak: number, params: string[]): Cfn {
  const out = mkdtempSync(join(tmpdir(), "capacity-"));
  try {
    execFileSync(
      "npx",
      [
        "serverless",
        "package",
        "--stage",
        stage,
        "--package",
        out,
        `--param=peakPaymentsPerSecond=${peak}`,
        ...params.map((p) => `--param=${p}`),
      ],
      { cwd: projectRoot, stdio: ["ignore", "ignore", "inherit"] },
    );
    return JSON.parse(readFileSync(join(out, "cloudformation-template-update-stack.json"), "utf8")) as Cfn;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const format = (n: number) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const percent = (u: number) => `${(u * 100).toFixed(u < 0.1 ? 1 : 0)} %`;

export function report(
  peak: number,
  settings: TemplateSettings,
  costs: MeasuredCosts,
  quotas: Quotas,
  costsFrom: string,
): { text: string; worst: number } {
  const rows = capacityRows(peak, settings, costs, quotas);
  const worstOf = (r: Row) => Math.max(utilisation(r, "loadPaid"), utilisation(r, "loadMix"));
  const sorted = [...rows].sort((a, b) => worstOf(a) - worstOf(b));
  const header = ["component", "load (paid)", "load (mix)", "limit", "unit", "paid", "mix", "limit from"];
  const body = sorted.map((r) => [
    r.component,
    format(r.loadPaid),
    format(r.loadMix),
    format(r.limit),
    r.unit,
    percent(utilisation(r, "loadPaid")),
    percent(utilisation(r, "loadMix")),
    r.source,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 || i >= 7 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const worst = sorted.at(-1)!;
  const needed = quotasFor(peak, settings, costs, maxUtilisation);
  const text = [
    `Capacity at ${peak.toLocaleString("en-US")} payments/s; the template is sized for ${settings.sizedForPeak.toLocaleString("en-US")} payments/s and Alipay ${settings.alipayQueryRatePerSecond.toLocaleString("en-US")} calls/s.`,
    `Mix: paid = every payment paid before its first check; mix = the chaos run's, a third never paid (6 checks, 7 Alipay calls, 31 sweep-index WCU each).`,
    `Costs: ${costsFrom} (measured: table ${costs.tableWcuPerPaidOrder} WCU and index ${JSON.stringify(costs.indexWcuPerPaidOrder)} per paid payment; handler ms ${JSON.stringify(costs.handlerMeanMs)}); unpaid payments' costs and AWS latencies on paper (scripts/sizing.cjs).`,
    `Quotas: ${Object.entries(quotas)
      .map(([k, v]) => `${k} ${v.toLocaleString("en-US")}${v === defaultQuotas[k as keyof Quotas] ? " (AWS default)" : ""}`)
      .join(", ")}.`,
    "",
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...body.map(line),
    "",
    `Account quotas for at most ${maxUtilisation * 100} %: ${Object.entries(needed)
      .map(([k, v]) => `${k} >= ${v.toLocaleString("en-US")}`)
      .join(", ")} (${[...new Set(Object.values(quotaPages))].join(", ")}).`,
    `Largest utilisation: ${percent(worstOf(worst))} (${worst.component}).`,
  ].join("\n");
  return { text, worst: worstOf(worst) };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      peak: { type: "string" },
      stage: { type: "string", default: "dev" },
      param: { type: "string", multiple: true, default: [] },
      template: { type: "string" },
      costs: { type: "string" },
      quota: { type: "string", multiple: true, default: [] },
    },
  });
  const peak = Number(values.peak);
  if (!(peak > 0))
    throw new Error(
      "usage: npm run capacity -- --peak <payments/s> [--stage s] [--param name=value ...] [--template file] [--costs file] [--quota name=value ...]",
    );
  const quotas: Quotas = { ...defaultQuotas };
  for (const given of values.quota) {
    const [name, value] = given.split("=");
    if (!name || !(name in quotas) || !(Number(value) > 0))
      throw new Error(`--quota ${given}: one of ${Object.keys(quotas).join(", ")}=<number>`);
    quotas[name as keyof Quotas] = Number(value);
  }
  const costsFile = values.costs ?? (existsSync(lastRunCosts) ? lastRunCosts : referenceCosts);
  const template = values.template
    ? (JSON.parse(readFileSync(values.template, "utf8")) as Cfn)
    : packageTemplate(values.stage, peak, values.param);
  const { text, worst } = report(peak, templateSettings(template), readCosts(costsFile), quotas, costsFile.replace(projectRoot, ""));
  console.log(text);
  process.exitCode = worst > maxUtilisation ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    main();
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 2;
  }
}
