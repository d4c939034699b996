// Request timeouts (issue 10, SSM issue 17): a DynamoDB, SQS or SSM endpoint that accepts the
// connection and never answers fails the call within the SDK's attempts, instead of holding the
// function to its own timeout.
import { createServer, type Server, type Socket } from "node:net";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dynamo, sqs } from "../../lib/aws.js";
import { resetConfig, secret } from "../../lib/config.js";

let stalled: Server;
const sockets = new Set<Socket>();
const saved = { ...process.env };

beforeAll(async () => {
  // Accepts, reads, never answers.
  stalled = createServer((socket) => {
    sockets.add(socket);
    socket.on("data", () => {});
  });
  await new Promise<void>((resolve) => stalled.listen(0, "127.0.0.1", resolve));
  const { port } = stalled.address() as { port: number };
  Object.assign(process.env, {
    AWS_REGION: "ap-southeast-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${port}`,
    AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${port}`,
    AWS_ENDPOINT_URL_SSM: `http://127.0.0.1:${port}`,
  });
  resetConfig();
});

afterAll(async () => {
  process.env = saved;
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => stalled.close(resolve));
});

/** How long the call took to fail, and how. */
async function failure(call: () => Promise<unknown>): Promise<{ ms: number; name: string; cause?: string }> {
  const started = Date.now();
  const error = await call().then(
    () => undefined,
    (caught: Error) => caught,
  );
  expect(error).toBeInstanceOf(Error);
  return { ms: Date.now() - started, name: error!.name, cause: (error!.cause as Error | undefined)?.name };
}

describe.concurrent("a stalled AWS endpoint", () => {
  // 3 attempts of at most 3 s each plus the SDK's backoff (~9 s, lib/aws.ts). Without the timeouts
  // the call hangs past the test's 30 s; the bound leaves room for a loaded machine, not a figure.
  it("fails a DynamoDB read within its attempts", async () => {
    const { ms, name } = await failure(() => dynamo().send(new GetCommand({ TableName: "orders", Key: { pk: "a", sk: "b" } })));
    expect(name).toBe("TimeoutError");
    expect(ms).toBeLessThan(20_000);
  }, 30_000);

  it("fails an SQS call within its attempts", async () => {
    const { ms, name } = await failure(() =>
      sqs().send(new GetQueueAttributesCommand({ QueueUrl: "http://127.0.0.1/000000000000/check", AttributeNames: ["All"] })),
    );
    expect(name).toBe("TimeoutError");
    expect(ms).toBeLessThan(20_000);
  }, 30_000);

  it("fails an SSM secret read (Powertools Parameters) within its attempts", async () => {
    const { ms, name, cause } = await failure(() => secret("ssm:/alipay-pay/test/app-private-key"));
    // Powertools wraps the SDK's error.
    expect([name, cause]).toEqual(["GetParameterError", "TimeoutError"]);
    expect(ms).toBeLessThan(20_000);
  }, 30_000);
});
