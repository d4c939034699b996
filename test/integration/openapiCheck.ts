// Checks the answers the integration tests receive against the committed OpenAPI document
// (docs/openapi.json): the operation is found by the request's method and path, and the status,
// the declared headers, the content type and the body must be what the document says.
import { readFileSync } from "node:fs";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

type Json = Record<string, any>;

export const openApiDocument: Json = JSON.parse(readFileSync(new URL("../../docs/openapi.json", import.meta.url), "utf8"));

/** Paths that are not part of the API: the local stack's dev helpers and the document itself. */
const notApi = (path: string) => path.startsWith("/_dev/") || path === "/openapi.json" || path === "/docs" || path.startsWith("/docs/");

// ajv-formats is CommonJS with a default export.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (
  ajv: Ajv2020,
) => Ajv2020;

const componentsId = "https://openapi.local/components";
const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
addFormats(ajv);
// OpenAPI's own schema keywords (annotations only), and `components`, under which the document's
// schemas are registered (they are only reached through $ref).
ajv.addVocabulary(["example", "discriminator", "xml", "externalDocs", "components"]);

/** Points `#/components/...` references at the components schema registered with ajv. */
function rebase(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rebase);
  if (!value || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      k === "$ref" && typeof v === "string" && v.startsWith("#/components/") ? `${componentsId}${v}` : rebase(v),
    ]),
  );
}
ajv.addSchema({ $id: componentsId, components: { schemas: rebase(openApiDocument.components?.schemas ?? {}) } });

const compiled = new WeakMap<object, ValidateFunction>();

/** Compiles a schema of the document once (references into components resolve). */
export function validatorOf(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(rebase(schema) as object);
    compiled.set(schema, validate);
  }
  return validate;
}

function resolve(node: Json): Json {
  let current = node;
  for (let depth = 0; typeof current.$ref === "string"; depth += 1) {
    if (depth > 10 || !current.$ref.startsWith("#/")) throw new Error(`cannot resolve ${current.$ref}`);
    current = current.$ref
      .slice(2)
      .split("/")
      .reduce((n: Json, part: string) => n?.[part.replace(/~1/g, "/").replace(/~0/g, "~")], openApiDocument);
  }
  return current;
}

const templates = Object.keys(openApiDocument.paths ?? {})
  .map((template) => ({
    template,
    parameters: (template.match(/\{[^}]+\}/g) ?? []).length,
    pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+")}$`),
  }))
  // Concrete paths win over templated ones (OpenAPI's matching rule).
  .sort((a, b) => a.parameters - b.parameters);

export function findOperation(method: string, pathname: string): { template: string; operation: Json } | undefined {
  const lower = method.toLowerCase();
  for (const { template, pattern } of templates) {
    if (!pattern.test(pathname)) continue;
    const operation = openApiDocument.paths[template]?.[lower];
    if (operation) return { template, operation };
  }
  return undefined;
}

/** ajv's errors with their parameters (e.g. which additional property). */
const explain = (errors: ValidateFunction["errors"], subject: string) =>
  (errors ?? []).map((e) => `${subject}${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`).join("; ");
const excerpt = (text: string) => (text.length > 300 ? `${text.slice(0, 300)}...` : text);
const isJson = (mediaType: string) => mediaType === "application/json" || mediaType.endsWith("+json");

/**
 * Throws when the answer to `method path` is not one docs/openapi.json describes. Requests to
 * paths outside the API (/_dev/*, /openapi.json, the /docs page) are not checked.
 */
export function checkResponse(
  method: string,
  path: string,
  status: number,
  headers: Headers | Record<string, string | undefined>,
  bodyText: string,
): void {
  const pathname = path.split("?")[0]!.split("#")[0]!;
  if (notApi(pathname)) return;
  const get = (name: string) =>
    headers instanceof Headers
      ? (headers.get(name) ?? undefined)
      : Object.entries(headers).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
  const found = findOperation(method, pathname);
  const what = `${method.toUpperCase()} ${path} -> ${status}`;
  if (!found) {
    throw new Error(
      `OpenAPI check: ${what}: no operation in docs/openapi.json matches ${method.toUpperCase()} ${pathname} (if the contract changed, run npm run openapi). Body: ${excerpt(bodyText)}`,
    );
  }
  const { operation, template } = found;
  const where = `${what} (${operation.operationId}, ${method.toUpperCase()} ${template})`;
  const responses: Json = operation.responses ?? {};
  const declared = responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default;
  if (!declared) {
    throw new Error(
      `OpenAPI check: ${where}: status ${status} is not declared (declared: ${Object.keys(responses).join(", ")}). Body: ${excerpt(bodyText)}`,
    );
  }
  const response = resolve(declared);

  for (const [name, headerOrRef] of Object.entries((response.headers ?? {}) as Json)) {
    const header = resolve(headerOrRef);
    const value = get(name);
    if (value === undefined) {
      if (header.required) throw new Error(`OpenAPI check: ${where}: required header ${name} is missing.`);
      continue;
    }
    if (header.schema) {
      const schema = resolve(header.schema);
      const typed =
        schema.type === "integer" || schema.type === "number" ? Number(value) : schema.type === "boolean" ? value === "true" : value;
      const validate = validatorOf(header.schema);
      if (!validate(typed))
        throw new Error(`OpenAPI check: ${where}: header ${name}: ${JSON.stringify(value)} ${explain(validate.errors, "value")}.`);
    }
  }

  const content: Json | undefined = response.content;
  if (!content || Object.keys(content).length === 0) {
    if (bodyText !== "") throw new Error(`OpenAPI check: ${where}: the document declares no body, got: ${excerpt(bodyText)}`);
    return;
  }
  const mediaType = (get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  const declaredType = Object.keys(content).find((type) => {
    const t = type.toLowerCase();
    return t === mediaType || t === "*/*" || (t.endsWith("/*") && mediaType.startsWith(t.slice(0, -1)));
  });
  if (!declaredType) {
    throw new Error(
      `OpenAPI check: ${where}: content type ${JSON.stringify(mediaType || "(none)")} is not declared (declared: ${Object.keys(content).join(", ")}).`,
    );
  }
  const schema = content[declaredType]?.schema;
  if (!schema) return;
  let body: unknown = bodyText;
  if (isJson(mediaType)) {
    try {
      body = JSON.parse(bodyText);
    } catch {
      throw new Error(`OpenAPI check: ${where}: the ${mediaType} body is not JSON: ${excerpt(bodyText)}`);
    }
  }
  const validate = validatorOf(schema);
  if (!validate(body)) {
    throw new Error(
      `OpenAPI check: ${where}: the body does not match the document: ${explain(validate.errors, "body")}. Body: ${excerpt(bodyText)}`,
    );
  }
}
