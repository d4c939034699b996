// docs/webhooks.md's verification code, run on a real event: the local stack delivers a
// payment.succeeded to a webhook of this test's, and the TypeScript verifier (client/), the Python
// snippet (python3), the Java snippet (java, single-file source launch) and the Go snippet (go run,
// offline; skipped where the machine has no go: .ci/run installs Debian's golang-go) are each given
// its raw body and signature header, then the same event tampered, late, early, and signed during a
// rotation.
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyWebhook } from "../../client/webhookVerifier.js";
import { businessSystem, putBusinessSystem } from "../../lib/business/registry.js";
import { signatureHeader } from "../../lib/webhookSignature.js";
import { registeredWebhookSecretFile } from "../../local/businessSystems.js";
import { projectRoot } from "../../local/serverlessConfig.js";
import { useStack, waitFor } from "./harness.js";

const t = useStack();
const dir = mkdtempSync(join(tmpdir(), "alipay-pay-webhooks-"));
const doc = readFileSync(join(projectRoot, "docs", "webhooks.md"), "utf8");
const snippet = (language: string) => {
  const found = new RegExp("```" + language + "\\n([\\s\\S]*?)```").exec(doc);
  if (!found) throw new Error(`no ${language} block in docs/webhooks.md`);
  return found[1]!;
};

let hooks: Server;
let event: { body: string; header: string; secret: string; t: number };
const bodyFile = join(dir, "body.json");
const tamperedFile = join(dir, "tampered.json");

beforeAll(async () => {
  const deliveries: Array<{ body: string; header: string }> = [];
  hooks = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    deliveries.push({ body: Buffer.concat(chunks).toString("utf8"), header: String(req.headers[signatureHeader]) });
    res.writeHead(200).end();
  });
  await new Promise<void>((r) => hooks.listen(0, "127.0.0.1", r));
  const shop = (await businessSystem("shop", { fresh: true }))!;
  await putBusinessSystem({ ...shop, webhookUrl: `http://127.0.0.1:${(hooks.address() as { port: number }).port}/hooks` });
  // The functions' registry cache (1 s locally) runs out.
  await new Promise((r) => setTimeout(r, 1_300));
  // A real payment, with poison text in its subject: the body's bytes are not ASCII.
  const { payment, attempt } = await t.openPayment("webhook-verifier", 1234, { subject: '咖啡豆 ☕ "dark", 1kg' });
  expect((await t.sim("/sim/pay", { orderString: attempt.orderString })).status).toBe(200);
  const delivered = await waitFor(async () => deliveries.find((d) => d.body.includes(`evt_${payment.paymentId}_succeeded`)), {
    what: "payment.succeeded at the test's webhook",
  });
  const secret = readFileSync(await registeredWebhookSecretFile(t.stack.keysDir, "shop"), "utf8").trim();
  event = { ...delivered, secret, t: Number(/t=(\d+)/.exec(delivered.header)![1]) };
  writeFileSync(bodyFile, event.body);
  writeFileSync(tamperedFile, event.body.replace('"amount":1234', '"amount":1'));
  expect(readFileSync(tamperedFile, "utf8")).not.toBe(event.body);
});
afterAll(async () => {
  hooks?.closeAllConnections();
  await new Promise((r) => hooks?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** Whether the machine has a Go toolchain (without one the Go case is skipped, saying so). */
const goInstalled = (() => {
  try {
    execFileSync("go", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** The same event as it would look signed during a rotation (the old secret's v1 first). */
const rotatingHeader = () => {
  const [time, v1] = event.header.split(",");
  return `${time},v1=${"0".repeat(64)},${v1}`;
};

const run = (command: string, args: string[], env?: NodeJS.ProcessEnv) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolveRun) => {
    execFile(command, args, { cwd: dir, timeout: 120_000, env }, (error, stdout, stderr) =>
      resolveRun({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout: stdout.trim(), stderr }),
    );
  });

/** Every language's verdicts on the real event: [args after the command's own, expected exit code]. */
const cases = (): Array<[string, string[], number]> => [
  ["the real event", [event.secret, event.header, bodyFile, String(event.t)], 0],
  ["the real event, now", [event.secret, event.header, bodyFile], 0],
  ["a tampered body", [event.secret, event.header, tamperedFile, String(event.t)], 1],
  ["another secret", [`${event.secret}x`, event.header, bodyFile, String(event.t)], 1],
  ["two v1 during a rotation", [event.secret, rotatingHeader(), bodyFile, String(event.t)], 0],
  ["299 s late", [event.secret, event.header, bodyFile, String(event.t + 299)], 0],
  ["301 s late", [event.secret, event.header, bodyFile, String(event.t + 301)], 1],
  ["301 s early", [event.secret, event.header, bodyFile, String(event.t - 301)], 1],
];

describe("docs/webhooks.md's verifiers on a real event", () => {
  it("TypeScript: client/webhookVerifier.ts", () => {
    for (const [name, [secret, header, file, now], code] of cases()) {
      const verdict = verifyWebhook(secret!, header, readFileSync(file!), now ? { now: Number(now) } : {});
      expect(verdict.ok, name).toBe(code === 0);
    }
  });

  // Each snippet's own main: prints ok / refused, exits 0 / 1. `go run` builds the file and runs it,
  // offline and in this test's temp dir (standard library only: no module is fetched); when the
  // program exits 1, go run itself exits 1 and reports it on stderr ("exit status 1"), which is the
  // only stderr it may add.
  const snippets: Array<{
    name: string;
    language: string;
    fileName: string;
    command: string[];
    env?: NodeJS.ProcessEnv;
    refusalStderr?: string;
    skip?: string;
  }> = [
    { name: "Python (python3)", language: "python", fileName: "webhook_verifier.py", command: ["python3"] },
    {
      name: "Java (java WebhookVerifier.java, Java 17 single-file source launch)",
      language: "java",
      fileName: "WebhookVerifier.java",
      command: ["java"],
    },
    {
      name: "Go (go run webhook_verifier.go)",
      language: "go",
      fileName: "webhook_verifier.go",
      command: ["go", "run"],
      env: {
        ...process.env,
        GOCACHE: join(dir, "go-cache"),
        GOPATH: join(dir, "go-path"),
        GOENV: "off",
        GOFLAGS: "",
        GOPROXY: "off",
        GOTOOLCHAIN: "local",
        GOWORK: "off",
      },
      refusalStderr: "exit status 1\n",
      skip: goInstalled ? undefined : "no `go` on this machine (apt-get install golang-go; .ci/run installs it)",
    },
  ];
  for (const { name, language, fileName, command, env, refusalStderr = "", skip } of snippets) {
    it.skipIf(skip)(skip ? `${name}: skipped, ${skip}` : name, { timeout: 300_000 }, async () => {
      const file = join(dir, fileName);
      writeFileSync(file, snippet(language));
      for (const [what, args, code] of cases()) {
        const result = await run(command[0]!, [...command.slice(1), file, ...args], env);
        expect({ what, code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({
          what,
          code,
          stdout: code === 0 ? "ok" : "refused",
          stderr: code === 0 ? "" : refusalStderr,
        });
      }
    });
  }
});
