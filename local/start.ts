// `npm start`: the whole backend locally, until Ctrl-C.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "./serverlessConfig.js";
import { startStack } from "./stack.js";

const startedAt = Date.now();
const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const stack = await startStack({
  ports: {
    api: port("API_PORT", 3000),
    alipay: port("ALIPAY_PORT", 3100),
    receiver: port("RECEIVER_PORT", 3200),
    dynamodb: port("DYNAMODB_PORT", 8000),
    sqs: port("SQS_PORT", 4566),
  },
  // Alipay's 25 h retry schedule compressed 60x (first retry after 4 s instead of 4 min).
  notifyTimeScale: Number(process.env.NOTIFY_TIME_SCALE ?? 60),
});

const { urls } = stack;
// For tools that work against the running stack (the ops CLI's --local): where everything is.
const stackFile = join(projectRoot, ".local", "stack.json");
writeFileSync(
  stackFile,
  JSON.stringify({ urls, keysDir: stack.keysDir, functionEnv: stack.functionEnv, resources: stack.resources }, null, 2),
);
console.log(`
  Alipay payment backend, local stack (stage "local"), up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s

  HTTP API (API Gateway + Lambda)   ${urls.api}         (contract: ${urls.api}/openapi.json)
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

  Ctrl-C stops everything.
`);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  console.log("stopping...");
  await stack.stop();
  process.exit(0);
};
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());
