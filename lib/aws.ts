// AWS clients, one per cold start. Endpoints come from the standard AWS_ENDPOINT_URL_* variables
// (set by the local stack), so the same code talks to AWS and to the local engines.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";

let documentClient: DynamoDBDocumentClient | undefined;
let sqsClient: SQSClient | undefined;

export function dynamo(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts: 3 }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return documentClient;
}

export function sqs(): SQSClient {
  // Queue URLs name their own host; the configured endpoint (AWS's, or the local one) is used instead.
  sqsClient ??= new SQSClient({ maxAttempts: 3, useQueueUrlAsEndpoint: false });
  return sqsClient;
}

export function isConditionFailure(error: unknown): boolean {
  return (error as Error | undefined)?.name === "ConditionalCheckFailedException";
}
