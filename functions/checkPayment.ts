import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { config } from "../lib/config.js";
import { logger, metrics } from "../lib/observability.js";
import { type CheckMessage, checkPayment } from "../lib/payments/check.js";
import { oneAtATime, withRetryBackoff } from "../lib/queue.js";
import { checkRefund } from "../lib/refunds/check.js";
import { alipayKeysChecked } from "../lib/alipay/client.js";
import { withAlipayDeadline } from "../lib/alipay/deadline.js";

/** `sharedLogKeys`: one record per invocation, so the logger's keys can name it. */
const checkRecord = (sharedLogKeys: boolean) =>
  async function checkRecord(record: SQSRecord): Promise<void> {
    const { paymentId, refundId } = JSON.parse(record.body) as CheckMessage;
    if (sharedLogKeys) logger.appendKeys({ paymentId, ...(refundId !== undefined ? { refundId } : {}) });
    if (refundId !== undefined) {
      const outcome = await checkRefund(paymentId, refundId);
      logger.info("refund checked", { paymentId, refundId, outcome });
      return;
    }
    const outcome = await checkPayment(paymentId);
    logger.info("payment checked", { paymentId, outcome });
  };

async function checkPaymentHandler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  const { checkQueueUrl, retryBaseSeconds, maxReceiveCount } = await config();
  // A processor per invocation: it holds the batch's state, and the local stack runs several
  // invocations of one module at once.
  const processor = new BatchProcessor(EventType.SQS);
  // A batch (checkBatchSize > 1, when Alipay's rate wants more checks at once than one event source
  // mapping runs: scripts/sizing.cjs) is checked in parallel: its checks share the invocation's
  // deadline, and one slow Alipay answer does not hold up the others.
  const inParallel = event.Records.length > 1;
  return processPartialResponse(
    event,
    withRetryBackoff(
      { queueUrl: checkQueueUrl, queueName: "check", maxReceiveCount: maxReceiveCount.check, retryBaseSeconds, sharedLogKeys: !inParallel },
      checkRecord(!inParallel),
    ),
    processor,
    { context, ...oneAtATime, processInParallel: inParallel },
  );
}

// Its Alipay calls share the invocation's time (lib/alipay/deadline.ts; budget in serverless.yml).
export const handler = middy(withAlipayDeadline(checkPaymentHandler))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()))
  .use(alipayKeysChecked());
