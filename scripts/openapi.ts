// Builds the OpenAPI 3.1 document of the HTTP API from the contract (lib/api/contract.ts) and
// the error catalogue (lib/api/errors.ts), and writes it to docs/openapi.json (npm run openapi).
// Everything is derived from `operations`: a new operation needs no change here.
import { mkdirSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig, type RouteConfig } from "@asteasolutions/zod-to-openapi";
import type { z } from "zod";
import { type Operation, operations } from "../lib/api/contract.js";
import { type ErrorCode, errorCatalogue } from "../lib/api/errors.js";
import { ErrorBody } from "../lib/api/schemas.js";

export const openApiPath = fileURLToPath(new URL("../docs/openapi.json", import.meta.url));

/** What API Gateway's own authorizers answer before the Lambda runs (not `{ code, message }`). */
const gatewayAnswers = {
  appJwt: { status: 401, description: "API Gateway's JWT authorizer refused the request: missing, expired or invalid bearer token." },
  businessIam: { status: 403, description: "API Gateway's IAM authorizer refused the request: unsigned, badly signed or not allowed." },
} as const;

const securitySchemes = {
  appJwt: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A JWT issued by the app's identity provider to the signed-in user, verified by the API Gateway JWT authorizer. The token's subject is the user.",
  },
  businessIam: {
    type: "apiKey",
    in: "header",
    name: "Authorization",
    "x-amazon-apigateway-authtype": "awsSigv4",
    description: "AWS Signature Version 4 (service `execute-api`), verified by the API Gateway IAM authorizer. The signing principal must belong to a registered business system.",
  },
} as const;

function errorCatalogueTable(): string {
  const rows = Object.entries(errorCatalogue).map(([code, { status, description }]) => `| \`${code}\` | ${status} | ${description} |`);
  return ["| code | status | meaning |", "| --- | --- | --- |", ...rows].join("\n");
}

// ErrorBody carries `.meta({ id: "Error" })`, so the generator names it `Error`.
const errorSchemaRef = { $ref: "#/components/schemas/Error" };
const gatewayErrorRef = { $ref: "#/components/schemas/GatewayError" };

/** The error answers of one status: the `Error` schema, its `code` limited to the operation's codes. */
function errorResponse(codes: ErrorCode[]): ResponseConfig {
  const list = codes.map((code) => `\`${code}\` (${errorCatalogue[code].description})`).join("; ");
  return {
    description: `Error. \`code\` is one of: ${list}.`,
    content: {
      "application/json": {
        schema: { allOf: [errorSchemaRef, { type: "object", properties: { code: { type: "string", enum: codes } } }] },
      },
    },
  };
}

function responsesOf(operation: Operation): Record<string, ResponseConfig> {
  const responses: Record<string, ResponseConfig> = {};
  for (const [status, response] of Object.entries(operation.responses)) {
    responses[status] = {
      description: response.description,
      ...(response.headers ? { headers: response.headers } : {}),
      ...(response.body ? { content: { [response.contentType ?? "application/json"]: { schema: response.body } } } : {}),
    };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of operation.errors) {
    const { status } = errorCatalogue[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of byStatus) {
    if (responses[status]) throw new Error(`${operation.operationId}: status ${status} is declared both as a response and by error codes ${codes.join(", ")}`);
    responses[status] = errorResponse(codes);
  }
  if (operation.security !== "none") {
    const gateway = gatewayAnswers[operation.security];
    const own = responses[gateway.status];
    if (own) {
      // The handler may answer the same status itself (e.g. `unauthorized`): either body.
      const ownContent = own.content?.["application/json"];
      const ownSchema = ownContent && "schema" in ownContent ? ownContent.schema : undefined;
      if (!ownSchema) throw new Error(`${operation.operationId}: status ${gateway.status} is not JSON, API Gateway answers it with JSON`);
      responses[gateway.status] = {
        description: `${gateway.description} Or: ${own.description}`,
        content: { "application/json": { schema: { anyOf: [gatewayErrorRef, ownSchema as never] } } },
      };
    } else {
      responses[gateway.status] = { description: gateway.description, content: { "application/json": { schema: gatewayErrorRef } } };
    }
  }
  return Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b)));
}

function routeOf(operation: Operation): RouteConfig {
  // Query parameters are optional in the contract; read them generically.
  const request: Operation["request"] & { query?: z.ZodObject } = operation.request;
  let body: NonNullable<RouteConfig["request"]>["body"];
  if (request.body) {
    body = { required: !request.body.safeParse(undefined).success, content: { "application/json": { schema: request.body } } };
  } else if (request.rawBody) {
    body = { required: true, description: request.rawBody.description, content: { [request.rawBody.contentType]: { schema: { type: "string" } } } };
  }
  return {
    method: operation.method,
    path: operation.path,
    operationId: operation.operationId,
    summary: operation.summary,
    ...(operation.description ? { description: operation.description } : {}),
    tags: operation.tags,
    security: operation.security === "none" ? [] : [{ [operation.security]: [] }],
    request: {
      ...(request.headers ? { headers: request.headers } : {}),
      ...(request.pathParameters ? { params: request.pathParameters } : {}),
      ...(request.query ? { query: request.query } : {}),
      ...(body ? { body } : {}),
    },
    responses: responsesOf(operation),
  };
}

/** Recursively sorts object keys, except where order carries meaning (schema `properties`, top-level keys). */
function stable(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) return value.map((v) => stable(v));
  if (!value || typeof value !== "object") return value;
  const entries = Object.entries(value).map(([k, v]) => [k, stable(v, k)] as const);
  if (key !== "properties") entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries);
}

const tagDescriptions: Record<string, string> = {
  app: "Called by the mobile app with the user's JWT.",
  business: "Called server to server by a registered business system, signed with AWS SigV4.",
  alipay: "Called by Alipay.",
};

const topLevelOrder = ["openapi", "info", "servers", "tags", "security", "paths", "components", "x-error-codes"];

export async function buildOpenApiDocument(): Promise<Record<string, unknown>> {
  const { version } = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  const registry = new OpenAPIRegistry();
  registry.registerComponent("schemas", "GatewayError", {
    type: "object",
    description: "API Gateway's own answer (authorizers, throttling), not produced by our code.",
    properties: { message: { type: "string" } },
    required: ["message"],
  });
  for (const [name, scheme] of Object.entries(securitySchemes)) registry.registerComponent("securitySchemes", name, scheme);
  for (const operation of Object.values(operations) as Operation[]) registry.registerPath(routeOf(operation));

  const document = new OpenApiGeneratorV31([...registry.definitions, { type: "schema", schema: ErrorBody }]).generateDocument({
    openapi: "3.1.0",
    info: {
      title: "Alipay payment center",
      version,
      description: [
        "Payments through Alipay App Pay.",
        "",
        "- Amounts are integer fen (1 fen = 0.01 CNY), never decimals.",
        "- Every error our code answers is JSON `{ code, message }`: `code` is stable and machine-readable, `message` is for humans and may change. API Gateway's own refusals (authorizers) are `{ message }` only.",
        "- Retried creates carry the same `Idempotency-Key`.",
        "",
        "Error codes (also under `x-error-codes`):",
        "",
        errorCatalogueTable(),
      ].join("\n"),
    },
    tags: [...new Set((Object.values(operations) as Operation[]).flatMap((o) => o.tags))].map((name) => ({
      name,
      ...(name in tagDescriptions ? { description: tagDescriptions[name] } : {}),
    })),
  });
  const { webhooks: _webhooks, ...withoutWebhooks } = document;
  const components = Object.fromEntries(Object.entries(document.components ?? {}).filter(([, v]) => Object.keys(v as object).length > 0));
  const withCatalogue = {
    ...withoutWebhooks,
    components,
    "x-error-codes": Object.entries(errorCatalogue).map(([code, { status, description }]) => ({ code, status, description })),
  } as Record<string, unknown>;
  const sorted = stable(withCatalogue) as Record<string, unknown>;
  const ordered = Object.fromEntries([
    ...topLevelOrder.filter((k) => k in sorted).map((k) => [k, sorted[k]] as const),
    ...Object.entries(sorted).filter(([k]) => !topLevelOrder.includes(k)),
  ]);
  return ordered;
}

export async function renderOpenApiDocument(): Promise<string> {
  return `${JSON.stringify(await buildOpenApiDocument(), null, 2)}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  mkdirSync(fileURLToPath(new URL("../docs/", import.meta.url)), { recursive: true });
  writeFileSync(openApiPath, await renderOpenApiDocument());
  console.log(`wrote ${openApiPath}`);
}
