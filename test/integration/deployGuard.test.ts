// A stage other than `local` cannot be packaged or deployed half-configured: every parameter
// serverless.yml uses without a default must be given, none may be a placeholder, and osls stops
// with one message listing all of them before it builds or calls AWS (scripts/requiredParamsPlugin.cjs).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot, readYaml } from "../../local/serverlessConfig.js";
import { referencedParams, stageProblems } from "../../scripts/stageParams.cjs";
import { deployableParams, paramOptions } from "./stageParams.js";

const configText = readFileSync(join(projectRoot, "serverless.yml"), "utf8");
const config = readYaml("serverless.yml") as { params: Record<string, Record<string, unknown>> };
const required = [
  "alipayAppId",
  "alipaySellerId",
  "alipayNotifyUrl",
  "jwtIssuerUrl",
  "jwtAudience",
  "deploymentPrefix",
  "peakPaymentsPerSecond",
  "alipayQueryRatePerSecond",
  "pageEmail",
  "pagerHttpsEndpoint",
  "ticketEmail",
];

/** osls with no AWS credentials that work: nothing here may get as far as calling AWS. */
function serverless(args: string[]) {
  const run = spawnSync("npx", ["serverless", ...args], {
    cwd: projectRoot,
    encoding: "utf8",
    timeout: 120_000,
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: "AKIDGUARDTEST",
      AWS_SECRET_ACCESS_KEY: "guard-test",
      AWS_PROFILE: "",
      AWS_REGION: "ap-southeast-1",
    },
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe("stage parameters", () => {
  it("lists every parameter used without a default, in serverless.yml and the files it includes", () => {
    const used = referencedParams(projectRoot, configText);
    for (const name of required) expect(used).toContain(name);
    // infra/iam.yml's, through ${file(...)}
    expect(used).toContain("secretsKmsKeyArn");
    const missing = stageProblems({ serviceDir: projectRoot, configText, config, stage: "prod" });
    expect(missing.filter((p) => p.problem === "missing").map((p) => p.name)).toEqual([...required].sort());
    // No placeholder is left as any parameter's default without being reported.
    for (const [name, value] of Object.entries(config.params.default ?? {})) {
      if (/example\.com|^20(21|88)0{12}$/.test(String(value))) expect(missing.map((p) => p.name)).toContain(name);
    }
  });

  it("needs nothing for the local stage, and nothing more than the tests' complete set", () => {
    expect(stageProblems({ serviceDir: projectRoot, configText, config, stage: "local" })).toEqual([]);
    expect(stageProblems({ serviceDir: projectRoot, configText, config, stage: "prod", cli: deployableParams })).toEqual([]);
  });

  it("refuses a placeholder given explicitly", () => {
    const problems = stageProblems({
      serviceDir: projectRoot,
      configText,
      config,
      stage: "prod",
      cli: { ...deployableParams, alipayAppId: "2021000000000000", alipayNotifyUrl: "https://pay.example.com/alipay/notify" },
    });
    expect(problems.map((p) => `${p.name} ${p.problem}`)).toEqual(["alipayAppId placeholder", "alipayNotifyUrl placeholder"]);
  });
});

describe("serverless package / deploy of an unconfigured stage", () => {
  it.each([["package"], ["deploy"]])(
    "%s --stage prod stops with one message listing every missing parameter",
    (command) => {
      const { status, output } = serverless([command, "--stage", "prod", "--param=alipayAppId=2021004100000001"]);
      expect(status).not.toBe(0);
      expect(output.match(/Stage "prod" is not fully configured/g)).toHaveLength(1);
      for (const name of required.filter((n) => n !== "alipayAppId")) expect(output).toContain(`- ${name}: no value`);
      expect(output).not.toContain("- alipayAppId");
      expect(output).toContain("npm run ops -- preflight --stage prod");
      // Stopped before building anything or asking AWS for credentials.
      expect(output).not.toMatch(/Packaging|credentials|Cannot resolve variable/i);
    },
    120_000,
  );

  it("names a placeholder given on the command line", () => {
    const { status, output } = serverless(["package", "--stage", "prod", ...paramOptions({ alipaySellerId: "2088000000000000" })]);
    expect(status).not.toBe(0);
    expect(output).toContain('- alipaySellerId: "2088000000000000" (--param) is a placeholder');
  }, 120_000);
});
