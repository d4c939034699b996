// The business CLI (client/cli.ts) as a developer runs it against a local stack: refunds, replays,
// argument errors in our words, and the local tools `listen` (events forwarded to the developer's
// URL, signed as in production, webhook restored on exit) and `trigger` (a real flow per event type).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyWebhook } from "../../client/webhookVerifier.js";
import { businessSystem } from "../../lib/business/registry.js";
import { signatureHeader } from "../../lib/webhookSignature.js";
import { projectRoot } from "../../local/serverlessConfig.js";
import { useStack, waitFor } from "./harness.js";

const t = useStack({ scheduleIntervalMs: 500 });
const dir = mkdtempSync(join(tmpdir(), "alipay-pay-business-cli-"));
let stackFile = "";
beforeAll(() => {
  stackFile = join(dir, "stack.json");
  writeFileSync(
    stackFile,
    JSON.stringify({ urls: t.stack.urls, keysDir: t.stack.keysDir, functionEnv: t.stack.functionEnv, resources: t.stack.resources }),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Only what a shell needs: none of the functions' variables this process has.
const bareEnv = {
  PATH: process.env.PATH ?? "",
  HOME: process.env.HOME ?? tmpdir(),
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
};

const business = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolveRun) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "client/cli.ts", ...args],
      { cwd: projectRoot, env: bareEnv, timeout: 240_000 },
      (error, stdout, stderr) => resolveRun({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
const local = (args: string[]) => business(["--local", "--stack-file", stackFile, ...args]);

describe("business CLI", () => {
  it("says what an amount is for --amount -5, abc, 0 and a missing value; unknown options in our words", { timeout: 300_000 }, async () => {
    for (const amount of ["-5", "abc", "0", "12.5"]) {
      const run = await local(["create-refund", "pay_x", "--amount", amount, "--reason", "r"]);
      expect(run.code, amount).toBe(2);
      expect(run.stderr, amount).toContain(
        `error: --amount is an amount in integer fen greater than 0 (1234 = 12.34 yuan), got ${JSON.stringify(amount)}`,
      );
    }
    const missing = await local(["create-refund", "pay_x", "--reason", "r", "--amount"]);
    expect(missing.stderr).toContain("error: --amount needs a value: an amount in integer fen greater than 0");
    const unknown = await local(["get-payment", "pay_x", "--amuont", "5"]);
    expect(unknown.stderr).toContain("error: unknown option --amuont (see --help)");
    const flag = await local(["get-payment", "pay_x", "--json=yes"]);
    expect(flag.stderr).toContain("error: --json takes no value");
    const help = await business(["--help"]);
    expect(help.stdout).toMatch(/get-refund {7}<paymentId> <refundId>/);
    expect(help.stdout).toContain("list-refunds");
  });

  it("gets and lists refunds, and shows a replayed answer as a replay", { timeout: 300_000 }, async () => {
    const { payment, attempt } = await t.openPayment("cli-refunder", 900);
    expect((await t.sim("/sim/pay", { orderString: attempt.orderString })).status).toBe(200);
    await waitFor(async () => (await t.business().getPayment(payment.paymentId)).body.status === "PAID", { what: "PAID" });
    const args = ["create-refund", payment.paymentId, "--amount", "300", "--reason", "one bag", "--idempotency-key", "cli-replay-1"];
    const first = await local(args);
    expect(first.code).toBe(0);
    expect(first.stdout.split("\n")[0]).toBe("HTTP 201");
    const refundId = JSON.parse(first.stdout.slice(first.stdout.indexOf("{"))).refundId as string;
    const again = await local(args);
    expect(again.stdout.split("\n")[0]).toBe("HTTP 201 (replayed: the answer first given to this Idempotency-Key; nothing new was done)");
    const againJson = await local([...args, "--json"]);
    expect(JSON.parse(againJson.stdout)).toMatchObject({ status: 201, replayed: true, body: { refundId } });

    const got = await local(["get-refund", payment.paymentId, refundId, "--json"]);
    expect(JSON.parse(got.stdout)).toMatchObject({ status: 200, body: { refundId, paymentId: payment.paymentId, amount: 300 } });
    const listed = await local(["list-refunds", payment.paymentId, "--json"]);
    expect(JSON.parse(listed.stdout).body.refunds.map((r: { refundId: string }) => r.refundId)).toEqual([refundId]);
    expect((await local(["get-refund", payment.paymentId])).stderr).toContain("get-refund takes two arguments: <paymentId> <refundId>");
  });
});

describe("business listen and trigger", () => {
  let hooks: Server;
  const received: Array<{ body: string; signature: string | undefined }> = [];
  let hooksUrl = "";
  let listener: ChildProcess | undefined;
  beforeAll(async () => {
    // The developer's own webhook handler.
    hooks = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      received.push({ body: Buffer.concat(chunks).toString("utf8"), signature: req.headers[signatureHeader] as string | undefined });
      res.writeHead(200).end("ok");
    });
    await new Promise<void>((r) => hooks.listen(0, "127.0.0.1", r));
    hooksUrl = `http://127.0.0.1:${(hooks.address() as { port: number }).port}/hooks`;
  });
  afterAll(async () => {
    listener?.kill("SIGKILL");
    hooks.closeAllConnections();
    await new Promise((r) => hooks.close(r));
  });

  it("forwards the shop's events, signed as in production, to the developer's URL; restores the webhook on SIGTERM", {
    timeout: 300_000,
  }, async () => {
    const original = (await businessSystem("shop", { fresh: true }))!.webhookUrl;
    listener = spawn(
      process.execPath,
      ["--import", "tsx", "client/cli.ts", "listen", "--as", "shop", "--forward-to", hooksUrl, "--stack-file", stackFile],
      { cwd: projectRoot, env: bareEnv, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    listener.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    listener.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((r) => listener!.once("exit", (code) => r(code)));
    const secretLine = await waitFor(async () => /webhook secret \(verify with it; shown once\): (\S+)/.exec(output)?.[1], {
      what: "the secret line",
      timeoutMs: 60_000,
    });
    expect(output).toContain(`Forwarding shop's events to ${hooksUrl}`);
    // The registry cache of the functions (1 s locally) runs out.
    await new Promise((r) => setTimeout(r, 1_300));

    for (const type of ["payment.succeeded", "payment.canceled", "refund.failed"]) {
      const run = await local(["trigger", type, "--as", "shop", "--json"]);
      expect(run.code, run.stderr).toBe(0);
      const { eventId } = JSON.parse(run.stdout) as { eventId: string };
      const delivered = await waitFor(async () => received.find((r) => JSON.parse(r.body).id === eventId), {
        what: `${eventId} at the developer's URL`,
        timeoutMs: 60_000,
      });
      expect(JSON.parse(delivered.body)).toMatchObject({ id: eventId, type, businessId: "shop" });
      // The secret printed once verifies it, with the verifier client/ exports.
      expect(verifyWebhook(secretLine, delivered.signature, delivered.body)).toEqual({ ok: true });
      // The listener prints the line once the developer's URL has answered: after `received` has it.
      await waitFor(async () => output.includes(`${type} ${eventId}  -> 200`), {
        what: `the listener's line for ${eventId}`,
        timeoutMs: 30_000,
      });
    }
    // None of these reached the shop's sample receiver while forwarding.
    expect([...t.stack.receivers.shop!.events.values()].filter((e) => e.type === "refund.failed")).toEqual([]);

    listener.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(output).toContain(`shop's webhook restored: ${original}`);
    expect((await businessSystem("shop", { fresh: true }))!.webhookUrl).toBe(original);
  });

  it("triggers refund.succeeded through a real refund (the shop's receiver gets it)", { timeout: 300_000 }, async () => {
    const run = await local(["trigger", "refund.succeeded", "--as", "shop", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const { eventId, refundId } = JSON.parse(run.stdout) as { eventId: string; refundId: string };
    expect(eventId).toBe(`evt_${refundId}_succeeded`);
    await waitFor(async () => t.stack.receivers.shop!.events.get(eventId), { what: eventId, timeoutMs: 60_000 });
  });

  it("explains what trigger and listen need", { timeout: 300_000 }, async () => {
    expect((await local(["trigger", "payment.exploded"])).stderr).toContain(
      "trigger takes one event type: payment.succeeded, payment.canceled, payment.expired, refund.succeeded, refund.failed",
    );
    expect((await local(["listen", "--forward-to", "localhost:8080"])).stderr).toContain("--forward-to must be an http(s) URL");
    expect((await local(["listen"])).stderr).toContain("listen needs --forward-to <url>");
  });
});
