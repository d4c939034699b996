// The deployable bundles as Lambda runs them: each function built with esbuild.config.cjs into
// `outDir` and require()d, and the events API Gateway and SQS hand them.
import { mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { build } from "esbuild";
import { projectRoot } from "../../local/serverlessConfig.js";

const require = createRequire(import.meta.url);
export const esbuildOptions = (require("../../esbuild.config.cjs") as { options: Record<string, unknown> }).options;

export type Handler = (event: unknown, context: unknown) => Promise<any>;

export const lambdaContext = (id: string, remainingMs = 30_000) => ({ awsRequestId: id, getRemainingTimeInMillis: () => remainingMs });

/** Builds and loads each function's bundle into `handlers` (filled in place, for use in beforeAll). */
export async function loadBundles(outDir: string, names: string[], handlers: Record<string, Handler>): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  for (const name of names) {
    const outfile = join(outDir, `${name}.cjs`);
    await build({ ...esbuildOptions, entryPoints: [join(projectRoot, "functions", `${name}.ts`)], outfile, logLevel: "silent" });
    handlers[name] = (require(outfile) as { handler: Handler }).handler;
  }
}

export const removeBundles = (outDir: string) => rmSync(outDir, { recursive: true, force: true });

/** POST /v1/app/payments/{paymentId}/order-string as API Gateway hands it over once its JWT authorizer has verified `user`'s token. */
export const orderStringEvent = (user: string, paymentId: string) => ({
  version: "2.0",
  routeKey: "POST /v1/app/payments/{paymentId}/order-string",
  rawPath: `/v1/app/payments/${paymentId}/order-string`,
  headers: {},
  pathParameters: { paymentId },
  isBase64Encoded: false,
  requestContext: {
    http: { method: "POST", path: `/v1/app/payments/${paymentId}/order-string` },
    authorizer: { jwt: { claims: { sub: user }, scopes: [] } },
  },
});

/** One SQS message per body, as a queue trigger delivers a batch (first delivery each). */
export const sqsEvent = (...bodies: unknown[]) => ({
  Records: bodies.map((body, i) => ({
    messageId: `m-${Date.now()}-${i}`,
    receiptHandle: `r-${i}`,
    body: JSON.stringify(body),
    attributes: { ApproximateReceiveCount: "1" },
    messageAttributes: {},
    eventSource: "aws:sqs",
  })),
});

/** Alipay's POST to the public notify URL (no authorizer). */
export const notifyEvent = (body: string) => ({
  version: "2.0",
  rawPath: "/alipay/notify",
  headers: {},
  body,
  isBase64Encoded: false,
  requestContext: {},
});
