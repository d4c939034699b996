// `npm run package` builds the deployable CloudFormation template offline; this reads it back and
// checks what operations rely on: dead-letter queues and their alarms, alarm routing, least
// privilege per function, public notify route and JWT-protected mobile routes, table safety.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../../local/serverlessConfig.js";

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: string[] };
let resources: Record<string, Resource> = {};
const byType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const refersTo = (value: unknown, id: string) => JSON.stringify(value).includes(`"${id}"`);

beforeAll(() => {
  execFileSync("npm", ["run", "--silent", "package"], { cwd: projectRoot, stdio: "pipe", timeout: 180_000 });
  resources = JSON.parse(readFileSync(join(projectRoot, ".serverless", "cloudformation-template-update-stack.json"), "utf8")).Resources;
});

describe("CloudFormation template", () => {
  it("has the seven functions on nodejs22.x, each with its own role", () => {
    const functions = byType("AWS::Lambda::Function");
    expect(functions.map(([id]) => id).sort()).toEqual([
      "AlipayNotifyLambdaFunction", "CheckOrderLambdaFunction", "CreateOrderLambdaFunction",
      "DeliverEventLambdaFunction", "GetOrderLambdaFunction", "PublishEventsLambdaFunction", "SweepLambdaFunction",
    ]);
    for (const [id, fn] of functions) {
      expect(fn.Properties.Runtime).toBe("nodejs22.x");
      expect(fn.Properties.Role).toEqual({ "Fn::GetAtt": [id.replace("LambdaFunction", "Role"), "Arn"] });
    }
    expect(byType("AWS::IAM::Role")).toHaveLength(7);
  });

  it("protects the mobile routes with the JWT authorizer and leaves the notify URL public", () => {
    const routes = Object.fromEntries(byType("AWS::ApiGatewayV2::Route").map(([, r]) => [r.Properties.RouteKey, r.Properties.AuthorizationType ?? "NONE"]));
    expect(routes).toEqual({ "POST /orders": "JWT", "GET /orders/{orderId}": "JWT", "POST /alipay/notify": "NONE" });
    expect(byType("AWS::ApiGatewayV2::Authorizer")[0]?.[1].Properties.AuthorizerType).toBe("JWT");
  });

  it("gives every work queue a dead-letter queue, and every dead-letter queue an alarm", () => {
    const queues = byType("AWS::SQS::Queue");
    const deadLetterIds = queues.filter(([id]) => id.includes("DeadLetter")).map(([id]) => id);
    // Work queues are the ones a function consumes.
    const consumed = byType("AWS::Lambda::EventSourceMapping").map(([, m]) => JSON.stringify(m.Properties.EventSourceArn));
    const workQueues = queues.filter(([id]) => consumed.some((arn) => arn.includes(`"${id}"`)));
    expect(workQueues.map(([id]) => id).sort()).toEqual(["CheckQueue", "EventsQueue"]);
    expect(workQueues.length).toBeGreaterThan(0);
    for (const [id, queue] of workQueues) {
      const target = queue.Properties.RedrivePolicy?.deadLetterTargetArn;
      expect(target, id).toBeDefined();
      expect(deadLetterIds.some((dlq) => refersTo(target, dlq)), id).toBe(true);
      expect(Number(queue.Properties.RedrivePolicy.maxReceiveCount)).toBeGreaterThan(1);
    }
    const alarms = byType("AWS::CloudWatch::Alarm");
    for (const dlq of deadLetterIds) {
      expect(alarms.some(([, a]) => a.Properties.MetricName === "ApproximateNumberOfMessagesVisible" && refersTo(a.Properties.Dimensions, dlq)), dlq).toBe(true);
    }
    for (const [id] of workQueues) {
      expect(alarms.some(([, a]) => a.Properties.MetricName === "ApproximateAgeOfOldestMessage" && refersTo(a.Properties.Dimensions, id)), id).toBe(true);
    }
  });

  it("routes every alarm to the one SNS topic and covers errors and throttles of every function", () => {
    const alarms = byType("AWS::CloudWatch::Alarm");
    expect(byType("AWS::SNS::Topic")).toHaveLength(1);
    for (const [id, alarm] of alarms) expect(alarm.Properties.AlarmActions, id).toEqual([{ Ref: "AlarmTopic" }]);
    for (const [fn] of byType("AWS::Lambda::Function")) {
      for (const metric of ["Errors", "Throttles"]) {
        expect(alarms.some(([, a]) => a.Properties.MetricName === metric && refersTo(a.Properties.Dimensions, fn)), `${fn} ${metric}`).toBe(true);
      }
    }
    const custom = alarms.filter(([, a]) => a.Properties.Namespace === "AlipayPay").map(([, a]) => a.Properties.MetricName).sort();
    expect(custom).toEqual(["NotificationsRejected", "OldestDueAgeSeconds", "RefundsNeeded", "StuckOrders"]);
    expect(alarms.some(([, a]) => JSON.stringify(a.Properties.Metrics ?? []).includes('"5xx"'))).toBe(true);
    expect(byType("AWS::CloudWatch::Dashboard")).toHaveLength(1);
  });

  it("grants each function only the actions it uses", () => {
    const actionsOf = (role: string) =>
      (resources[role]!.Properties.Policies as Array<{ PolicyDocument: { Statement: Array<{ Action: string[] }> } }>)
        .flatMap((p) => p.PolicyDocument.Statement.flatMap((s) => s.Action)).sort();
    const logs = ["logs:CreateLogStream", "logs:PutLogEvents"];
    const alipayKeys = ["ssm:GetParameter"];
    expect(actionsOf("CreateOrderRole")).toEqual([...logs, "dynamodb:GetItem", "dynamodb:PutItem", ...alipayKeys].sort());
    expect(actionsOf("GetOrderRole")).toEqual([...logs, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", ...alipayKeys].sort());
    expect(actionsOf("AlipayNotifyRole")).toEqual(actionsOf("GetOrderRole"));
    expect(actionsOf("SweepRole")).toEqual([...logs, "dynamodb:Query", "dynamodb:UpdateItem", "sqs:SendMessage"].sort());
    const consumer = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"];
    expect(actionsOf("CheckOrderRole")).toEqual([...logs, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", ...consumer, ...alipayKeys].sort());
    expect(actionsOf("DeliverEventRole")).toEqual([...logs, ...consumer, "ssm:GetParameter"].sort());
    const stream = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"];
    expect(actionsOf("PublishEventsRole")).toEqual([...logs, ...stream, "sqs:SendMessage"].sort());
    // Nothing anywhere may use a wildcard action.
    for (const [id] of byType("AWS::IAM::Role")) expect(actionsOf(id).some((a) => a.includes("*")), id).toBe(false);
  });

  it("keeps the table safe: point-in-time recovery, encryption, TTL; runs the sweep every minute", () => {
    const table = resources.OrdersTable!.Properties;
    expect(table.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled).toBe(true);
    expect(table.SSESpecification.SSEEnabled).toBe(true);
    expect(table.TimeToLiveSpecification).toEqual({ AttributeName: "ttl", Enabled: true });
    expect(byType("AWS::Events::Rule")[0]?.[1].Properties.ScheduleExpression).toBe("rate(1 minute)");
    const mappings = byType("AWS::Lambda::EventSourceMapping");
    expect(mappings.every(([, m]) => m.Properties.FunctionResponseTypes?.includes("ReportBatchItemFailures"))).toBe(true);
  });

  it("publishes paid events from the table stream, with retries, a failure destination and its alarms", () => {
    expect(resources.OrdersTable!.Properties.StreamSpecification).toEqual({ StreamViewType: "NEW_AND_OLD_IMAGES" });
    const [, mapping] = byType("AWS::Lambda::EventSourceMapping").find(([id]) => id.startsWith("PublishEvents"))!;
    expect(mapping.Properties.EventSourceArn).toEqual({ "Fn::GetAtt": ["OrdersTable", "StreamArn"] });
    expect(mapping.Properties.MaximumRetryAttempts).toBe(-1);
    expect(mapping.Properties.DestinationConfig.OnFailure.Destination).toEqual({ "Fn::GetAtt": ["PublishFailuresQueue", "Arn"] });
    expect(JSON.parse(mapping.Properties.FilterCriteria.Filters[0].Pattern)).toEqual({
      dynamodb: { OldImage: { status: { S: ["PENDING"] } }, NewImage: { status: { S: ["PAID"] } } },
    });
    const alarms = byType("AWS::CloudWatch::Alarm");
    expect(alarms.some(([, a]) => a.Properties.MetricName === "ApproximateNumberOfMessagesVisible" && refersTo(a.Properties.Dimensions, "PublishFailuresQueue"))).toBe(true);
    expect(alarms.some(([, a]) => a.Properties.MetricName === "IteratorAge" && refersTo(a.Properties.Dimensions, "PublishEventsLambdaFunction"))).toBe(true);
  });
});
