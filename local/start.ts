// `npm start`: the whole backend locally, until Ctrl-C, SIGINT or SIGTERM (to this process, to
// npm's, or to the whole process group: the script execs node, so no shell or tsx wrapper sits
// between npm and this process to swallow or orphan a signal).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertPortFree, LocalStartError, portInUseMessage } from "./engines.js";
import { projectRoot } from "./serverlessConfig.js";
import { type LocalStack, startStack } from "./stack.js";

const startedAt = Date.now();
// Where the stack file and the throwaway keys live (default .local/; tests start a stack elsewhere).
const stateDir = process.env.LOCAL_STATE_DIR ?? join(projectRoot, ".local");
const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ports = {
  api: port("API_PORT", 3000),
  alipay: port("ALIPAY_PORT", 3100),
  receiver: port("RECEIVER_PORT", 3200),
  dynamodb: port("DYNAMODB_PORT", 8000),
  sqs: port("SQS_PORT", 4566),
};

/** Stops within 5 s whatever a step is doing: past 4 s the process exits and its exit hook kills the JVM. */
let stack: LocalStack | undefined;
let stopping = false;
const shutdown = async (signal: NodeJS.Signals) => {
  if (stopping) {
    // A second Ctrl-C: no more waiting.
    process.exit(130);
  }
  stopping = true;
  console.log(`${signal}: stopping...`);
  setTimeout(() => process.exit(1), 4_000).unref();
  await stack?.stop();
  process.exit(0);
};
// Installed before anything starts: a signal during start stops what has started.
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGHUP", () => void shutdown("SIGHUP"));

try {
  // The membership receiver listens on RECEIVER_PORT + 1.
  const settings: Array<[number, string]> = [
    [ports.api, "API_PORT"],
    [ports.alipay, "ALIPAY_PORT"],
    [ports.receiver, "RECEIVER_PORT"],
    [ports.receiver + 1, "RECEIVER_PORT"],
    [ports.dynamodb, "DYNAMODB_PORT"],
    [ports.sqs, "SQS_PORT"],
  ];
  for (const [busy, setting] of settings) await assertPortFree(busy, setting);
  stack = await startStack({
    ports,
    keysDir: join(stateDir, "keys"),
    // Alipay's 25 h retry schedule compressed 60x (first retry after 4 s instead of 4 min).
    notifyTimeScale: Number(process.env.NOTIFY_TIME_SCALE ?? 60),
  });
} catch (error) {
  // What the developer can fix is one sentence, not a stack trace.
  const code = (error as NodeJS.ErrnoException).code;
  if (error instanceof LocalStartError) console.error(error.message);
  else if (code === "EADDRINUSE") console.error(portInUseMessage((error as { port?: number }).port ?? 0));
  else console.error(error);
  process.exit(1);
}
if (stopping) await new Promise(() => undefined);

const { urls } = stack;
// For tools that work against the running stack (the ops CLI's --local): where everything is.
const stackFile = join(stateDir, "stack.json");
writeFileSync(
  stackFile,
  JSON.stringify({ urls, keysDir: stack.keysDir, functionEnv: stack.functionEnv, resources: stack.resources }, null, 2),
);
console.log(`
  Alipay payment backend, local stack (stage "local"), up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s

  HTTP API (API Gateway + Lambda)   ${urls.api}         (contract: ${urls.api}/openapi.json, rendered: ${urls.api}/docs)
    business API (AWS IAM, SigV4; npm run business -- --help)
      POST ${urls.api}/v1/payments                          (Idempotency-Key)
      GET  ${urls.api}/v1/payments/{paymentId}   GET ${urls.api}/v1/payments?businessOrderId=...
      POST ${urls.api}/v1/payments/{paymentId}/cancel
    app API (Authorization: Bearer <JWT>)
      POST ${urls.api}/v1/app/payments/{paymentId}/order-string
      GET  ${urls.api}/v1/app/payments/{paymentId}
      dev token:  curl '${urls.api}/_dev/token?sub=alice'
    POST ${urls.api}/alipay/notify                          (Alipay's notify URL)
  Alipay gateway simulator          ${urls.alipay}/gateway.do
    cashier page                    ${urls.cashier}
  Business receivers (samples)      ${Object.entries(urls.receivers)
    .map(([id, url]) => `${id} ${url}/events`)
    .join("   ")}
                                    (what each received: <url>/_receiver/events)
  DynamoDB Local                    ${urls.dynamodb}   table ${stack.functionEnv.TABLE_NAME}
  SQS (fauxqs)                      ${urls.sqs}
  Keys (throwaway, generated)       ${stack.keysDir}

  Ctrl-C (SIGINT) or SIGTERM stops everything.
`);
