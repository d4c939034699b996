// 5. Per function: the size of its bundle (esbuild, minified, as serverless.yml's custom.esbuild
// builds it) and its cold init time: a fresh `node` process that require()s the bundle, timed
// with process.hrtime around the require (median of several runs). `@aws-sdk/*` stays external,
// as on Lambda whose runtime provides it; here it resolves from node_modules through NODE_PATH,
// the way the Lambda runtime resolves it from /var/runtime/node_modules.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { gzipSync } from "node:zlib";
import { build, type BuildOptions, type Metafile, type Plugin } from "esbuild";
import { projectRoot } from "../../local/serverlessConfig.js";
import { envInt, kib, median, num, progress, report, table, type Cell } from "../lib/format.js";

// The handlers issue's targets (every bundle under 150 KB, cold init under 100 ms).
export const targetBytes = 150 * 1024;
export const targetInitMs = 100;

// The child: time the require, print the figure. `BENCH_PRELOAD` requires those modules first
// (untimed), to split the @aws-sdk externals' share off the bundle's own.
const childScript = `
for (const m of (process.env.BENCH_PRELOAD || "").split(",").filter(Boolean)) require(m);
const t0 = process.hrtime.bigint();
require(process.env.BENCH_BUNDLE);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
process.stdout.write(JSON.stringify({ ms }));
`;

interface FunctionFigures {
  name: string;
  usesAlipaySdk: boolean;
  bytes: number;
  /** What-if: the same function with alipay-sdk replaced by an empty stub. */
  withoutSdkBytes: number;
  withoutSdkInitMs: number[];
  gzipBytes: number;
  externals: string[];
  initMs: number[];
  ownInitMs: number[];
  packages: Record<string, number>;
}

export async function run(): Promise<void> {
  const runs = envInt("BENCH_COLD_RUNS", 7, 3);
  const functionsDir = join(projectRoot, "functions");
  const names = readdirSync(functionsDir)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => basename(f, ".ts"))
    .sort();
  const outDir = mkdtempSync(join(tmpdir(), "alipay-pay-bench-bundles-"));
  // Built from the working tree as it is now: say when, and what it held.
  const builtAt = new Date().toISOString();
  const tree = workingTree();
  try {
    progress(`bundles: building ${names.length} functions with esbuild`);
    const figures: FunctionFigures[] = [];
    for (const name of names) {
      const outfile = join(outDir, name, `${name}.js`);
      const result = await bundle(join(functionsDir, `${name}.ts`), outfile);
      const output = Object.entries(result.metafile.outputs).find(([file]) => !file.endsWith(".LEGAL.txt"))![1];
      const code = readFileSync(outfile);
      const packages = packagesOf(result.metafile);
      const usesAlipaySdk = "alipay-sdk" in packages;
      const stubbed = join(outDir, `${name}-without-sdk`, `${name}.js`);
      if (usesAlipaySdk) await bundle(join(functionsDir, `${name}.ts`), stubbed, [stubAlipaySdk]);
      figures.push({
        name,
        usesAlipaySdk,
        withoutSdkBytes: usesAlipaySdk ? readFileSync(stubbed).length : code.length,
        withoutSdkInitMs: [],
        bytes: code.length,
        gzipBytes: gzipSync(code, { level: 9 }).length,
        externals: [...new Set(output.imports.filter((i) => i.external && i.path.startsWith("@aws-sdk/")).map((i) => i.path))].sort(),
        initMs: [],
        ownInitMs: [],
        packages,
      });
    }

    progress(`bundles: cold init, ${runs} fresh processes per function (and ${runs} with @aws-sdk preloaded)`);
    const nodeBoot: number[] = [];
    // Round robin, so a slow moment of the machine does not land on one function; the first
    // round only warms the file cache and is not counted.
    for (let r = -1; r < runs; r += 1) {
      const counted = r >= 0;
      const boot = wallOf(() => child({ BENCH_BUNDLE: "node:os" }));
      if (counted) nodeBoot.push(boot);
      for (const f of figures) {
        const file = join(outDir, f.name, `${f.name}.js`);
        const total = child({ BENCH_BUNDLE: file });
        // Externals the bundle requires at load (not the lazily imported ones, e.g. client-ssm).
        const own = child({ BENCH_BUNDLE: file, BENCH_PRELOAD: f.externals.filter((e) => e !== "@aws-sdk/client-ssm").join(",") });
        const without = f.usesAlipaySdk ? child({ BENCH_BUNDLE: join(outDir, `${f.name}-without-sdk`, `${f.name}.js`) }) : total;
        if (!counted) continue;
        f.initMs.push(total);
        f.ownInitMs.push(own);
        f.withoutSdkInitMs.push(without);
      }
    }

    const rows: Cell[][] = figures.map((f) => [
      f.name,
      kib(f.bytes),
      kib(f.gzipBytes),
      f.bytes <= targetBytes ? "yes" : `NO (${num(f.bytes / targetBytes, 1)}x)`,
      num(median(f.initMs), 1),
      `${num(Math.min(...f.initMs), 1)}-${num(Math.max(...f.initMs), 1)}`,
      num(median(f.ownInitMs), 1),
      median(f.initMs) <= targetInitMs ? "yes" : "NO",
      f.usesAlipaySdk ? kib(f.withoutSdkBytes) : "-",
      f.usesAlipaySdk ? num(median(f.withoutSdkInitMs), 1) : "-",
      f.externals.map((e) => e.replace("@aws-sdk/", "")).join(" "),
    ]);
    console.log(
      table(
        `5. Bundles (esbuild: bundle, minify, node22, cjs, @aws-sdk/* external) and cold init (require in a fresh node, median of ${runs})`,
        [
          "function",
          "bundle",
          "gzip",
          `<= ${targetBytes / 1024} KB`,
          "init ms",
          "min-max",
          "own ms*",
          `<= ${targetInitMs} ms`,
          "no-sdk KB**",
          "no-sdk ms**",
          "@aws-sdk externals",
        ],
        rows,
        [
          `* own ms: the same require with the @aws-sdk externals already loaded: the bundle's own share of init.`,
          `** What-if, not deployable: the same function built with alipay-sdk replaced by an empty stub (the weight alipay-sdk brings).`,
          `A fresh node process itself takes ${num(median(nodeBoot), 0)} ms to start and exit (not included). Node ${process.version} here; Lambda runs nodejs22.x on arm64.`,
          `Built ${builtAt} from the working tree at ${tree.commit}${tree.changed.length ? `, with uncommitted changes in ${tree.changed.join(", ")}` : " (clean)"}.`,
        ],
      ),
    );

    // What the weight is: the heaviest packages, per function (KB of minified output).
    const totals = new Map<string, number>();
    for (const f of figures) for (const [pkg, bytes] of Object.entries(f.packages)) totals.set(pkg, Math.max(totals.get(pkg) ?? 0, bytes));
    const top = [...totals]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 14)
      .map(([pkg]) => pkg);
    const weightRows: Cell[][] = top.map((pkg) => [pkg, ...figures.map((f) => (f.packages[pkg] ? num(f.packages[pkg]! / 1024, 1) : "-"))]);
    weightRows.push([
      "(everything else)",
      ...figures.map((f) =>
        num(
          Object.entries(f.packages)
            .filter(([p]) => !top.includes(p))
            .reduce((n, [, b]) => n + b, 0) / 1024,
          1,
        ),
      ),
    ]);
    console.log(
      table(
        `5b. What the bundles are made of (KB of minified output per package, from esbuild's metafile)`,
        ["package", ...figures.map((f) => f.name)],
        weightRows,
        [
          `alipay-sdk brings urllib -> undici (+ qs -> side-channel -> object-inspect), formstream/urllib -> mime, mime-types -> mime-db, crypto-js, @fidm/x509 -> tweetnacl, @fidm/asn1, bignumber.js.`,
          `Functions importing alipay-sdk: ${
            figures
              .filter((f) => f.usesAlipaySdk)
              .map((f) => f.name)
              .join(", ") || "none"
          }.`,
        ],
      ),
    );
    report("bundles", {
      runs,
      builtAt,
      tree,
      nodeBootMs: median(nodeBoot),
      functions: figures.map((f) => ({
        name: f.name,
        bytes: f.bytes,
        gzipBytes: f.gzipBytes,
        initMedianMs: median(f.initMs),
        initMinMs: Math.min(...f.initMs),
        initMaxMs: Math.max(...f.initMs),
        ownInitMedianMs: median(f.ownInitMs),
        withoutAlipaySdkBytes: f.usesAlipaySdk ? f.withoutSdkBytes : undefined,
        withoutAlipaySdkInitMedianMs: f.usesAlipaySdk ? median(f.withoutSdkInitMs) : undefined,
        externals: f.externals,
        topPackages: Object.fromEntries(
          Object.entries(f.packages)
            .sort((a, b) => b[1] - a[1])
            .slice(0, 10),
        ),
      })),
    });
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** The options serverless-esbuild uses (esbuild.config.cjs, from serverless.yml). */
const deployOptions = createRequire(import.meta.url)("../../esbuild.config.cjs").options as BuildOptions;

function bundle(entry: string, outfile: string, plugins: Plugin[] = []) {
  return build({
    ...deployOptions,
    entryPoints: [entry],
    outfile,
    metafile: true,
    logLevel: "silent",
    // The deploy's own plugins (the fallbacks it swaps out) stay: this is the deployed bundle.
    plugins: [...(deployOptions.plugins ?? []), ...plugins],
  });
}

const stubAlipaySdk: Plugin = {
  name: "stub-alipay-sdk",
  setup(b) {
    b.onResolve({ filter: /^alipay-sdk$/ }, () => ({ path: "alipay-sdk", namespace: "stub" }));
    b.onLoad({ filter: /.*/, namespace: "stub" }, () => ({ contents: "export class AlipaySdk {}", loader: "js" }));
  },
};

function child(env: Record<string, string>): number {
  const out = execFileSync(process.execPath, ["-e", childScript], {
    cwd: tmpdir(),
    env: {
      PATH: process.env.PATH ?? "",
      NODE_PATH: join(projectRoot, "node_modules"),
      AWS_REGION: "ap-southeast-1",
      ...env,
    },
    encoding: "utf8",
  });
  return (JSON.parse(out) as { ms: number }).ms;
}

/** The commit the bundles are built on, and what the bundled sources hold beyond it. */
function workingTree(): { commit: string; changed: string[] } {
  const git = (...args: string[]) => {
    try {
      return execFileSync("git", args, { cwd: projectRoot, encoding: "utf8" }).trim();
    } catch {
      return "";
    }
  };
  const changed = git("status", "--porcelain", "--", "functions", "lib", "esbuild.config.cjs", "package-lock.json")
    .split("\n")
    .filter(Boolean)
    .map((line) => line.slice(3));
  const dirs = [...new Set(changed.map((path) => (path.includes("/") ? `${path.slice(0, path.lastIndexOf("/"))}/` : path)))].sort();
  const subject = git("log", "-1", "--format=%s");
  const commit = git("log", "-1", "--format=%h");
  return { commit: commit ? `${commit} ("${subject.length > 60 ? `${subject.slice(0, 59)}…` : subject}")` : "unknown", changed: dirs };
}

function wallOf(run: () => unknown): number {
  const t0 = performance.now();
  run();
  return performance.now() - t0;
}

/** Output bytes per npm package (the last node_modules/<pkg> of each input path), project files by top folder. */
function packagesOf(metafile: Metafile): Record<string, number> {
  const output = Object.entries(metafile.outputs).find(([file]) => !file.endsWith(".LEGAL.txt"))![1];
  const out: Record<string, number> = {};
  for (const [path, input] of Object.entries(output.inputs)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(path);
    const key = match ? match[1]! : `(project ${path.split("/")[0]}/)`;
    out[key] = (out[key] ?? 0) + input.bytesInOutput;
  }
  return out;
}
