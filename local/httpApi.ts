// API Gateway (HTTP API, payload format 2.0) in front of the local Lambdas: routes from
// serverless.yml, the JWT authorizer, and the dev token issuer under /_dev.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { DevAuth } from "./devAuth.js";
import type { LocalLambda } from "./lambdaRuntime.js";

interface Route {
  method: string;
  routeKey: string;
  pattern: RegExp;
  parameterNames: string[];
  authorized: boolean;
  lambda: LocalLambda;
}

// API Gateway's own payload limit.
const maxBodyBytes = 10 * 1024 * 1024;

export function routesOf(lambdas: LocalLambda[]): Route[] {
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
        authorized: route.authorizer !== undefined,
        lambda,
      };
    }),
  );
}

export async function startHttpApi(options: {
  port: number;
  routes: Route[];
  auth: DevAuth;
  log: (line: string) => void;
}): Promise<Server> {
  const server = createServer((req, res) => {
    handle(req, res, options).catch((error) => {
      options.log(`http api: ${String(error)}`);
      send(res, { statusCode: 500, body: JSON.stringify({ message: "Internal Server Error" }) });
    });
  });
  await new Promise<void>((r) => server.listen(options.port, "127.0.0.1", r));
  return server;
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  { routes, auth, log }: { routes: Route[]; auth: DevAuth; log: (line: string) => void },
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const body = await readBody(req);
  if (body === undefined) return send(res, { statusCode: 413, body: JSON.stringify({ message: "Request Entity Too Large" }) });

  if (url.pathname.startsWith("/_dev/")) return devRoutes(req.method ?? "GET", url, body, res, auth);

  const method = req.method ?? "GET";
  const route = routes.find((r) => r.method === method && r.pattern.test(url.pathname));
  if (!route) return send(res, { statusCode: 404, body: JSON.stringify({ message: "Not Found" }) });

  let claims: Record<string, unknown> | undefined;
  if (route.authorized) {
    claims = (await auth.verify(header(req, "authorization"))) as Record<string, unknown> | undefined;
    if (!claims) return send(res, { statusCode: 401, body: JSON.stringify({ message: "Unauthorized" }) });
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
      ...(claims ? { authorizer: { jwt: { claims, scopes: [] } } } : {}),
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
