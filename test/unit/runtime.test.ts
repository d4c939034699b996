// Every npm script runs on the Node major of the Lambda runtime (serverless.yml provider.runtime):
// the project's own `node` devDependency, which `npm run` puts first on PATH (node_modules/.bin).
// Started by `npm test`, this process is such a script; a `#!/usr/bin/env node` tool a script
// starts (tsx, vitest, serverless, depcruise) finds `node` on the same PATH.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readYaml } from "../../local/serverlessConfig.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const runtime = (readYaml("serverless.yml") as { provider: { runtime: string } }).provider.runtime;
const major = (version: string) => version.replace(/^[^\d]*/, "").split(".")[0];
const runtimeMajor = /^nodejs(\d+)\.x$/.exec(runtime)?.[1];
const pkg = JSON.parse(readFileSync(resolve(repo, "package.json"), "utf8")) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
};

describe(`the scripts run on the Lambda runtime's Node (${runtime})`, () => {
  it("serverless.yml names a nodejs<major>.x runtime", () => {
    expect(runtimeMajor).toMatch(/^\d+$/);
  });

  it("this test runs on that major", () => {
    expect(major(process.versions.node), `npm test ran on Node ${process.version} (${process.execPath})`).toBe(runtimeMajor);
  });

  it("the `node` a script finds on PATH is that major", () => {
    const found = execFileSync("node", ["-p", "process.version"], { encoding: "utf8" }).trim();
    expect(major(found), `node on PATH is ${found}`).toBe(runtimeMajor);
  });

  it("package.json pins the node devDependency and engines to that major", () => {
    expect(major(pkg.devDependencies.node ?? "none")).toBe(runtimeMajor);
    expect(major(pkg.engines.node)).toBe(runtimeMajor);
  });

  it("esbuild bundles for that major", () => {
    const { options } = createRequire(import.meta.url)("../../esbuild.config.cjs") as { options: { target: string } };
    expect(options.target).toBe(`node${runtimeMajor}`);
  });
});
