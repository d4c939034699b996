// A business system in another AWS account. HTTP APIs have no resource policy, so it calls through a
// role in the payment center's account that its account may assume (`ops business add --account`);
// API Gateway reports such a caller as arn:aws:sts::<our account>:assumed-role/<role>/<session>,
// and the registry matches that session to the registered role. Locally the role and sts:AssumeRole
// are emulated in the keys dir (local/businessCredentials.ts); the signature is verified for real.
import { describe, expect, it } from "vitest";
import { createBusinessClient } from "../../client/businessClient.js";
import { principalMatches } from "../../lib/business/registry.js";
import { getPayment } from "../../lib/payments/repository.js";
import { assumeLocalRole, createLocalRole, localAccountId } from "../../local/businessCredentials.js";
import { identityOf } from "../../local/httpApi.js";
import { parseArgs } from "../../ops/args.js";
import { runCommand } from "../../ops/commands.js";
import type { SecretReport } from "../../ops/business.js";
import { businessOrderId, useStack, waitFor } from "./harness.js";

const t = useStack();
const businessAccount = "111122223333";
const roleName = "alipay-pay-local-biz-clinic";
const roleArn = `arn:aws:iam::${localAccountId}:role/${roleName}`;

function clientFor(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string }) {
  return createBusinessClient({ baseUrl: t.stack.urls.api, region: t.stack.service.region, credentials });
}

describe("a business system in another AWS account", () => {
  it("is registered with --account: a role here, assumable by its account, whose sessions create payments for it", async () => {
    const added = await runCommand(
      parseArgs(["business", "add", "clinic", "--account", businessAccount, "--webhook-url", "http://127.0.0.1:9/events"]),
      { keysDir: t.stack.keysDir },
    );
    const report = added.data as SecretReport;
    expect(report.system.principals).toEqual([roleArn]);
    expect(report.crossAccount).toMatchObject({
      callerAccount: businessAccount,
      roleArn,
      callerArn: `arn:aws:sts::${localAccountId}:assumed-role/${roleName}/<session>`,
    });
    // What an administrator runs in AWS: trust the business's account, allow the business routes.
    expect(added.text).toContain(`aws iam create-role --role-name ${roleName}`);
    expect(added.text).toContain(`"Principal":{"AWS":"arn:aws:iam::${businessAccount}:root"},"Action":"sts:AssumeRole"`);
    expect(added.text).toContain(`aws iam put-role-policy --role-name ${roleName}`);
    expect(added.text).toContain('"Action":"execute-api:Invoke"');

    // The business's service assumes the role (from its own account) and signs with the session.
    const session = assumeLocalRole(t.stack.keysDir, { roleArn, sessionName: "clinic-orders", callerAccount: businessAccount });
    expect(session.accessKeyId).toMatch(/^ASIA/);
    // As API Gateway reports it: the role's account, the role's name (never its path), the session.
    expect(identityOf(session.accessKeyId, { ...session, roleArn, sessionName: "clinic-orders" })).toMatchObject({
      accountId: localAccountId,
      userArn: `arn:aws:sts::${localAccountId}:assumed-role/${roleName}/clinic-orders`,
    });
    const order = businessOrderId("clinic");
    // The registry is re-read within BUSINESS_CACHE_SECONDS (1 s locally).
    const created = await waitFor(async () => {
      const answer = await clientFor(session).createPayment(
        { businessOrderId: order, amount: 880, subject: "Check-up", userId: "dana" },
        `k-${order}`,
      );
      return answer.status === 201 ? answer : undefined;
    });
    const paymentId = (created.body as { paymentId: string }).paymentId;
    expect(await getPayment(paymentId)).toMatchObject({ businessId: "clinic", businessOrderId: order });
    // Another session of the same role is the same caller.
    const other = assumeLocalRole(t.stack.keysDir, { roleArn, sessionName: "clinic-billing", callerAccount: businessAccount });
    expect((await clientFor(other).getPayment(paymentId)).status).toBe(200);
  });

  it("lets no other account assume the role, and no role of the business's own account call", async () => {
    expect(() => assumeLocalRole(t.stack.keysDir, { roleArn, sessionName: "intruder", callerAccount: "444455556666" })).toThrow(
      /AccessDenied/,
    );
    // A role of the same name in the business's account: its sessions are not the registered role's.
    const theirs = `arn:aws:iam::${businessAccount}:role/${roleName}`;
    createLocalRole(t.stack.keysDir, theirs, businessAccount);
    const session = assumeLocalRole(t.stack.keysDir, { roleArn: theirs, sessionName: "clinic-orders", callerAccount: businessAccount });
    const order = businessOrderId("clinic");
    const refused = await clientFor(session).createPayment(
      { businessOrderId: order, amount: 880, subject: "Check-up", userId: "dana" },
      `k-${order}`,
    );
    expect(refused.status).toBe(403);
    expect(principalMatches(`arn:aws:sts::${businessAccount}:assumed-role/${roleName}/clinic-orders`, roleArn)).toBe(false);
    expect(principalMatches(`arn:aws:sts::${localAccountId}:assumed-role/${roleName}/clinic-orders`, roleArn)).toBe(true);
  });

  it("refuses --account with a bad id or the payment center's own", async () => {
    await expect(
      runCommand(parseArgs(["business", "add", "clinic2", "--account", "12345", "--webhook-url", "http://127.0.0.1:9/events"]), {
        keysDir: t.stack.keysDir,
      }),
    ).rejects.toThrow(/12-digit AWS account id/);
    await expect(
      runCommand(parseArgs(["business", "add", "clinic2", "--account", localAccountId, "--webhook-url", "http://127.0.0.1:9/events"]), {
        keysDir: t.stack.keysDir,
      }),
    ).rejects.toThrow(/the payment center's own account/);
    expect(() => parseArgs(["business", "add", "clinic2", "--webhook-url", "https://x.test/e"])).toThrow(
      /--principal is required \(or --account\)/,
    );
  });
});
