// The architecture rules of `npm run lint` (.dependency-cruiser.cjs), run by dependency-cruiser
// over a small tree that breaks each of them once: every break is found, and nothing else.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const tree = mkdtempSync(join(tmpdir(), "dependency-rules-"));

const files: Record<string, string> = {
  "tsconfig.json": JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", strict: true } }),
  "rootConfig.ts": "export const rootConfig = 1;\n",
  "lib/money.ts": "export const money = 1;\n",
  "lib/cycleA.ts": 'import { b } from "./cycleB.js";\nexport const a = () => b;\n',
  "lib/cycleB.ts": 'import { a } from "./cycleA.js";\nexport const b = () => a;\n',
  "lib/leak.ts": 'import { helper } from "../test/helper.js";\nexport const leak = helper;\n',
  "test/helper.ts": "export const helper = 1;\n",
  "local/stack.ts": "export const stack = 1;\n",
  // What a handler may import: lib/, packages, Node's own modules.
  "functions/ok.ts": [
    'import { readFileSync } from "node:fs";',
    'import middy from "@middy/core";',
    'import type { Context } from "aws-lambda";',
    'import { money } from "../lib/money.js";',
    "export const ok = [readFileSync, middy, money] as unknown as Context;",
    "",
  ].join("\n"),
  "functions/reachesLocal.ts": 'import { stack } from "../local/stack.js";\nexport const x = stack;\n',
  "functions/reachesRoot.ts": 'import { rootConfig } from "../rootConfig.js";\nexport const y = rootConfig;\n',
  "functions/reachesHandler.ts": 'import { ok } from "./ok.js";\nexport const z = ok;\n',
};

afterAll(() => rmSync(tree, { recursive: true, force: true }));

function violations(): string[] {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(tree, path)), { recursive: true });
    writeFileSync(join(tree, path), text);
  }
  symlinkSync(join(repo, "node_modules"), join(tree, "node_modules"));
  // The `depcruise` command as the package declares it (its file was renamed in dependency-cruiser 18).
  const pkgDir = join(repo, "node_modules/dependency-cruiser");
  const cli = join(
    pkgDir,
    (JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { bin: Record<string, string> }).bin.depcruise!,
  );
  const config = join(repo, ".dependency-cruiser.cjs");
  let output: string;
  try {
    output = execFileSync(process.execPath, [cli, "functions", "lib", "local", "test", "--config", config, "--output-type", "json"], {
      cwd: tree,
      encoding: "utf8",
    });
  } catch (error) {
    // Violations make the exit code non-zero; the report is still on stdout.
    output = (error as { stdout: string }).stdout;
  }
  const report = JSON.parse(output) as { summary: { violations: Array<{ from: string; to: string; rule: { name: string } }> } };
  // A cycle is reported once, from whichever of its modules came first.
  return report.summary.violations
    .map((v) =>
      v.rule.name === "no-circular" ? `no-circular: ${[v.from, v.to].sort().join(" <-> ")}` : `${v.rule.name}: ${v.from} -> ${v.to}`,
    )
    .sort();
}

describe("dependency rules (npm run lint)", () => {
  it("find every import a handler, lib/ or a cycle must not make, and nothing else", () => {
    expect(violations()).toEqual(
      [
        "functions-only-lib: functions/reachesLocal.ts -> local/stack.ts",
        "functions-only-lib: functions/reachesRoot.ts -> rootConfig.ts",
        "functions-not-each-other: functions/reachesHandler.ts -> functions/ok.ts",
        "lib-stays-inside: lib/leak.ts -> test/helper.ts",
        "no-circular: lib/cycleA.ts <-> lib/cycleB.ts",
      ].sort(),
    );
  }, 30_000);
});
