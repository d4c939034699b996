// API Gateway (HTTP API, payload format 2.0) in front of the local Lambdas: routes from
// serverless.yml, the JWT authorizer, the IAM authorizer (SigV4, verified for real), the OpenAPI
// document at /openapi.json and the dev token issuer under /_dev.
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import type { APIGatewayEventRequestContextIAMAuthorizer, APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { HttpError } from "../lib/api/errors.js";
import { serveApiDocs } from "./apiDocs.js";
import type { DevAuth } from "./devAuth.js";
import { projectRoot, type HttpRoute, type RouteAuth } from "./serverlessConfig.js";

/** What a route invokes: a LocalLambda, or anything shaped like one (tests use stubs). */
export interface RouteTarget {
  definition: { name: string; http: HttpRoute[] };
  invoke(event: unknown): Promise<unknown>;
}

export interface Route {
  method: string;
  routeKey: string;
  pattern: RegExp;
  parameterNames: string[];
  auth: RouteAuth | undefined;
  lambda: RouteTarget;
}

/** A caller the IAM authorizer knows: the credentials of a session of `roleArn` named `sessionName`. */
export interface IamPrincipal {
  secretAccessKey: string;
  /** arn:aws:iam::<account>:role/<name> */
  roleArn: string;
  sessionName: string;
  /** When set, requests must carry it in x-amz-security-token (temporary credentials). */
  sessionToken?: string;
}

export interface IamOptions {
  /** The API's region: the credential scope must name it. */
  region: string;
  /** By access key id (a Map, or a lookup that also finds sessions started after the API: local/businessCredentials.ts). */
  principals: { get(accessKeyId: string): IamPrincipal | undefined };
}

/** What API Gateway puts in requestContext.authorizer.iam (payload format 2.0). */
export type IamIdentity = APIGatewayEventRequestContextIAMAuthorizer["iam"];

// API Gateway's own payload limit.
const maxBodyBytes = 10 * 1024 * 1024;

export function routesOf(lambdas: RouteTarget[]): Route[] {
  return lambdas.flatMap((lambda) =>
    lambda.definition.http.map((route) => {
      const parameterNames: string[] = [];
      const source = route.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
        parameterNames.push(name);
        return "([^/]+)";
      });
      return {
        method: route.method,
        routeKey: `${route.method} ${route.path}`,
        pattern: new RegExp(`^${source}$`),
        parameterNames,
        auth: route.auth,
        lambda,
      };
    }),
  );
}

interface ApiOptions {
  port: number;
  routes: Route[];
  auth: DevAuth;
  /** Without it every aws_iam route answers 403. */
  iam?: IamOptions;
  /** Served at GET /openapi.json; default docs/openapi.json. */
  openApiFile?: string;
  log: (line: string) => void;
}

export async function startHttpApi(options: ApiOptions): Promise<Server> {
  const server = createServer((req, res) => {
    handle(req, res, options).catch((error) => {
      options.log(`http api: ${String(error)}`);
      send(res, { statusCode: 500, body: JSON.stringify({ message: "Internal Server Error" }) });
    });
  });
  await new Promise<void>((r) => server.listen(options.port, "127.0.0.1", r));
  return server;
}

async function handle(req: IncomingMessage, res: ServerResponse, { routes, auth, iam, openApiFile, log }: ApiOptions): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const body = await readBody(req);
  if (body === undefined) return send(res, { statusCode: 413, body: JSON.stringify({ message: "Request Entity Too Large" }) });

  // API Gateway decodes the path before routing and answers 400 itself, without calling a
  // function, when it cannot (a % not followed by two hex digits; bytes that are not UTF-8).
  if (!decodablePath(url.pathname)) {
    return send(res, { statusCode: 400, body: JSON.stringify(new HttpError("path_invalid").body) });
  }
  if (url.pathname.startsWith("/_dev/")) return devRoutes(req.method ?? "GET", url, body, res, auth);
  const method = req.method ?? "GET";
  if (url.pathname === "/openapi.json" && method === "GET") return openApi(res, openApiFile ?? join(projectRoot, "docs", "openapi.json"));
  if (method === "GET" && (await serveApiDocs(url.pathname, res))) return;

  const route = routes.find((r) => r.method === method && r.pattern.test(url.pathname));
  if (!route) return send(res, { statusCode: 404, body: JSON.stringify({ message: "Not Found" }) });

  let authorizer: Record<string, unknown> | undefined;
  if (route.auth?.kind === "jwt") {
    const claims = (await auth.verify(header(req, "authorization"))) as Record<string, unknown> | undefined;
    if (!claims) return send(res, { statusCode: 401, body: JSON.stringify({ message: "Unauthorized" }) });
    authorizer = { jwt: { claims, scopes: [] } };
  } else if (route.auth?.kind === "iam") {
    const verdict = await verifySigV4(req, body, iam, Date.now());
    if (!verdict.ok) return send(res, { statusCode: 403, body: JSON.stringify({ message: verdict.message }) });
    authorizer = { iam: verdict.identity };
  }
  const match = route.pattern.exec(url.pathname)!;
  const pathParameters = Object.fromEntries(route.parameterNames.map((n, i) => [n, decodeURIComponent(match[i + 1]!)]));
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(",") : v;
  const now = Date.now();
  const event: APIGatewayProxyEventV2 = {
    version: "2.0",
    routeKey: route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
    pathParameters: route.parameterNames.length ? pathParameters : undefined,
    body: body.length ? body.toString("utf8") : undefined,
    isBase64Encoded: false,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: headers.host ?? "localhost",
      domainPrefix: "local",
      http: {
        method,
        path: url.pathname,
        protocol: "HTTP/1.1",
        sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: route.routeKey,
      stage: "$default",
      time: new Date(now).toISOString(),
      timeEpoch: now,
      ...(authorizer ? { authorizer } : {}),
    } as APIGatewayProxyEventV2["requestContext"],
  };
  let result: unknown;
  try {
    result = await route.lambda.invoke(event);
  } catch (error) {
    // What API Gateway answers when the integration fails.
    log(`${route.lambda.definition.name} failed: ${(error as Error).stack ?? String(error)}`);
    return send(res, { statusCode: 500, body: JSON.stringify({ message: "Internal Server Error" }) });
  }
  send(res, normalize(result));
}

function decodablePath(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

function normalize(result: unknown): APIGatewayProxyStructuredResultV2 {
  if (result && typeof result === "object" && "statusCode" in result) return result as APIGatewayProxyStructuredResultV2;
  return { statusCode: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(result) };
}

function send(res: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const headers: Record<string, string> = { "content-type": "application/json" };
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = String(v);
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(result.isBase64Encoded ? Buffer.from(result.body ?? "", "base64") : (result.body ?? ""));
}

async function openApi(res: ServerResponse, file: string): Promise<void> {
  let document: Buffer;
  try {
    document = await readFile(file);
  } catch {
    return send(res, { statusCode: 404, body: JSON.stringify({ message: "Not Found" }) });
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(document);
}

async function devRoutes(method: string, url: URL, body: Buffer, res: ServerResponse, auth: DevAuth): Promise<void> {
  if (url.pathname === "/_dev/.well-known/jwks.json") return send(res, { statusCode: 200, body: JSON.stringify(await auth.jwks()) });
  if (url.pathname === "/_dev/token") {
    let sub = url.searchParams.get("sub") ?? undefined;
    let expiresIn = Number(url.searchParams.get("expiresIn") ?? 3600);
    if (method === "POST" && body.length) {
      const parsed = JSON.parse(body.toString("utf8")) as { sub?: string; expiresIn?: number };
      sub = parsed.sub ?? sub;
      expiresIn = parsed.expiresIn ?? expiresIn;
    }
    if (!sub) return send(res, { statusCode: 400, body: JSON.stringify({ message: "sub is required" }) });
    return send(res, { statusCode: 200, body: JSON.stringify({ token: await auth.issue(sub, expiresIn), sub, expiresIn }) });
  }
  send(res, { statusCode: 404, body: JSON.stringify({ message: "Not Found" }) });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

// --- The IAM authorizer: SigV4 as API Gateway checks it --------------------------------------------

const forbidden = "Forbidden";
const invalidToken = "The security token included in the request is invalid.";
const signatureMismatch =
  "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const algorithm = "AWS4-HMAC-SHA256";
const service = "execute-api";
/** API Gateway accepts a request signed at most 15 minutes before or after it arrives. */
const maxSkewMs = 15 * 60 * 1000;
const emptyBodyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

type Verdict = { ok: true; identity: IamIdentity } | { ok: false; message: string };

/**
 * Recomputes the request's signature with the AWS SDK's own signer from what was received (method,
 * path and query as sent, the signed headers, the body) and the caller's secret, and compares it
 * in constant time. Messages are API Gateway's; every refusal is a 403.
 */
export async function verifySigV4(req: IncomingMessage, body: Buffer, iam: IamOptions | undefined, now: number): Promise<Verdict> {
  const authorization = header(req, "authorization");
  if (!authorization) return { ok: false, message: forbidden };
  const parsed = parseAuthorization(authorization);
  if (typeof parsed === "string") return { ok: false, message: parsed };
  const amzDate = header(req, "x-amz-date");
  if (!amzDate) {
    return {
      ok: false,
      message: `Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=${authorization}`,
    };
  }
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined) {
    return { ok: false, message: `Date must be in ISO-8601 'basic format'. Got '${amzDate}'. See http://en.wikipedia.org/wiki/ISO_8601` };
  }

  const scope = parsed.credential.split("/");
  if (scope.length !== 5) {
    return {
      ok: false,
      message: `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${parsed.credential}'`,
    };
  }
  const [accessKeyId, scopeDate, scopeRegion, scopeService, terminator] = scope as [string, string, string, string, string];
  const principal = iam?.principals.get(accessKeyId);
  if (!iam || !principal) return { ok: false, message: invalidToken };
  if (scopeDate !== amzDate.slice(0, 8)) {
    return {
      ok: false,
      message: `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
    };
  }
  if (scopeRegion !== iam.region) return { ok: false, message: `Credential should be scoped to a valid region, not '${scopeRegion}'. ` };
  if (scopeService !== service) return { ok: false, message: `Credential should be scoped to correct service: '${service}'. ` };
  if (terminator !== "aws4_request") {
    return { ok: false, message: `Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'. ` };
  }
  if (signedAt < now - maxSkewMs) {
    return {
      ok: false,
      message: `Signature expired: ${amzDate} is now earlier than ${basicDate(now - maxSkewMs)} (${basicDate(now)} - 15 min.)`,
    };
  }
  if (signedAt > now + maxSkewMs) {
    return {
      ok: false,
      message: `Signature not yet current: ${amzDate} is still later than ${basicDate(now + maxSkewMs)} (${basicDate(now)} + 15 min.)`,
    };
  }

  const token = header(req, "x-amz-security-token");
  if (token !== undefined || principal.sessionToken !== undefined) {
    if (token === undefined || principal.sessionToken === undefined || !constantTimeEqual(token, principal.sessionToken)) {
      return { ok: false, message: invalidToken };
    }
  }
  if (!parsed.signedHeaders.includes("host")) {
    return { ok: false, message: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization." };
  }
  // The signer takes a declared payload hash on trust: hold it to the body actually received.
  const declaredHash = header(req, "x-amz-content-sha256");
  if (declaredHash !== undefined) {
    const actual = body.length ? createHash("sha256").update(body).digest("hex") : emptyBodyHash;
    if (!constantTimeEqual(declaredHash.toLowerCase(), actual)) return { ok: false, message: signatureMismatch };
  }

  const target = req.url ?? "/";
  const queryStart = target.indexOf("?");
  const path = queryStart < 0 ? target : target.slice(0, queryStart);
  const query = parseQuery(queryStart < 0 ? "" : target.slice(queryStart + 1));
  if (!query) return { ok: false, message: signatureMismatch };
  const headers: Record<string, string> = {};
  for (const name of parsed.signedHeaders) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  const hostHeader = headers.host ?? "localhost";
  const signer = new SignatureV4({
    service,
    region: iam.region,
    credentials: {
      accessKeyId,
      secretAccessKey: principal.secretAccessKey,
      // The signer adds (and signs) the token header itself; only when the caller signed it too.
      ...(parsed.signedHeaders.includes("x-amz-security-token") && token !== undefined ? { sessionToken: token } : {}),
    },
    sha256: Sha256,
    // Hash the body received, never add a header the caller did not sign.
    applyChecksum: false,
  });
  const expected = await signer.sign(
    {
      method: req.method ?? "GET",
      protocol: "http:",
      hostname: hostHeader.replace(/:\d+$/, ""),
      path,
      query,
      headers,
      body: body.length ? body : undefined,
    },
    { signingDate: new Date(signedAt), signingRegion: iam.region, signingService: service, signableHeaders: new Set(parsed.signedHeaders) },
  );
  const expectedSignature = /Signature=([0-9a-f]+)/.exec(String(expected.headers.authorization))?.[1] ?? "";
  if (!constantTimeEqual(parsed.signature, expectedSignature)) return { ok: false, message: signatureMismatch };
  return { ok: true, identity: identityOf(accessKeyId, principal) };
}

/** The assumed-role session API Gateway reports for a caller of `principal`'s role. */
export function identityOf(accessKeyId: string, principal: IamPrincipal): IamIdentity {
  const match = /^arn:aws[\w-]*:iam::(\d{12}):role\/(?:[^/]+\/)*([^/]+)$/.exec(principal.roleArn);
  if (!match) throw new Error(`not an IAM role ARN: ${principal.roleArn}`);
  const [, accountId, roleName] = match as unknown as [string, string, string];
  // IAM role ids are AROA + 17 characters; a stable one per role ARN stands in locally.
  const roleId = `AROA${base32(createHash("sha256").update(principal.roleArn).digest()).slice(0, 17)}`;
  const callerId = `${roleId}:${principal.sessionName}`;
  return {
    accessKey: accessKeyId,
    accountId,
    callerId,
    cognitoIdentity: null,
    // No AWS Organization locally (API Gateway sends null then).
    principalOrgId: null as unknown as string,
    userArn: `arn:aws:sts::${accountId}:assumed-role/${roleName}/${principal.sessionName}`,
    userId: callerId,
  };
}

function parseAuthorization(value: string): { credential: string; signedHeaders: string[]; signature: string } | string {
  const space = value.indexOf(" ");
  const scheme = space < 0 ? value : value.slice(0, space);
  const fields = new Map<string, string>();
  for (const part of (space < 0 ? "" : value.slice(space + 1)).split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const missing = ["Credential", "Signature", "SignedHeaders"].filter((name) => !fields.get(name));
  if (scheme !== algorithm || missing.length) {
    const required = (missing.length ? missing : ["Credential", "Signature", "SignedHeaders"])
      .map((name) => `Authorization header requires '${name}' parameter.`)
      .join(" ");
    return `${required} Authorization=${value}`;
  }
  return {
    credential: fields.get("Credential")!,
    signedHeaders: fields.get("SignedHeaders")!.split(";"),
    signature: fields.get("Signature")!,
  };
}

/** 20240131T235959Z -> epoch ms (undefined when malformed). */
function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const time = Date.UTC(y, mo - 1, d, h, mi, s);
  // Reject 20240231T... rather than rolling it over.
  return basicDate(time) === value ? time : undefined;
}

function basicDate(epochMs: number): string {
  return new Date(epochMs)
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "");
}

/** The query as the signer takes it: decoded names and values, repeated names as lists. */
function parseQuery(raw: string): Record<string, string | string[]> | undefined {
  const query: Record<string, string | string[]> = {};
  try {
    for (const pair of raw.split("&")) {
      if (!pair) continue;
      const eq = pair.indexOf("=");
      const name = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
      const value = eq < 0 ? "" : decodeURIComponent(pair.slice(eq + 1));
      const previous = query[name];
      query[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
    }
  } catch {
    return undefined;
  }
  return query;
}

function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, "utf8");
  const right = Buffer.from(b, "utf8");
  // Compare against itself when lengths differ so the time does not depend on where they differ.
  return timingSafeEqual(left, left.length === right.length ? right : left) && left.length === right.length;
}

function base32(bytes: Buffer): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}
