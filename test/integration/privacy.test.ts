// Logs carry ids and codes, never buyer identifiers or order strings: every line the functions
// write during a chaos run (every kind of fault, so every error path that logs) is captured and
// searched for each buyer id the simulator issued. And the one error that quotes a whole signed
// response (alipay-sdk's signature failure) is shown to lose that text on its way to a log.
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { AlipayGateway } from "../../lib/alipay/gateway.js";
import { logger } from "../../lib/observability.js";
import { runChaos } from "../chaos/chaos.js";
import { chaosStackOptions } from "../chaos/settings.js";
import { useStack } from "./harness.js";

// DEBUG: every line any function can write is written (and searched).
const t = useStack({ ...chaosStackOptions, env: { ...chaosStackOptions.env, LOCAL_LOG_LEVEL: "DEBUG" } });

interface SimulatorTrade {
  outTradeNo: string;
  buyerId: string;
  buyerLogonId: string;
}

/** Everything written to stdout, stderr and the console while `run` runs (not passed through: DEBUG is loud). */
async function captureOutput<T>(run: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const chunks: string[] = [];
  const keep = (chunk: unknown) => {
    chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
    return true;
  };
  const streams = [process.stdout, process.stderr] as const;
  const writes = streams.map((stream) => stream.write);
  const consoleMethods = ["log", "info", "warn", "error", "debug", "trace"] as const;
  const consoles = consoleMethods.map((name) => console[name]);
  for (const stream of streams) stream.write = keep as typeof stream.write;
  for (const name of consoleMethods) console[name] = (...args: unknown[]) => keep(`${args.map(String).join(" ")}\n`);
  try {
    const result = await run();
    return { result, lines: chunks.join("").split("\n").filter(Boolean) };
  } finally {
    streams.forEach((stream, i) => {
      stream.write = writes[i]!;
    });
    consoleMethods.forEach((name, i) => {
      console[name] = consoles[i]!;
    });
  }
}

const simulatorTrades = async (): Promise<SimulatorTrade[]> => (await t.sim<SimulatorTrade[]>("/sim/trades")).body;

/** Pieces only an order string (or a signed request) contains. */
const orderStringPattern = /biz_content|alipay_sdk=|(^|[?&"])sign=|sign_type=RSA2&/;

describe("privacy", () => {
  it("keeps buyer ids out of the error of a response whose signature fails, and out of its log line", async () => {
    const { attempt } = await t.openPayment("privacy-signature");
    const paid = await t.sim("/sim/pay", { orderString: attempt.orderString });
    expect(paid.status).toBe(200);
    const buyerId = paid.body.buyerId as string;
    expect(buyerId).toMatch(/^2088\d{12}$/);

    // Our side holds a public key that is not Alipay's: every signed answer fails verification,
    // and alipay-sdk's message for that quotes the answer (buyer_user_id, buyer_logon_id).
    const env = t.stack.functionEnv;
    const gateway = new AlipayGateway({
      appId: env.ALIPAY_APP_ID!,
      appPrivateKey: readFileSync(env.ALIPAY_APP_PRIVATE_KEY!.replace(/^file:/, ""), "utf8"),
      alipayPublicKey: generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" }).toString(),
      gatewayUrl: env.ALIPAY_GATEWAY_URL!,
      notifyUrl: env.ALIPAY_NOTIFY_URL!,
      timeoutMs: 3000,
    });
    const error = (await gateway.query(attempt.outTradeNo).catch((e: unknown) => e)) as Error;
    expect(error.name).toBe("AlipayUnavailableError");
    expect(error.message).toMatch(
      new RegExp(`^alipay\\.trade\\.query ${attempt.outTradeNo}: AlipayRequestError, response signature invalid`),
    );
    expect(error.cause).toBeUndefined();

    const { lines } = await captureOutput(async () => logger.error("request failed", { error }));
    const logged = lines.join("\n");
    expect(logged).toContain(attempt.outTradeNo);
    const [trade] = (await simulatorTrades()).filter((tr) => tr.outTradeNo === attempt.outTradeNo);
    for (const buyer of [buyerId, trade!.buyerLogonId]) expect(`${error.message}\n${logged}`).not.toContain(buyer);
    expect(logged).not.toMatch(orderStringPattern);
  });

  it("writes no buyer id and no order string in any log line of a chaos run", async () => {
    const { result: report, lines } = await captureOutput(() =>
      runChaos(t.stack, {
        payments: 30,
        concurrency: 6,
        dynamoFailureRate: 0.05,
        cancelRate: 0.1,
        settleTimeoutMs: 120_000,
        seed: 20261126,
      }),
    );
    expect(report.payments).toBe(30);
    expect(Object.keys(report.faults).length).toBeGreaterThan(4);

    // The functions wrote: successes, closes, and the errors of the faults (retried messages).
    const functionLines = lines.filter((line) => line.includes('"service":"alipay-pay"'));
    expect(functionLines.length).toBeGreaterThan(100);
    expect(functionLines.some((line) => line.includes("payment succeeded"))).toBe(true);
    expect(functionLines.some((line) => /"level":"(WARN|ERROR)"/.test(line))).toBe(true);

    const trades = await simulatorTrades();
    const buyerIds = new Set(trades.flatMap((trade) => [trade.buyerId, trade.buyerLogonId]).filter(Boolean));
    expect(trades.length).toBeGreaterThan(5);
    const leaks = lines.filter((line) => [...buyerIds].some((id) => line.includes(id)));
    expect(leaks).toEqual([]);
    expect(lines.filter((line) => orderStringPattern.test(line))).toEqual([]);
  }, 300_000);
});
