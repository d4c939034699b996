// The committed OpenAPI document (docs/openapi.json) is what the contract generates, is valid
// OpenAPI 3.1, covers every operation and error code, and keeps prices out of the app's requests.
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { type Operation, operations } from "../../lib/api/contract.js";
import { errorCatalogue } from "../../lib/api/errors.js";
import { buildOpenApiDocument, openApiPath, renderOpenApiDocument } from "../../scripts/openapi.js";
import { validatorOf } from "../integration/openapiCheck.js";

type Json = Record<string, any>;
const methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

function operationsOf(document: Json): { template: string; method: string; operation: Json }[] {
  return Object.entries(document.paths as Json).flatMap(([template, item]) =>
    methods.filter((m) => item[m]).map((method) => ({ template, method, operation: item[method] as Json })),
  );
}

function deref(document: Json, node: Json): Json {
  let current = node;
  while (typeof current?.$ref === "string") {
    current = (current.$ref as string)
      .slice(2)
      .split("/")
      .reduce((n: Json, p) => n?.[p.replace(/~1/g, "/").replace(/~0/g, "~")], document);
    if (!current) throw new Error(`unresolved ${node.$ref}`);
  }
  return current;
}

/** Every property name reachable from a schema (through $ref, combinators, items, ...), with its path. */
function propertyNames(document: Json, schema: unknown, at: string, seen = new Set<object>()): string[] {
  if (!schema || typeof schema !== "object") return [];
  const node = deref(document, schema as Json);
  if (seen.has(node)) return [];
  seen.add(node);
  const found: string[] = [];
  for (const [name, sub] of Object.entries((node.properties ?? {}) as Json)) {
    found.push(`${at}.${name}`, ...propertyNames(document, sub, `${at}.${name}`, seen));
  }
  for (const key of ["allOf", "anyOf", "oneOf", "prefixItems"]) {
    for (const sub of (node[key] ?? []) as unknown[]) found.push(...propertyNames(document, sub, at, seen));
  }
  for (const key of ["items", "additionalProperties", "not", "if", "then", "else", "contains", "unevaluatedProperties"]) {
    found.push(...propertyNames(document, node[key], at, seen));
  }
  for (const sub of Object.values((node.patternProperties ?? {}) as Json)) found.push(...propertyNames(document, sub, at, seen));
  return found;
}

describe("docs/openapi.json", () => {
  it("is what the contract generates", async () => {
    const committed = readFileSync(openApiPath, "utf8");
    const generated = await renderOpenApiDocument();
    expect(committed === generated, "docs/openapi.json is stale: run npm run openapi and commit the result").toBe(true);
  });

  it("is a valid OpenAPI 3.1 document whose schemas compile and references resolve", async () => {
    const document = (await buildOpenApiDocument()) as Json;
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    expect(result.errors ?? [], "OpenAPI 3.1 schema validation").toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(() => validator.resolveRefs()).not.toThrow();
    // Every request, response and header schema is valid JSON Schema 2020-12 (ajv, strict).
    for (const { operation } of operationsOf(document)) {
      const media = [
        ...Object.values((operation.requestBody?.content ?? {}) as Json),
        ...Object.values(operation.responses as Json).flatMap((r: Json) => Object.values((deref(document, r).content ?? {}) as Json)),
      ];
      for (const { schema } of media) if (schema) expect(() => validatorOf(schema)).not.toThrow();
      for (const parameter of (operation.parameters ?? []) as Json[])
        expect(() => validatorOf(deref(document, parameter).schema)).not.toThrow();
    }
  });

  it("describes every operation of the contract with its security, parameters and errors", async () => {
    const document = (await buildOpenApiDocument()) as Json;
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual(["appJwt", "businessIam"]);
    expect(document.components.securitySchemes.businessIam).toMatchObject({
      type: "apiKey",
      in: "header",
      name: "Authorization",
      "x-amazon-apigateway-authtype": "awsSigv4",
    });
    expect(document.components.securitySchemes.appJwt).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
    expect(document["x-error-codes"]).toEqual(
      Object.entries(errorCatalogue).map(([code, { status, description }]) => ({ code, status, description })),
    );

    for (const contract of Object.values(operations) as Operation[]) {
      const operation = document.paths[contract.path]?.[contract.method];
      expect(operation?.operationId, `${contract.method} ${contract.path}`).toBe(contract.operationId);
      expect(operation.security).toEqual(contract.security === "none" ? [] : [{ [contract.security]: [] }]);
      // Every path template parameter is declared as a required path parameter.
      for (const name of (contract.path.match(/\{([^}]+)\}/g) ?? []).map((p) => p.slice(1, -1))) {
        expect(operation.parameters, `${contract.operationId}: path parameter ${name}`).toContainEqual(
          expect.objectContaining({ in: "path", name, required: true }),
        );
      }
      for (const status of Object.keys(contract.responses))
        expect(operation.responses[status], `${contract.operationId} ${status}`).toBeDefined();
      // Every error code the operation may answer is listed under its status.
      for (const code of contract.errors) {
        const response = operation.responses[errorCatalogue[code].status];
        expect(JSON.stringify(response?.content), `${contract.operationId}: ${code}`).toContain(`"${code}"`);
      }
      // A parameter whose absence has its own error code (idempotency_key_missing, ...) is required.
      for (const parameter of (operation.parameters ?? []) as Json[]) {
        const missing = `${(parameter.name as string).replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/-/g, "_")}_missing`;
        if ((contract.errors as string[]).includes(missing))
          expect(parameter.required, `${contract.operationId}: ${parameter.in} ${parameter.name} (${missing})`).toBe(true);
      }
      // The authorizers' own refusals.
      if (contract.security === "appJwt") expect(JSON.stringify(operation.responses["401"])).toContain("GatewayError");
      if (contract.security === "businessIam") expect(JSON.stringify(operation.responses["403"])).toContain("GatewayError");
    }
  });

  // The app never sends a price: the business system sets it server to server (issue 9).
  it("has no amount in any request of an appJwt operation", async () => {
    const document = (await buildOpenApiDocument()) as Json;
    const offenders: Record<string, string[]> = {};
    for (const { template, method, operation } of operationsOf(document)) {
      if (!(operation.security as Json[] | undefined)?.some((s) => "appJwt" in s)) continue;
      const found = [
        ...Object.entries((operation.requestBody?.content ?? {}) as Json).flatMap(([type, media]) =>
          propertyNames(document, media.schema, `body(${type})`),
        ),
        ...((operation.parameters ?? []) as Json[]).map((p) => deref(document, p)).map((p) => `${p.in}.${p.name}`),
      ].filter((path) => /amount/i.test(path.split(".").at(-1)!));
      if (found.length) offenders[`${method.toUpperCase()} ${template} (${operation.operationId})`] = found;
    }
    expect(offenders).toEqual({});
  });
});
