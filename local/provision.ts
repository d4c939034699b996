// Creates the tables and queues declared in serverless.yml's resources (infra/*.yml) in the local
// engines, and resolves the CloudFormation intrinsics that point at them (Ref, GetAtt, Sub, Join).
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
  type GlobalSecondaryIndex,
} from "@aws-sdk/client-dynamodb";
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { CreateBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import type { CfnResource, LocalService } from "./serverlessConfig.js";

export interface ProvisionedResource {
  ref: string;
  attributes: Record<string, string>;
}
export type ResourceMap = Record<string, ProvisionedResource>;

export async function provisionResources(
  service: LocalService,
  dynamo: DynamoDBClient,
  sqs: SQSClient,
  s3?: S3Client,
): Promise<ResourceMap> {
  const resources: ResourceMap = {};
  const entries = Object.entries(service.resources);
  for (const [id, resource] of entries.filter(([, r]) => r.Type === "AWS::DynamoDB::Table")) {
    resources[id] = await createTable(resource, dynamo, service.region);
  }
  // Queues that others point at (dead-letter queues) first, so their ARNs resolve.
  const queues = entries.filter(([, r]) => r.Type === "AWS::SQS::Queue");
  const pending = new Map(queues);
  while (pending.size > 0) {
    const before = pending.size;
    for (const [id, resource] of pending) {
      try {
        const properties = resolveIntrinsics(resource.Properties, resources, service) as Record<string, unknown>;
        resources[id] = await createQueue(properties, sqs);
        pending.delete(id);
      } catch (error) {
        if (!(error instanceof UnresolvedReference)) throw error;
      }
    }
    if (pending.size === before) throw new Error(`Queues reference unknown resources: ${[...pending.keys()].join(", ")}`);
  }
  // Buckets (fauxqs serves S3 too): only the name matters locally.
  for (const [id, resource] of entries.filter(([, r]) => r.Type === "AWS::S3::Bucket")) {
    if (!s3) continue;
    const { BucketName } = resolveIntrinsics(resource.Properties, resources, service) as { BucketName: string };
    try {
      await s3.send(new CreateBucketCommand({ Bucket: BucketName }));
    } catch (error) {
      if (!/BucketAlready(OwnedByYou|Exists)/.test((error as Error).name)) throw error;
    }
    resources[id] = { ref: BucketName, attributes: { Arn: `arn:aws:s3:::${BucketName}` } };
  }
  return resources;
}

async function createTable(resource: CfnResource, dynamo: DynamoDBClient, region: string): Promise<ProvisionedResource> {
  const p = resource.Properties as Record<string, any>;
  const input: CreateTableCommandInput = {
    TableName: p.TableName,
    AttributeDefinitions: p.AttributeDefinitions,
    KeySchema: p.KeySchema,
    BillingMode: p.BillingMode,
    // Warm throughput is an AWS capacity setting (scripts/sizing.cjs), nothing DynamoDB Local has.
    GlobalSecondaryIndexes: (p.GlobalSecondaryIndexes as GlobalSecondaryIndex[] | undefined)?.map(
      ({ WarmThroughput: _, ...index }) => index,
    ),
    ...(p.StreamSpecification
      ? { StreamSpecification: { StreamEnabled: true, StreamViewType: p.StreamSpecification.StreamViewType } }
      : {}),
  };
  try {
    await dynamo.send(new CreateTableCommand(input));
  } catch (error) {
    if ((error as Error).name !== "ResourceInUseException") throw error;
  }
  if (p.TimeToLiveSpecification?.Enabled) {
    try {
      await dynamo.send(
        new UpdateTimeToLiveCommand({
          TableName: p.TableName,
          TimeToLiveSpecification: { AttributeName: p.TimeToLiveSpecification.AttributeName, Enabled: true },
        }),
      );
    } catch (error) {
      // Already enabled on a table kept from an earlier run.
      if ((error as Error).name !== "ValidationException") throw error;
    }
  }
  const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: p.TableName }));
  return {
    ref: p.TableName,
    attributes: {
      Arn: `arn:aws:dynamodb:${region}:000000000000:table/${p.TableName}`,
      ...(Table?.LatestStreamArn ? { StreamArn: Table.LatestStreamArn } : {}),
    },
  };
}

async function createQueue(properties: Record<string, unknown>, sqs: SQSClient): Promise<ProvisionedResource> {
  const { QueueName, ...rest } = properties;
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(rest)) {
    attributes[key] = typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: String(QueueName), Attributes: attributes }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }));
  return {
    ref: QueueUrl!,
    attributes: { Arn: Attributes!.QueueArn!, QueueUrl: QueueUrl!, QueueName: String(QueueName) },
  };
}

class UnresolvedReference extends Error {}

export function resolveIntrinsics(node: unknown, resources: ResourceMap, service: LocalService): unknown {
  if (Array.isArray(node)) return node.map((n) => resolveIntrinsics(n, resources, service));
  if (!node || typeof node !== "object") return node;
  const object = node as Record<string, unknown>;
  const pseudo: Record<string, string> = {
    "AWS::Region": service.region,
    "AWS::AccountId": "000000000000",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
  };
  const lookup = (id: string, attribute?: string): string => {
    if (pseudo[id] !== undefined) return pseudo[id];
    const resource = resources[id];
    if (!resource) throw new UnresolvedReference(id);
    if (attribute === undefined) return resource.ref;
    const value = resource.attributes[attribute];
    if (value === undefined) throw new Error(`No local value for ${id}.${attribute}`);
    return value;
  };
  if ("Ref" in object) return lookup(String(object.Ref));
  if ("Fn::GetAtt" in object) {
    const [id, attribute] = object["Fn::GetAtt"] as [string, string];
    return lookup(id, attribute);
  }
  if ("Fn::Sub" in object) {
    return String(object["Fn::Sub"]).replace(/\$\{([^}]+)\}/g, (_, name: string) => {
      const [id, attribute] = name.split(".");
      return lookup(id!, attribute);
    });
  }
  if ("Fn::Join" in object) {
    const [separator, parts] = object["Fn::Join"] as [string, unknown[]];
    return parts.map((p) => resolveIntrinsics(p, resources, service)).join(separator);
  }
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, resolveIntrinsics(v, resources, service)]));
}
