// 8. Refund dispatch: how long from a business system's refund request (POST .../refunds answered
// 201) to Alipay's receiving alipay.trade.refund for it, over HTTP through the local stack, with the
// sweep's schedule off: the refund's own write sends it (its INSERT on the table stream ->
// publishEvents -> the check queue -> checkPayment -> Alipay). Before issue 20 only the
// once-a-minute sweep sent a refund (0-60 s, ~30 s on average). The simulator records the time of
// every refund request it receives (/sim/events, kind refund-request).
import { envInt, num, percentile, progress, report, table } from "../lib/format.js";
import { businessClientOf, startBenchStack, waitFor } from "../lib/stack.js";

const business = "shop";
const user = "bench-refunds";

export async function run(): Promise<void> {
  const refunds = envInt("BENCH_REFUNDS", 30, 10);
  progress("refunds: starting the local stack");
  const bench = await startBenchStack();
  try {
    const { stack } = bench;
    const client = businessClientOf(stack, business);
    const token = await stack.issueToken(user);
    const sim = async (path: string, body?: unknown) => {
      const response = await fetch(`${stack.urls.alipay}${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return response.json() as Promise<any>;
    };
    const refundRequestAt = async (refundId: string) =>
      ((await sim("/sim/events")) as Array<{ kind: string; outRequestNo?: string; atMs: number }>).find(
        (e) => e.kind === "refund-request" && e.outRequestNo === refundId,
      )?.atMs;

    const paid = async (i: number) => {
      const created = await client.createPayment(
        { businessOrderId: `bench-refund-${Date.now()}-${i}`, amount: 1000, subject: "Coffee beans", userId: user },
        `bench-refund-pay-${Date.now()}-${i}`,
      );
      const paymentId = (created.body as { paymentId: string }).paymentId;
      const attempt = await fetch(`${stack.urls.api}/v1/app/payments/${paymentId}/order-string`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      }).then((r) => r.json() as Promise<{ orderString: string }>);
      await sim("/sim/pay", { orderString: attempt.orderString });
      await waitFor(async () => ((await client.getPayment(paymentId)).body as { status: string }).status === "PAID", `payment ${i} PAID`);
      return paymentId;
    };

    progress(`refunds: ${refunds + 1} paid payments`);
    const payments: string[] = [];
    for (let i = 0; i <= refunds; i++) payments.push(await paid(i));
    await bench.idle();

    const dispatch = async (paymentId: string, tag: string) => {
      const t0 = Date.now();
      const answer = await client.createRefund(paymentId, { amount: 300, reason: "bench" }, `bench-refund-${tag}-${t0}`);
      if (answer.status !== 201) throw new Error(`refund answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      const refundId = (answer.body as { refundId: string }).refundId;
      const at = await waitFor(() => refundRequestAt(refundId), `refund ${refundId} at Alipay`);
      await bench.idle();
      return at - t0;
    };
    // One uncounted first: cold starts of publishEvents' and checkPayment's paths.
    await dispatch(payments[0]!, "warmup");
    progress(`refunds: ${refunds} refunds, one after the other`);
    const times: number[] = [];
    for (const paymentId of payments.slice(1)) times.push(await dispatch(paymentId, "measured"));
    const sorted = [...times].sort((a, b) => a - b);
    const p50Ms = percentile(sorted, 50);
    const p99Ms = percentile(sorted, 99);
    console.log(
      table(
        `8. Refund dispatch: request -> Alipay's refund call (${refunds} refunds, sweep off)`,
        ["refunds", "p50 ms", "p99 ms", "max ms"],
        [[refunds, num(p50Ms, 0), num(p99Ms, 0), num(sorted.at(-1) ?? Number.NaN, 0)]],
        [
          "From the 201's request to the simulator's receipt of alipay.trade.refund: the refund's INSERT on the table stream,",
          "publishEvents (check message), checkPayment (marks it sent, calls Alipay). The sweep never ran. Before: the next sweep, 0-60 s.",
        ],
      ),
    );
    report("refunds", { refunds, p50Ms, p99Ms, maxMs: sorted.at(-1) });
  } finally {
    await bench.stop();
  }
}
