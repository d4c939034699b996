// `npm run package` builds the deployable CloudFormation template offline.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../../local/serverlessConfig.js";

describe("serverless package", () => {
  it("produces the CloudFormation template with the functions, routes, queues and table", () => {
    execFileSync("npm", ["run", "--silent", "package"], { cwd: projectRoot, stdio: "pipe", timeout: 180_000 });
    const template = JSON.parse(readFileSync(join(projectRoot, ".serverless", "cloudformation-template-update-stack.json"), "utf8")) as {
      Resources: Record<string, { Type: string; Properties: Record<string, any> }>;
    };
    const byType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
    expect(byType("AWS::Lambda::Function").map(([id]) => id).sort()).toEqual([
      "AlipayNotifyLambdaFunction", "CheckOrderLambdaFunction", "CreateOrderLambdaFunction",
      "DeliverEventLambdaFunction", "GetOrderLambdaFunction", "SweepLambdaFunction",
    ]);
    for (const [, fn] of byType("AWS::Lambda::Function")) expect(fn.Properties.Runtime).toBe("nodejs22.x");
    const routes = Object.fromEntries(byType("AWS::ApiGatewayV2::Route").map(([, r]) => [r.Properties.RouteKey, r.Properties.AuthorizationType ?? "NONE"]));
    expect(routes).toEqual({ "POST /orders": "JWT", "GET /orders/{orderId}": "JWT", "POST /alipay/notify": "NONE" });
    for (const [id, queue] of byType("AWS::SQS::Queue").filter(([id]) => !id.includes("DeadLetter"))) {
      expect(queue.Properties.RedrivePolicy?.deadLetterTargetArn, id).toBeDefined();
    }
    const table = template.Resources.OrdersTable!;
    expect(table.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled).toBe(true);
    expect(byType("AWS::Events::Rule")[0]?.[1].Properties.ScheduleExpression).toBe("rate(1 minute)");
    const mappings = byType("AWS::Lambda::EventSourceMapping");
    expect(mappings.every(([, m]) => m.Properties.FunctionResponseTypes?.includes("ReportBatchItemFailures"))).toBe(true);
  });
});
