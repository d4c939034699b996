import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { count, logger, metrics } from "../lib/observability.js";
import { isStale, type SweepShardMessage, sweepShard } from "../lib/payments/sweep.js";

// One shard of the sweep index per message (batchSize 1), swept until it is exhausted or the
// invocation's time runs short. A failure throws (the Errors metric, sweepShard-errors): the message
// comes back only after the queue's visibility timeout, stale by then and dropped, and the next
// minute's message sweeps the shard again. So retries never overlap a newer sweep of the shard.
async function sweepShardHandler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  for (const record of event.Records) {
    const message = JSON.parse(record.body) as SweepShardMessage;
    logger.appendKeys({ shard: message.shard });
    if (isStale(message, Date.now())) {
      count("SweepShardsStale");
      logger.warn("stale sweep message dropped", { ...message });
      continue;
    }
    await sweepShard({ shard: message.shard, remainingMs: () => context.getRemainingTimeInMillis() });
  }
  return { batchItemFailures: [] };
}

export const handler = middy(sweepShardHandler)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()));
