// Keys checked at cold start in exactly the functions that hold them: those whose role may read the
// app's private key (infra/iam.yml). One that holds them unchecked fails only at its first signature;
// one that checks them without holding them would fail every cold start with AccessDenied.
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");

function keyHoldersByRole(): string[] {
  const iam = readFileSync(join(root, "infra", "iam.yml"), "utf8");
  return iam
    .split(/^\s*- PolicyName: /m)
    .slice(1)
    .filter((policy) => policy.includes("alipay-app-private-key"))
    .map((policy) => policy.slice(0, policy.indexOf("\n")).trim());
}

describe("the cold-start key check (alipayKeysChecked)", () => {
  it("is in every function whose role reads the Alipay keys, and only there", () => {
    const holders = keyHoldersByRole().sort();
    expect(holders.length).toBeGreaterThanOrEqual(6);
    const checking = readdirSync(join(root, "functions"))
      .filter((file) => /\.use\(alipayKeysChecked\(\)\)/.test(readFileSync(join(root, "functions", file), "utf8")))
      .map((file) => file.replace(/\.ts$/, ""))
      .sort();
    expect(checking).toEqual(holders);
  });
});
