// Secrets (lib/config.ts): cached for SECRETS_CACHE_SECONDS, then read again so a rotated secret
// is picked up without a redeploy; a failed read is retried on the next call. `ssm:` references go
// through the Powertools SSM provider, here against a stand-in for the SSM API on localhost (the
// real SDK client, pointed at it with AWS_ENDPOINT_URL_SSM).
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SSMProvider } from "@aws-lambda-powertools/parameters/ssm";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { alipay } from "../../lib/alipay/client.js";
import { alipayKeys, resetConfig, secret } from "../../lib/config.js";

const dir = mkdtempSync(join(tmpdir(), "secrets-test-"));
const savedEnv = { ...process.env };

/** The SSM GetParameter API, answering from `parameters`; records what it was asked. */
const parameters = new Map<string, string>();
const ssmRequests: Array<{ target: string; body: { Name: string; WithDecryption?: boolean } }> = [];
let ssmFailsWith: string | undefined;
let ssm: Server;

beforeAll(async () => {
  ssm = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk) => (raw += chunk));
    req.on("end", () => {
      const body = JSON.parse(raw) as { Name: string; WithDecryption?: boolean };
      ssmRequests.push({ target: String(req.headers["x-amz-target"]), body });
      const answer = (status: number, payload: unknown) => {
        res.writeHead(status, { "content-type": "application/x-amz-json-1.1" }).end(JSON.stringify(payload));
      };
      if (ssmFailsWith) return answer(400, { __type: ssmFailsWith, message: "refused by the test" });
      const value = parameters.get(body.Name);
      if (value === undefined) return answer(400, { __type: "ParameterNotFound", message: "" });
      answer(200, { Parameter: { Name: body.Name, Type: "SecureString", Value: value, Version: 1 } });
    });
  });
  await new Promise<void>((r) => ssm.listen(0, "127.0.0.1", r));
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SSM: `http://127.0.0.1:${(ssm.address() as AddressInfo).port}`,
    AWS_REGION: "ap-southeast-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
  });
});

afterAll(async () => {
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
  await new Promise((r) => ssm.close(r));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
  process.env.SECRETS_CACHE_SECONDS = "1";
  parameters.clear();
  ssmRequests.length = 0;
  ssmFailsWith = undefined;
  resetConfig();
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const later = (ms: number) => vi.setSystemTime(Date.now() + ms);

describe("file: secrets", () => {
  it("are re-read after SECRETS_CACHE_SECONDS, so a rotated secret is picked up", async () => {
    const file = join(dir, "webhook-secret.txt");
    writeFileSync(file, "first-secret\n");
    const reference = `file:${file}`;
    expect(await secret(reference)).toBe("first-secret");

    writeFileSync(file, "rotated-secret\n");
    later(500);
    expect(await secret(reference)).toBe("first-secret");
    later(600);
    expect(await secret(reference)).toBe("rotated-secret");
  });

  it("are cached SECRETS_CACHE_SECONDS (default 300)", async () => {
    delete process.env.SECRETS_CACHE_SECONDS;
    const file = join(dir, "default-ttl.txt");
    writeFileSync(file, "v1");
    expect(await secret(`file:${file}`)).toBe("v1");
    writeFileSync(file, "v2");
    later(299_000);
    expect(await secret(`file:${file}`)).toBe("v1");
    later(2_000);
    expect(await secret(`file:${file}`)).toBe("v2");
  });

  it("that fail to read are retried on the next call, not cached", async () => {
    const file = join(dir, "late.txt");
    await expect(secret(`file:${file}`)).rejects.toThrow();
    writeFileSync(file, "now-there");
    expect(await secret(`file:${file}`)).toBe("now-there");
    unlinkSync(file);
  });

  it("refuse an empty value or an unknown reference form, without echoing values", async () => {
    const file = join(dir, "empty.txt");
    writeFileSync(file, "  \n");
    await expect(secret(`file:${file}`)).rejects.toThrow(/is empty/);
    await expect(secret("plain-secret-value")).rejects.toThrow(/^a secret reference must be ssm:\/name or file:path$/);
  });

  it("back the configured secrets (a business system's webhook secret, Alipay keys)", async () => {
    writeFileSync(join(dir, "hook.txt"), "hook-1");
    writeFileSync(join(dir, "app.pem"), "app-1");
    writeFileSync(join(dir, "alipay.pem"), "alipay-1");
    process.env.ALIPAY_APP_PRIVATE_KEY = `file:${join(dir, "app.pem")}`;
    process.env.ALIPAY_PUBLIC_KEY = `file:${join(dir, "alipay.pem")}`;
    expect(await secret(`file:${join(dir, "hook.txt")}`)).toBe("hook-1");
    expect(await alipayKeys()).toEqual({ appPrivateKey: "app-1", alipayPublicKey: "alipay-1" });
    writeFileSync(join(dir, "hook.txt"), "hook-2");
    writeFileSync(join(dir, "alipay.pem"), "alipay-2");
    later(1_100);
    expect(await secret(`file:${join(dir, "hook.txt")}`)).toBe("hook-2");
    expect(await alipayKeys()).toEqual({ appPrivateKey: "app-1", alipayPublicKey: "alipay-2" });
  });
});

describe("ssm: secrets", () => {
  it("go through the Powertools SSM provider, decrypted, with the cache TTL", async () => {
    const get = vi.spyOn(SSMProvider.prototype, "get");
    parameters.set("/alipay-pay/test/business-webhook-secret", "from-ssm\n");
    expect(await secret("ssm:/alipay-pay/test/business-webhook-secret")).toBe("from-ssm");
    expect(get).toHaveBeenCalledWith("/alipay-pay/test/business-webhook-secret", { decrypt: true, maxAge: 1 });
    expect(ssmRequests).toEqual([
      {
        target: "AmazonSSM.GetParameter",
        body: { Name: "/alipay-pay/test/business-webhook-secret", WithDecryption: true },
      },
    ]);

    // Cached: no second request within the TTL.
    parameters.set("/alipay-pay/test/business-webhook-secret", "rotated-in-ssm");
    later(500);
    expect(await secret("ssm:/alipay-pay/test/business-webhook-secret")).toBe("from-ssm");
    expect(ssmRequests).toHaveLength(1);
    later(600);
    expect(await secret("ssm:/alipay-pay/test/business-webhook-secret")).toBe("rotated-in-ssm");
    expect(ssmRequests).toHaveLength(2);
  });

  it("that fail (access denied, missing) are retried on the next call, not cached", async () => {
    parameters.set("/alipay-pay/test/alipay-public-key", "public-key");
    ssmFailsWith = "AccessDeniedException";
    await expect(secret("ssm:/alipay-pay/test/alipay-public-key")).rejects.toThrow(/refused by the test/);
    ssmFailsWith = undefined;
    expect(await secret("ssm:/alipay-pay/test/alipay-public-key")).toBe("public-key");
    await expect(secret("ssm:/alipay-pay/test/missing")).rejects.toThrow();
    parameters.set("/alipay-pay/test/missing", "there-now");
    expect(await secret("ssm:/alipay-pay/test/missing")).toBe("there-now");
  });
});

describe("concurrent reads of one secret", () => {
  it("share one SSM request; other parameters get their own", async () => {
    parameters.set("/alipay-pay/test/app-private-key", "private-key");
    parameters.set("/alipay-pay/test/other", "other");
    const reads = await Promise.all([
      ...Array.from({ length: 10 }, () => secret("ssm:/alipay-pay/test/app-private-key")),
      secret("ssm:/alipay-pay/test/other"),
    ]);
    expect(reads).toEqual([...Array.from({ length: 10 }, () => "private-key"), "other"]);
    expect(ssmRequests.map((r) => r.body.Name).sort()).toEqual(["/alipay-pay/test/app-private-key", "/alipay-pay/test/other"]);
  });

  it("that fail together are not kept: the next call makes a new request", async () => {
    parameters.set("/alipay-pay/test/alipay-public-key", "public-key");
    ssmFailsWith = "AccessDeniedException";
    const failed = await Promise.allSettled(Array.from({ length: 5 }, () => secret("ssm:/alipay-pay/test/alipay-public-key")));
    expect(failed.map((r) => r.status)).toEqual(Array.from({ length: 5 }, () => "rejected"));
    expect(ssmRequests).toHaveLength(1);
    ssmFailsWith = undefined;
    expect(await secret("ssm:/alipay-pay/test/alipay-public-key")).toBe("public-key");
    expect(ssmRequests).toHaveLength(2);
  });
});

describe("the Alipay gateway (lib/alipay/client.ts)", () => {
  const keyPair = () =>
    generateKeyPairSync("rsa", {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
    });

  it("is kept while its keys are current and rebuilt once a rotated key is read", async () => {
    const app = keyPair();
    const alipayKey = keyPair();
    writeFileSync(join(dir, "gw-app.pem"), app.privateKey);
    writeFileSync(join(dir, "gw-alipay.pem"), alipayKey.publicKey);
    Object.assign(process.env, {
      STAGE: "test",
      TABLE_NAME: "orders",
      CHECK_QUEUE_URL: "http://127.0.0.1:1/check",
      EVENTS_QUEUE_URL: "http://127.0.0.1:1/events",
      ALIPAY_APP_ID: "2021000000000001",
      ALIPAY_SELLER_ID: "2088000000000001",
      ALIPAY_GATEWAY_URL: "http://127.0.0.1:1/gateway.do",
      ALIPAY_NOTIFY_URL: "http://127.0.0.1:1/notify",
      BUSINESS_WEBHOOK_URL: "http://127.0.0.1:1/events",
      CHECK_SCHEDULE_SECONDS: "30,60",
      ALIPAY_APP_PRIVATE_KEY: `file:${join(dir, "gw-app.pem")}`,
      ALIPAY_PUBLIC_KEY: `file:${join(dir, "gw-alipay.pem")}`,
    });
    const first = await alipay();
    later(1_100);
    expect(await alipay()).toBe(first);

    writeFileSync(join(dir, "gw-alipay.pem"), keyPair().publicKey);
    expect(await alipay()).toBe(first);
    later(1_100);
    const rebuilt = await alipay();
    expect(rebuilt).not.toBe(first);
    expect(await alipay()).toBe(rebuilt);
  });
});
