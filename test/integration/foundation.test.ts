// The local stack itself: engines started by the test, resources created from serverless.yml, the sample business systems registered.
import { readFileSync } from "node:fs";
import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { localCredentials } from "../../local/engines.js";
import { readYaml } from "../../local/serverlessConfig.js";
import { useStack, waitFor } from "./harness.js";

const t = useStack();

describe("local stack", () => {
  const clients = () => ({
    dynamo: DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: t.stack.urls.dynamodb, region: "us-east-1", credentials: localCredentials }),
    ),
    sqs: new SQSClient({ endpoint: t.stack.urls.sqs, region: "us-east-1", credentials: localCredentials }),
  });

  it("creates the table from infra/tables.yml, sparse sweep index and TTL included", async () => {
    const infra = readYaml("infra/tables.yml") as {
      Resources: {
        OrdersTable: {
          Properties: { GlobalSecondaryIndexes: Array<{ IndexName: string }>; TimeToLiveSpecification: { AttributeName: string } };
        };
      };
    };
    const { Table } = await clients().dynamo.send(new DescribeTableCommand({ TableName: t.stack.functionEnv.TABLE_NAME }));
    expect(Table?.TableName).toBe("alipay-pay-local-orders");
    // DynamoDB lists indexes in no particular order.
    expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName).sort()).toEqual(
      infra.Resources.OrdersTable.Properties.GlobalSecondaryIndexes.map((i) => i.IndexName).sort(),
    );
    const { TimeToLiveDescription } = await clients().dynamo.send(
      new DescribeTimeToLiveCommand({ TableName: t.stack.functionEnv.TABLE_NAME }),
    );
    // Idempotency keys are forgotten through it.
    expect(TimeToLiveDescription?.AttributeName).toBe(infra.Resources.OrdersTable.Properties.TimeToLiveSpecification.AttributeName);
    expect(TimeToLiveDescription?.TimeToLiveStatus).toBe("ENABLED");
  });

  it("registers the sample business systems, each with its own receiver and webhook secret", async () => {
    const { Items = [] } = await clients().dynamo.send(
      new QueryCommand({
        TableName: t.stack.functionEnv.TABLE_NAME,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": "BUSINESS" },
      }),
    );
    expect(Items.map((i) => i.businessId).sort()).toEqual(["membership", "shop"]);
    for (const system of Items) {
      expect(system).toMatchObject({ status: "ACTIVE", webhookUrl: `${t.stack.urls.receivers[system.businessId]}/events` });
      expect(system.principals).toEqual([t.stack.businessCredentials[system.businessId]!.roleArn]);
    }
    expect(new Set(Items.map((i) => i.webhookSecretRef)).size).toBe(2);
  });

  it("refuses a second conditional put of the same key in the real DynamoDB engine", async () => {
    const { dynamo } = clients();
    const put = () =>
      dynamo.send(
        new PutCommand({
          TableName: t.stack.functionEnv.TABLE_NAME,
          Item: { pk: "TEST#conditional", sk: "TEST" },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    await put();
    await expect(put()).rejects.toMatchObject({ name: "ConditionalCheckFailedException" });
  });

  it("dead-letters a message that keeps failing past maxReceiveCount", async () => {
    const { sqs } = clients();
    const queue = t.stack.resources.CheckQueue!;
    const dlq = t.stack.resources.CheckDeadLetterQueue!;
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.ref, AttributeNames: ["RedrivePolicy"] }));
    expect(JSON.parse(Attributes!.RedrivePolicy!)).toMatchObject({ deadLetterTargetArn: dlq.attributes.Arn });
    // A poison message: the check worker cannot parse it, fails it, backs off, and after
    // maxReceiveCount receives SQS moves it to the dead-letter queue.
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.ref, MessageBody: "not json" }));
    const dead = await waitFor(
      async () => {
        const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq.ref, WaitTimeSeconds: 1, AttributeNames: ["All"] }));
        return Messages?.[0];
      },
      { timeoutMs: 40_000, what: "the poison message in the DLQ" },
    );
    expect(dead.Body).toBe("not json");
    expect(Number(dead.Attributes?.ApproximateReceiveCount)).toBeGreaterThanOrEqual(4);
  });

  it("serves the dev token issuer; the JWT authorizer refuses app requests without a token, IAM refuses unsigned business requests", async () => {
    const created = await t.createPayment({ userId: "alice", amount: 100 });
    expect(created.status).toBe(201);
    const unauthenticated = await t.api(`/v1/app/payments/${created.body.paymentId}/order-string`, { method: "POST" });
    expect(unauthenticated.status).toBe(401);
    const unsigned = await t.api("/v1/payments", {
      body: { businessOrderId: "x", amount: 1, subject: "s", userId: "alice" },
      headers: { "idempotency-key": "unsigned" },
    });
    expect(unsigned.status).toBe(403);
    const token = await fetch(`${t.stack.urls.api}/_dev/token?sub=alice`).then((r) => r.json() as Promise<{ token: string }>);
    expect(token.token.split(".")).toHaveLength(3);
    const withToken = await t.api(`/v1/app/payments/${created.body.paymentId}`, { token: token.token });
    expect(withToken.status).toBe(200);
  });

  it("serves the committed docs/openapi.json at /openapi.json, without auth", async () => {
    const response = await fetch(`${t.stack.urls.api}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(await response.text()).toBe(readFileSync(new URL("../../docs/openapi.json", import.meta.url), "utf8"));
  });
});
