// The local sample receiver (local/businessReceiver.ts) reads its secret per event (the registry
// names it: a rotation is followed). A read that fails is no verdict on the event: 503, retried.
import { afterEach, describe, expect, it } from "vitest";
import { type BusinessReceiver, startBusinessReceiver } from "../../local/businessReceiver.js";
import { signatureHeader, signWebhook } from "../../lib/webhookSignature.js";

let receiver: BusinessReceiver | undefined;
afterEach(async () => {
  receiver?.server.closeAllConnections();
  await new Promise((r) => receiver?.server.close(r));
  receiver = undefined;
});

const event = JSON.stringify({ id: "evt_pay1_succeeded", type: "payment.succeeded", data: { payment: { paymentId: "pay1" } } });
const post = (url: string, signature: string) =>
  fetch(`${url}/events`, { method: "POST", headers: { [signatureHeader]: signature }, body: event });

describe("local business receiver", () => {
  it("verifies with the secret it reads per event, and answers 503 while it cannot read it", async () => {
    let secret: string | Error = new Error("registry unavailable");
    receiver = await startBusinessReceiver({
      port: 0,
      secret: async () => {
        if (secret instanceof Error) throw secret;
        return secret;
      },
      log: () => {},
    });
    const signature = signWebhook(["second-secret"], event);
    expect((await post(receiver.url, signature)).status).toBe(503);
    expect([receiver.events.size, receiver.rejected]).toEqual([0, 0]);

    secret = "first-secret";
    expect((await post(receiver.url, signature)).status).toBe(401);
    secret = "second-secret";
    expect((await post(receiver.url, signature)).status).toBe(200);
    expect([receiver.events.size, receiver.rejected]).toEqual([1, 1]);
  });
});
