// The backend's Alipay gateway against the simulator, on the edges a first day against real Alipay
// hits (issue 10): unsigned error answers keep Alipay's code and sub_code.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AlipayGateway, AlipayUnavailableError } from "../../lib/alipay/gateway.js";
import { generateRsaKeyPair, startAlipaySimulator, type AlipaySimulator, type RsaKeyPair } from "../../simulator/index.js";

const APP_ID = "2021000100000077";
const SELLER_ID = "2088000100000077";

let sim: AlipaySimulator;
let app: RsaKeyPair;
let alipay: RsaKeyPair;

beforeAll(async () => {
  app = generateRsaKeyPair();
  alipay = generateRsaKeyPair();
  sim = await startAlipaySimulator({
    alipayPrivateKey: alipay.privateKeyPkcs8,
    apps: [{ appId: APP_ID, appPublicKey: app.publicKey, sellerId: SELLER_ID }],
    timeScale: 10_000,
  });
});

afterAll(async () => {
  await sim?.close();
});

beforeEach(() => sim.resetScenarios());

function gateway(appId = APP_ID): AlipayGateway {
  return new AlipayGateway({
    appId,
    appPrivateKey: app.privateKeyPkcs1,
    alipayPublicKey: alipay.publicKey,
    gatewayUrl: sim.gatewayUrl,
    notifyUrl: "http://127.0.0.1:9/alipay/notify",
    timeoutMs: 3000,
  });
}

async function failure(call: Promise<unknown>): Promise<Error> {
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AlipayUnavailableError);
  return error as Error;
}

describe("unsigned error answers keep Alipay's code and sub_code", () => {
  it("20000 aop.ACQ.SYSTEM_ERROR, unsigned: retried as unavailable, with its codes", async () => {
    sim.setFault({ method: "alipay.trade.query", mode: "unsigned-system-error", count: 1 });
    const error = await failure(gateway().query("pay_unsigned_1"));
    expect(error.message).toContain("alipay.trade.query pay_unsigned_1");
    expect(error.message).toContain("unsigned");
    expect(error.message).toContain("answer 20000 aop.ACQ.SYSTEM_ERROR");
  });

  it("an unknown app id (misconfiguration) reads as 40002 isv.invalid-app-id, not as a signature error", async () => {
    const error = await failure(gateway("2021000199999999").close("pay_unsigned_2"));
    expect(error.message).toContain("answer 40002 isv.invalid-app-id");
    expect(error.message).not.toMatch(/signature invalid|TypeError/);
  });

  it("an unsigned answer is never acted upon, whatever it says", async () => {
    // A close that would succeed, answered without a signature: not "closed".
    sim.setFault({ method: "alipay.trade.close", mode: "unsigned-system-error", count: 1 });
    await failure(gateway().close("pay_unsigned_3"));
  });
});
