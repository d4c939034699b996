// cfn-lint (AWS's CloudFormation linter: resource schemas, IAM policy grammar, intrinsic functions)
// on the template a production-like stage packages to (`npm run package -- --stage prod ...`):
// no error, both as deployed by default (secrets under aws/ssm, public-key mode) and hardened
// (a customer-managed KMS key, certificate mode). The warnings .cfnlintrc.yaml leaves out are
// stage choices made when the template is built. Skipped, saying so, where cfn-lint is not installed;
// .ci/run runs it where it is.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../../local/serverlessConfig.js";
import { runTempDirVariable } from "../runTempDir.js";
import { certificateModeParams, customerManagedKeyParams, productionParamOptions } from "./stageParams.js";

const version = spawnSync("cfn-lint", ["--version"], { encoding: "utf8" });
const available = version.status === 0;
const skipped = available ? "" : " [skipped: cfn-lint is not on PATH (pip install cfn-lint, or pipx)]";
if (!available) console.warn(`cfnLint.test.ts${skipped}`);

interface Finding {
  Level: "Error" | "Warning" | "Informational";
  Message: string;
  Rule: { Id: string };
  Location: { Path: Array<string | number> };
}

/** Packages the prod stage with `overrides` into a temp dir; returns the template and cfn-lint's findings. */
function packageAndLint(overrides: Record<string, string>): { template: { Resources: Record<string, unknown> }; findings: Finding[] } {
  const out = mkdtempSync(join(process.env[runTempDirVariable] ?? tmpdir(), "alipay-pay-prod-"));
  try {
    execFileSync("npm", ["run", "--silent", "package", "--", "--stage", "prod", ...productionParamOptions(overrides), "--package", out], {
      cwd: projectRoot,
      stdio: "pipe",
      timeout: 180_000,
    });
    const path = join(out, "cloudformation-template-update-stack.json");
    // From the project root: cfn-lint reads .cfnlintrc.yaml there.
    const run = spawnSync("cfn-lint", ["--format", "json", path], { cwd: projectRoot, encoding: "utf8", timeout: 180_000 });
    // The exit status is a bit mask of the levels found (2 error, 4 warning, 8 informational);
    // anything else (a crash, a bad option) is not a lint result.
    if (run.error || run.status === null || run.status > 14 || run.status % 2 === 1) {
      throw new Error(`cfn-lint did not run: status ${run.status}, ${run.error ?? ""}${run.stderr}`);
    }
    return { template: JSON.parse(readFileSync(path, "utf8")), findings: JSON.parse(run.stdout || "[]") as Finding[] };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const errors = (findings: Finding[]) =>
  findings.filter((f) => f.Level === "Error").map((f) => `${f.Rule.Id} ${f.Location.Path.join("/")}: ${f.Message}`);

describe(`cfn-lint on the production-like stage's template${skipped}`, () => {
  it.skipIf(!available)(
    "finds no error with the secrets under aws/ssm, in public-key mode",
    () => {
      const { template, findings } = packageAndLint({});
      expect(Object.keys(template.Resources)).toContain("CheckPaymentLambdaFunction");
      expect(JSON.stringify(template.Resources)).toContain("alipay-pay-prod-checkPayment");
      expect(errors(findings)).toEqual([]);
    },
    240_000,
  );

  it.skipIf(!available)(
    "finds no error with the secrets under a customer-managed KMS key, in certificate mode",
    () => {
      const { template, findings } = packageAndLint({ ...customerManagedKeyParams, ...certificateModeParams });
      expect(JSON.stringify(template.Resources)).toContain(customerManagedKeyParams.secretsKmsKeyArn);
      expect(errors(findings)).toEqual([]);
    },
    240_000,
  );
});
