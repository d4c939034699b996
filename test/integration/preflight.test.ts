// `npm run ops -- preflight --stage <s>` against a fake AWS account: SSM (AWS JSON 1.1), Lambda
// (REST JSON) and SNS (query protocol) answered by a small HTTP server here, the AWS SDK's own
// clients pointed at it with AWS_ENDPOINT_URL, the keys checked by lib/alipay's real parsers.
// The local stage is checked against the local stack's own key files (local/stack.ts).
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { projectRoot } from "../../local/serverlessConfig.js";
import { ensureLocalCertificates, ensureLocalKeys } from "../../local/stack.js";
import { preflight } from "../../ops/preflight.js";
import { generateRsaKeyPair } from "../../simulator/keys.js";
import { deployableParams } from "./stageParams.js";

const region = "ap-southeast-1";
const account = "111122223333";
const stage = "preflightci";

interface Subscription {
  Protocol: string;
  Endpoint: string;
  SubscriptionArn: string;
}
/** What the fake account holds; every test sets it up from scratch. */
interface FakeAccount {
  parameters: Record<string, string>;
  limit: number;
  unreserved: number;
  reserved: Record<string, number>;
  topics: Record<string, Subscription[]>;
  /** DynamoDB's table-level throughput limits (DescribeLimits). */
  tableMaxWrites: number;
  tableMaxReads: number;
}
let fake: FakeAccount;
const calls: string[] = [];
let server: Server;
let endpoint = "";

const xml = (action: string, result: string) =>
  `<${action}Response xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><${action}Result>${result}</${action}Result>` +
  `<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></${action}Response>`;
const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;");

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/x-amz-json-1.1", ...headers });
        res.end(JSON.stringify(value));
      };
      const target = req.headers["x-amz-target"];
      if (target === "DynamoDB_20120810.DescribeLimits") {
        calls.push("dynamodb DescribeLimits");
        return json(200, {
          AccountMaxReadCapacityUnits: 80_000,
          AccountMaxWriteCapacityUnits: 80_000,
          TableMaxReadCapacityUnits: fake.tableMaxReads,
          TableMaxWriteCapacityUnits: fake.tableMaxWrites,
        });
      }
      if (target === "AmazonSSM.GetParameter") {
        const { Name } = JSON.parse(body) as { Name: string };
        calls.push(`ssm GetParameter ${Name}`);
        const value = fake.parameters[Name];
        if (value === undefined) return json(400, { __type: "ParameterNotFound", message: "" });
        return json(200, { Parameter: { Name, Type: "SecureString", Value: value, Version: 1 } });
      }
      const url = new URL(req.url ?? "/", "http://x");
      if (req.method === "GET" && url.pathname === "/2016-08-19/account-settings") {
        calls.push("lambda GetAccountSettings");
        return json(200, {
          AccountLimit: { ConcurrentExecutions: fake.limit, UnreservedConcurrentExecutions: fake.unreserved },
          AccountUsage: { FunctionCount: 0 },
        });
      }
      const concurrency = /^\/2019-09-30\/functions\/([^/]+)\/concurrency$/.exec(url.pathname);
      if (req.method === "GET" && concurrency) {
        const fn = decodeURIComponent(concurrency[1]!);
        calls.push(`lambda GetFunctionConcurrency ${fn}`);
        const reserved = fake.reserved[fn];
        if (reserved === undefined) {
          return json(404, { Type: "User", Message: `Function not found: ${fn}` }, { "x-amzn-errortype": "ResourceNotFoundException" });
        }
        return json(200, { ReservedConcurrentExecutions: reserved });
      }
      const form = new URLSearchParams(body);
      const action = form.get("Action");
      res.writeHead(200, { "content-type": "text/xml" });
      if (action === "ListTopics") {
        calls.push("sns ListTopics");
        const members = Object.keys(fake.topics).map((arn) => `<member><TopicArn>${arn}</TopicArn></member>`);
        return res.end(xml(action, `<Topics>${members.join("")}</Topics>`));
      }
      if (action === "ListSubscriptionsByTopic") {
        const arn = form.get("TopicArn")!;
        calls.push(`sns ListSubscriptionsByTopic ${arn}`);
        const members = (fake.topics[arn] ?? []).map(
          (s) =>
            `<member><TopicArn>${arn}</TopicArn><Protocol>${s.Protocol}</Protocol><SubscriptionArn>${escapeXml(s.SubscriptionArn)}</SubscriptionArn>` +
            `<Owner>${account}</Owner><Endpoint>${escapeXml(s.Endpoint)}</Endpoint></member>`,
        );
        return res.end(xml(action, `<Subscriptions>${members.join("")}</Subscriptions>`));
      }
      calls.push(`unexpected ${req.method} ${req.url} ${target ?? action ?? ""}`);
      res.writeHead(400);
      res.end();
    });
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: "AKIDPREFLIGHT",
    AWS_SECRET_ACCESS_KEY: "preflight",
    AWS_REGION: region,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  });
});

afterAll(async () => {
  await new Promise((closed) => server.close(closed));
});

const app = generateRsaKeyPair();
const alipay = generateRsaKeyPair();
const ssmName = (name: string) => `/alipay-pay/${stage}/${name}`;
const topicArn = `arn:aws:sns:${region}:${account}:alipay-pay-${stage}-page`;
const ticketTopicArn = `arn:aws:sns:${region}:${account}:alipay-pay-${stage}-ticket`;

beforeEach(() => {
  calls.length = 0;
  fake = {
    parameters: { [ssmName("alipay-app-private-key")]: app.privateKeyPkcs1, [ssmName("alipay-public-key")]: alipay.publicKey },
    limit: 1000,
    unreserved: 1000,
    reserved: {},
    tableMaxWrites: 40_000,
    tableMaxReads: 40_000,
    topics: {
      [topicArn]: [{ Protocol: "email", Endpoint: "payments-oncall@ci.test", SubscriptionArn: `${topicArn}:5f1c` }],
      [ticketTopicArn]: [{ Protocol: "email", Endpoint: "payments-tickets@ci.test", SubscriptionArn: `${ticketTopicArn}:7a2d` }],
    },
  };
});

describe("preflight", () => {
  it("passes a ready account, and only reads", async () => {
    // A value kept in SSM (as params.<stage> may name it: \${ssm:/...}) is read from there.
    fake.parameters[ssmName("notify-url")] = "https://pay.ci.test/alipay/notify";
    const report = await preflight({ stage, params: { ...deployableParams, alipayNotifyUrl: `\${ssm:${ssmName("notify-url")}}` } });
    expect(report.findings).toEqual([]);
    expect(report.passed).toContain("notify URL: https://pay.ci.test/alipay/notify");
    expect(report.passed.join("\n")).toMatch(/secrets: the Alipay keys parse and match/);
    expect(report.passed.join("\n")).toMatch(/deployment prefix: out_trade_no ci_<paymentId>_<n>/);
    expect(report.passed.join("\n")).toMatch(/concurrency: limit 1000, 1000 unreserved; reserving alipayNotify 50 leaves 950/);
    expect(report.passed.join("\n")).toMatch(/capacity: Lambda concurrency 1000 >= 1000 \(sized for 50 payments\/s\)/);
    expect(report.passed.join("\n")).toMatch(/capacity: DynamoDB table-level write throughput 40000 >= 40000/);
    expect(report.passed.join("\n")).toMatch(/alarm topic PageTopic: 1 confirmed/);
    expect(report.passed.join("\n")).toMatch(/alarm topic TicketTopic: 1 confirmed/);
    expect(
      calls.filter(
        (c) =>
          !/ GetParameter | GetAccountSettings|GetFunctionConcurrency |DescribeLimits|ListTopics|ListSubscriptionsByTopic /.test(`${c} `),
      ),
    ).toEqual([]);
  });

  it("finds what would break the first deploy, each with the command that fixes it", async () => {
    // The app's own public key where Alipay's belongs; a placeholder notify URL; no app id at all;
    // a new account's concurrency; an alarm subscription nobody confirmed.
    fake.parameters[ssmName("alipay-public-key")] = app.publicKey;
    fake.limit = 100;
    fake.unreserved = 100;
    fake.topics[topicArn] = [{ Protocol: "email", Endpoint: "payments-oncall@ci.test", SubscriptionArn: "PendingConfirmation" }];
    const { alipayAppId: _, ...params } = deployableParams;
    const report = await preflight({ stage, params: { ...params, alipayNotifyUrl: "https://pay.example.com/alipay/notify" } });
    const byCheck = Object.fromEntries(report.findings.map((f) => [f.check, f]));
    expect(report.findings.map((f) => f.check).sort()).toEqual(["alarm-topics", "concurrency", "parameters", "parameters", "secrets"]);
    expect(report.findings.filter((f) => f.check === "parameters")).toEqual([
      { check: "parameters", problem: "alipayAppId has no value", fix: expect.stringContaining('--param="alipayAppId=<value>"') },
      {
        check: "parameters",
        problem: 'alipayNotifyUrl is the placeholder "https://pay.example.com/alipay/notify" (--param)',
        fix: expect.stringContaining(`or set it under params.${stage} in serverless.yml`),
      },
    ]);
    expect(byCheck.secrets!.problem).toMatch(/ALIPAY_PUBLIC_KEY holds the app's own public key/);
    expect(byCheck.secrets!.fix).toMatch(/aws ssm put-parameter .*--type SecureString --overwrite/);
    expect(byCheck.concurrency!.problem).toMatch(/limit is 100 with 100 unreserved: reserving alipayNotify 50 would leave 50/);
    // One quota request covers the reservation's floor (200) and what the stage's peak needs (1,000).
    expect(byCheck.concurrency!.problem).toMatch(/; the stage's peak \(50 payments\/s\) needs 1000$/);
    expect(byCheck.concurrency!.fix).toMatch(
      /aws service-quotas request-service-quota-increase --region ap-southeast-1 --service-code lambda --quota-code L-B99A9384 --desired-value 1000/,
    );
    expect(byCheck["alarm-topics"]!.problem).toMatch(/payments-oncall@ci.test is PendingConfirmation/);
    expect(byCheck["alarm-topics"]!.fix).toContain(`aws sns subscribe --region ${region} --topic-arn ${topicArn} --protocol email`);
    // No key text anywhere in the report.
    const printed = JSON.stringify(report);
    for (const pem of [app.privateKeyPkcs1, app.publicKey, alipay.publicKey]) expect(printed).not.toContain(pem.split("\n")[1]);
  });

  it("finds missing SSM parameters, a non-https notify URL, and counts what the stage's functions reserve already", async () => {
    delete fake.parameters[ssmName("alipay-app-private-key")];
    fake.limit = 1000;
    fake.unreserved = 110; // 40 of the 890 reserved are this stage's alipayNotify's own, replaced by 50
    fake.reserved[`alipay-pay-${stage}-alipayNotify`] = 40;
    fake.topics = {};
    const report = await preflight({
      stage,
      params: {
        ...deployableParams,
        alipayNotifyUrl: "http://pay.ci.test/alipay/notify",
        deploymentPrefix: "stg-eu",
        alipaySellerId: `\${ssm:${ssmName("seller-id")}}`,
      },
    });
    expect(report.findings.map((f) => `${f.check}: ${f.problem}`)).toEqual([
      `parameters: alipaySellerId names the SSM parameter ${ssmName("seller-id")}, which does not exist`,
      'parameters: deploymentPrefix "stg-eu" must be 1-8 letters or digits (it starts every out_trade_no; Alipay allows letters, digits and _)',
      `secrets: alipayAppPrivateKey: the SSM parameter ${ssmName("alipay-app-private-key")} does not exist`,
      "notify-url: alipayNotifyUrl is http: Alipay must reach it over https",
    ]);
    expect(report.findings[0]!.fix).toBe(
      `aws ssm put-parameter --region ${region} --type String --name ${ssmName("seller-id")} --value '<alipaySellerId>'`,
    );
    expect(report.findings[1]!.fix).toContain(`--param="deploymentPrefix=${stage.slice(0, 8)}"`);
    expect(report.findings[2]!.fix).toBe(
      `aws ssm put-parameter --region ${region} --type SecureString --name ${ssmName("alipay-app-private-key")} --value file://app-private-key.pem`,
    );
    expect(report.passed.join("\n")).toMatch(/110 unreserved; reserving alipayNotify 50 leaves 100 /);
    expect(report.notes).toEqual([
      "alarm topic PageTopic: not deployed yet; run preflight again after the first deploy to check its subscriptions",
      "alarm topic TicketTopic: not deployed yet; run preflight again after the first deploy to check its subscriptions",
    ]);
  });

  it("checks certificate mode: the app certificate must be the app key's", async () => {
    const dir = mkdtempSync(join(tmpdir(), "alipay-preflight-"));
    try {
      const keys = ensureLocalKeys(dir);
      const other = ensureLocalKeys(join(dir, "other"));
      const mine = ensureLocalCertificates(dir, "2021004100000001", keys);
      const foreign = ensureLocalCertificates(join(dir, "other"), "2021004100000001", other);
      fake.parameters = {
        [ssmName("alipay-app-private-key")]: keys.appPrivateKey,
        [ssmName("alipay-app-cert")]: foreign.appCert,
        [ssmName("alipay-public-cert")]: mine.alipayCert,
        [ssmName("alipay-root-cert")]: mine.rootCert,
        // Public-key mode's key is still named by the default; certificate mode does not read it.
        [ssmName("alipay-public-key")]: keys.alipayPublicKey,
      };
      const certParams = {
        ...deployableParams,
        alipayAppCert: `ssm:${ssmName("alipay-app-cert")}`,
        alipayPublicCert: `ssm:${ssmName("alipay-public-cert")}`,
        alipayRootCert: `ssm:${ssmName("alipay-root-cert")}`,
      };
      const wrong = await preflight({ stage, params: certParams });
      expect(wrong.findings.map((f) => f.problem)).toEqual([
        expect.stringMatching(/ALIPAY_APP_CERT is not the certificate of ALIPAY_APP_PRIVATE_KEY/),
      ]);
      fake.parameters[ssmName("alipay-app-cert")] = mine.appCert;
      const right = await preflight({ stage, params: certParams });
      expect(right.findings).toEqual([]);
      expect(right.passed.join("\n")).toMatch(/the Alipay key and certificates parse and match/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("checks the local stack's own key files for the local stage (file: references)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "alipay-preflight-local-"));
    const saved = { ...process.env };
    try {
      ensureLocalKeys(dir);
      Object.assign(process.env, {
        LOCAL_KEYS_DIR: dir,
        LOCAL_API_URL: "http://127.0.0.1:3000",
        LOCAL_ALIPAY_URL: "http://127.0.0.1:3100",
        LOCAL_DEPLOYMENT_PREFIX: "dev1",
      });
      const report = await preflight({ stage: "local" });
      expect(report.passed.join("\n")).toMatch(/secrets: the Alipay keys parse and match/);
      // A local notify URL is not one Alipay can reach: said, as for any stage.
      expect(report.findings.map((f) => f.check)).toEqual(["notify-url"]);
      expect(calls.some((c) => c.startsWith("ssm"))).toBe(false);
    } finally {
      process.env = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("npm run ops -- preflight exits 1 on findings and prints each with its fix", async () => {
    fake.topics[topicArn] = [{ Protocol: "email", Endpoint: "payments-oncall@ci.test", SubscriptionArn: "PendingConfirmation" }];
    const args = [
      "tsx",
      "ops/cli.ts",
      "preflight",
      "--stage",
      stage,
      ...Object.entries(deployableParams).flatMap(([k, v]) => ["--param", `${k}=${v}`]),
    ];
    const run = (argv: string[]) =>
      new Promise<{ code: number; stdout: string }>((done) => {
        execFile("npx", argv, { cwd: projectRoot, env: { ...process.env }, timeout: 60_000 }, (error, stdout) =>
          done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout }),
        );
      });
    const failing = await run(args);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(
      /FAIL {2}alarm-topics: PageTopic: the email subscription of payments-oncall@ci.test is PendingConfirmation/,
    );
    expect(failing.stdout).toMatch(/ {8}fix: open the confirmation link/);
    expect(failing.stdout).toMatch(/1 finding\(s\)/);
    fake.topics[topicArn] = [{ Protocol: "email", Endpoint: "payments-oncall@ci.test", SubscriptionArn: `${topicArn}:1` }];
    const passing = await run(args);
    expect(passing.code).toBe(0);
    expect(passing.stdout).toMatch(/No findings/);
  }, 120_000);
  it("finds the quotas a stage sized for 5,000 payments/s needs on a default account (npm run capacity's figures)", async () => {
    const params = { ...deployableParams, peakPaymentsPerSecond: "5000", alipayQueryRatePerSecond: "20000" };
    const report = await preflight({ stage, params });
    // Reserving 1,000 for alipayNotify on a 1,000 account, and what the peak needs: one request.
    const concurrency = report.findings.filter((f) => f.check === "concurrency");
    expect(concurrency).toHaveLength(1);
    const lambdaNeeded = Number(/; the stage's peak \(5000 payments\/s\) needs (\d+)$/.exec(concurrency[0]!.problem)?.[1]);
    expect(lambdaNeeded).toBeGreaterThan(1100);
    expect(concurrency[0]!.fix).toContain(`--service-code lambda --quota-code L-B99A9384 --desired-value ${lambdaNeeded}`);
    // The sweep index's warm throughput alone is ~114,000 write units a second (scripts/sizing.cjs).
    const capacity = report.findings.filter((f) => f.check === "capacity");
    expect(capacity).toHaveLength(1);
    const writesNeeded = Number(/takes up to (\d+) write units a second .*limit is 40000$/.exec(capacity[0]!.problem)?.[1]);
    expect(writesNeeded).toBeGreaterThanOrEqual(114_000);
    expect(capacity[0]!.fix).toMatch(new RegExp(`Table-level write throughput limit.*--desired-value ${writesNeeded}$`));
    expect(report.notes.join("\n")).toMatch(/API Gateway's account throttle must allow \d+ requests\/s \(default 10000\)/);
    // Raised quotas pass.
    fake.limit = lambdaNeeded;
    fake.unreserved = lambdaNeeded;
    fake.tableMaxWrites = writesNeeded;
    const raised = await preflight({ stage, params });
    expect(raised.findings.filter((f) => f.check === "capacity" || f.check === "concurrency")).toEqual([]);
  });
});
