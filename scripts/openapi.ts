// Builds the OpenAPI 3.1 document of the HTTP API from the contract (lib/api/contract.ts) and
// the error catalogue (lib/api/errors.ts), and writes it to docs/openapi.json (npm run openapi).
// Everything is derived from `operations`: a new operation needs no change here. Schemas are
// zod/mini, turned into JSON Schema 2020-12 (OpenAPI 3.1's dialect) by zod itself; schemas with an
// `id` become components.
import { mkdirSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as z from "zod/mini";
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
    description:
      "A JWT issued by the app's identity provider to the signed-in user, verified by the API Gateway JWT authorizer. The token's subject is the user.",
  },
  businessIam: {
    type: "apiKey",
    in: "header",
    name: "Authorization",
    "x-amazon-apigateway-authtype": "awsSigv4",
    description:
      "AWS Signature Version 4 (service `execute-api`), verified by the API Gateway IAM authorizer. The signing principal must belong to a registered business system.",
  },
} as const;

type Json = Record<string, unknown>;
type ResponseConfig = { description: string; headers?: Json; content?: Record<string, { schema: Json }> };

/** Components collected while converting: every schema with an `id`. */
const components: Record<string, Json> = {};

/** A zod schema as JSON Schema; named schemas become `#/components/schemas/<id>` references. */
function jsonSchema(schema: z.ZodMiniType, io: "input" | "output"): Json {
  const converted = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" }) as Json;
  // Refs point at components; zod's spelled-out date-time regex and the safe-integer bound say
  // nothing `format: date-time` and `type: integer` do not already say.
  const relink = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(relink);
    if (!value || typeof value !== "object") return value;
    const { pattern, maximum, ...rest } = value as Json;
    const keep = {
      ...rest,
      ...(pattern !== undefined && rest.format !== "date-time" ? { pattern } : {}),
      ...(maximum !== undefined && maximum !== Number.MAX_SAFE_INTEGER ? { maximum } : {}),
    };
    return Object.fromEntries(
      Object.entries(keep).map(([k, v]) => [
        k,
        k === "$ref" && typeof v === "string" ? v.replace("#/$defs/", "#/components/schemas/") : relink(v),
      ]),
    );
  };
  const { $schema: _dialect, $defs, ...root } = converted as Json & { $defs?: Record<string, Json> };
  for (const [id, definition] of Object.entries($defs ?? {})) components[id] = relink(definition) as Json;
  return relink(root) as Json;
}

/** The properties of an object schema, as OpenAPI parameters. */
function parametersOf(object: z.ZodMiniObject | undefined, where: "header" | "path" | "query"): Json[] {
  if (!object) return [];
  return Object.entries(object._zod.def.shape).map(([name, property]) => {
    const { description, ...schema } = jsonSchema(property as z.ZodMiniType, "input");
    const optional = (property as z.ZodMiniType)._zod.optin === "optional";
    return { name, in: where, required: where === "path" || !optional, ...(description ? { description } : {}), schema };
  });
}

/** Response headers declared by an object schema. */
function headersOf(object: z.ZodMiniObject): Json {
  return Object.fromEntries(
    Object.entries(object._zod.def.shape).map(([name, property]) => {
      const { description, ...schema } = jsonSchema(property as z.ZodMiniType, "output");
      return [name, { ...(description ? { description } : {}), schema }];
    }),
  );
}

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
      ...(response.headers ? { headers: headersOf(response.headers) } : {}),
      ...(response.body
        ? { content: { [response.contentType ?? "application/json"]: { schema: jsonSchema(response.body, "output") } } }
        : {}),
    };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of operation.errors) {
    const { status } = errorCatalogue[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of byStatus) {
    if (responses[status])
      throw new Error(`${operation.operationId}: status ${status} is declared both as a response and by error codes ${codes.join(", ")}`);
    responses[status] = errorResponse(codes);
  }
  if (operation.security !== "none") {
    const gateway = gatewayAnswers[operation.security];
    const own = responses[gateway.status];
    if (own) {
      // The handler may answer the same status itself (e.g. `unauthorized`): either body.
      const ownSchema = own.content?.["application/json"]?.schema;
      if (!ownSchema) throw new Error(`${operation.operationId}: status ${gateway.status} is not JSON, API Gateway answers it with JSON`);
      responses[gateway.status] = {
        description: `${gateway.description} Or: ${own.description}`,
        content: { "application/json": { schema: { anyOf: [gatewayErrorRef, ownSchema] } } },
      };
    } else {
      responses[gateway.status] = { description: gateway.description, content: { "application/json": { schema: gatewayErrorRef } } };
    }
  }
  return Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b)));
}

function operationOf(operation: Operation): Json {
  const { request } = operation;
  let requestBody: Json | undefined;
  if (request.body) {
    requestBody = { required: true, content: { "application/json": { schema: jsonSchema(request.body, "input") } } };
  } else if (request.rawBody) {
    requestBody = {
      required: true,
      description: request.rawBody.description,
      content: { [request.rawBody.contentType]: { schema: { type: "string" } } },
    };
  }
  const parameters = [
    ...parametersOf(request.pathParameters, "path"),
    ...parametersOf(request.query, "query"),
    ...parametersOf(request.headers, "header"),
  ];
  return {
    operationId: operation.operationId,
    summary: operation.summary,
    ...(operation.description ? { description: operation.description } : {}),
    tags: operation.tags,
    security: operation.security === "none" ? [] : [{ [operation.security]: [] }],
    ...(parameters.length ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
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
  for (const key of Object.keys(components)) delete components[key];
  const paths: Record<string, Record<string, Json>> = {};
  for (const operation of Object.values(operations) as Operation[]) {
    paths[operation.path] = { ...paths[operation.path], [operation.method]: operationOf(operation) };
  }
  jsonSchema(ErrorBody, "output");
  components.GatewayError = {
    type: "object",
    description: "API Gateway's own answer (authorizers, throttling), not produced by our code.",
    properties: { message: { type: "string" } },
    required: ["message"],
  };
  const document: Json = {
    openapi: "3.1.0",
    info: {
      title: "Alipay payment center",
      version,
      description: [
        "Payments through Alipay App Pay. Business systems create payments (they set the amount) with the business API; the paying user's app gets the order string with the app API.",
        "",
        "- Amounts are integer fen (1 fen = 0.01 CNY), never decimals. The app API never takes an amount.",
        "- Every error our code answers is JSON `{ code, message }`: `code` is stable and machine-readable, `message` is for humans and may change. API Gateway's own refusals (authorizers) are `{ message }` only.",
        "- Retried creates carry the same `Idempotency-Key`; every key replays its first answer.",
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
    paths,
    components: { schemas: { ...components }, securitySchemes },
  };
  const withCatalogue = {
    ...document,
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
