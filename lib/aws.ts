// AWS clients, one per cold start. Endpoints come from the standard AWS_ENDPOINT_URL_* variables
// (set by the local stack), so the same code talks to AWS and to the local engines.
import { type AttributeValue, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";

// Without timeouts a request to a stalled connection waits for the function's own timeout, and the
// SDK's retries never get their turn. These bound each try (the SDK retries up to maxAttempts, so a
// call takes at most ~3 x 3 s, inside the 10 s API function timeout); all are millisecond calls
// when healthy. SSM (lib/config.ts, through Powertools Parameters) gets the same options. Options, not a NodeHttpHandler instance: the SDK builds its own handler from
// them, so @smithy/node-http-handler is not bundled (the runtime's SDK brings it). Recent handlers
// only warn when requestTimeout passes unless told to throw.
const requestHandler = { connectionTimeout: 1000, requestTimeout: 3000, throwOnRequestTimeout: true };

/** What every AWS client here is built with: bounded attempts, each bounded in time. */
export const awsClientOptions = { maxAttempts: 3, requestHandler };

let documentClient: DynamoDBDocumentClient | undefined;
let sqsClient: SQSClient | undefined;

export function dynamo(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(new DynamoDBClient(awsClientOptions), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return documentClient;
}

export function sqs(): SQSClient {
  // Queue URLs name their own host; the configured endpoint (AWS's, or the local one) is used instead.
  sqsClient ??= new SQSClient({ ...awsClientOptions, useQueueUrlAsEndpoint: false });
  return sqsClient;
}

/**
 * Why a TransactWriteItems was canceled, one entry per item in order: its code
 * (`ConditionalCheckFailed`, `TransactionConflict`, `None`) and, where the item asked for
 * ReturnValuesOnConditionCheckFailure, what it holds. Undefined for any other error.
 */
export function cancellationReasons(error: unknown): Array<{ code?: string; item?: Record<string, unknown> }> | undefined {
  const reasons = (error as { CancellationReasons?: Array<{ Code?: string; Item?: Record<string, AttributeValue> }> } | undefined)
    ?.CancellationReasons;
  if ((error as Error | undefined)?.name !== "TransactionCanceledException" || !reasons) return undefined;
  return reasons.map((r) => ({ code: r.Code, ...(r.Item ? { item: unmarshall(r.Item) } : {}) }));
}

export function isConditionFailure(error: unknown): boolean {
  return (error as Error | undefined)?.name === "ConditionalCheckFailedException";
}
