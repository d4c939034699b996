// A small client for the business API (server to server, API Gateway routes with the aws_iam
// authorizer): every request is signed with SigV4 by the AWS SDK's own signer, service
// `execute-api`, in the API's region. In AWS the credentials come from the default provider chain
// (environment, profile, SSO, the Lambda/ECS/EC2 role); against the local stack from
// .local/keys/business-credentials.json (see client/local.ts).
//
//   const client = createBusinessClient({ baseUrl: "https://pay.example.com", region: "ap-southeast-1" });
//   const { status, body } = await client.createPayment({ businessOrderId: "order-42", amount: 1234,
//     subject: "Coffee beans", userId: "alice" }, "order-42-create");
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";

/** AWS credentials (what the SDK's providers resolve to). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}
export type AwsCredentialsProvider = () => Promise<AwsCredentials>;

export interface BusinessClientOptions {
  /** The API's base URL, e.g. https://abc123.execute-api.ap-southeast-1.amazonaws.com or http://127.0.0.1:3000 */
  baseUrl: string;
  /** The API's region (the signature's credential scope). */
  region: string;
  /** Default: the AWS SDK's default provider chain. */
  credentials?: AwsCredentials | AwsCredentialsProvider;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string | string[] | undefined>;
}

/** A response body the caller has not typed: JSON as parsed, used freely (tests, scripts). */
// biome-ignore lint/suspicious/noExplicitAny: the default for callers who do not name a type.
export type AnyJson = any;

export interface BusinessResponse<T = AnyJson> {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** JSON-parsed when the response is JSON, else the text. */
  body: T;
}

export interface CreatePaymentInput {
  /** The business system's own order id: one payment per business order. */
  businessOrderId: string;
  /** Integer fen (1234 = 12.34 yuan). */
  amount: number;
  subject: string;
  body?: string;
  /** The app user who may pay it (the JWT subject of the mobile app). */
  userId: string;
  expiresInSeconds?: number;
  metadata?: Record<string, string>;
}

export interface CreateRefundInput {
  /** Integer fen. */
  amount: number;
  reason: string;
}

export interface BusinessClient {
  request<T = AnyJson>(method: string, path: string, options?: RequestOptions): Promise<BusinessResponse<T>>;
  createPayment<T = AnyJson>(input: CreatePaymentInput, idempotencyKey: string): Promise<BusinessResponse<T>>;
  getPayment<T = AnyJson>(paymentId: string): Promise<BusinessResponse<T>>;
  findPayment<T = AnyJson>(businessOrderId: string): Promise<BusinessResponse<T>>;
  cancelPayment<T = AnyJson>(paymentId: string): Promise<BusinessResponse<T>>;
  createRefund<T = AnyJson>(paymentId: string, input: CreateRefundInput, idempotencyKey: string): Promise<BusinessResponse<T>>;
  getRefund<T = AnyJson>(paymentId: string, refundId: string): Promise<BusinessResponse<T>>;
  /** `{ refunds: [...] }`, oldest first. */
  listRefunds<T = AnyJson>(paymentId: string): Promise<BusinessResponse<T>>;
}

/** Whether the answer is the replay of an earlier request with the same Idempotency-Key (nothing new was done). */
export const isReplay = (response: BusinessResponse): boolean => response.headers["idempotent-replayed"] === "true";

/** Signs for API Gateway: service execute-api. */
export function createBusinessClient(options: BusinessClientOptions): BusinessClient {
  const base = new URL(options.baseUrl);
  const basePath = base.pathname.replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;
  const signer = new SignatureV4({
    service: "execute-api",
    region: options.region,
    credentials: options.credentials ?? defaultCredentials(),
    sha256: Sha256,
  });

  async function request<T>(
    method: string,
    path: string,
    { body, headers = {}, query = {} }: RequestOptions = {},
  ): Promise<BusinessResponse<T>> {
    if (!path.startsWith("/")) throw new Error(`path must start with "/": ${path}`);
    const url = new URL(base);
    url.pathname = `${basePath}${path}`;
    const signedQuery: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(query)) {
      if (value === undefined) continue;
      signedQuery[name] = value;
      for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(name, v);
    }
    // URLSearchParams writes spaces as "+", which SigV4 would read as a literal plus.
    url.search = url.search.replace(/\+/g, "%20");
    const text = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const lowerHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) lowerHeaders[name.toLowerCase()] = value;
    if (text !== undefined && !lowerHeaders["content-type"]) lowerHeaders["content-type"] = "application/json";
    const signed = await signer.sign({
      method: method.toUpperCase(),
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      // As sent on the wire (percent-encoded); the signer encodes it once more, as SigV4 wants.
      path: url.pathname,
      query: signedQuery,
      headers: { ...lowerHeaders, host: url.host },
      ...(text !== undefined ? { body: text } : {}),
    });
    // fetch sets Host itself (from the URL, the value signed).
    const { host: _host, ...sendHeaders } = signed.headers;
    const response = await doFetch(url, {
      method: method.toUpperCase(),
      headers: sendHeaders,
      ...(text !== undefined ? { body: text } : {}),
    });
    const responseText = await response.text();
    const responseHeaders: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      responseHeaders[name] = value;
    });
    let parsed: unknown = responseText;
    if (/\bjson\b/i.test(responseHeaders["content-type"] ?? "") && responseText.length > 0) {
      try {
        parsed = JSON.parse(responseText);
      } catch {
        // not JSON after all: the text
      }
    }
    return { status: response.status, headers: responseHeaders, body: parsed as T };
  }

  const segment = (value: string) => {
    if (!value) throw new Error("an id must not be empty");
    return encodeURIComponent(value);
  };

  return {
    request,
    createPayment: (input, idempotencyKey) =>
      request("POST", "/v1/payments", { body: input, headers: { "idempotency-key": idempotencyKey } }),
    getPayment: (paymentId) => request("GET", `/v1/payments/${segment(paymentId)}`),
    findPayment: (businessOrderId) => request("GET", "/v1/payments", { query: { businessOrderId } }),
    cancelPayment: (paymentId) => request("POST", `/v1/payments/${segment(paymentId)}/cancel`),
    createRefund: (paymentId, input, idempotencyKey) =>
      request("POST", `/v1/payments/${segment(paymentId)}/refunds`, { body: input, headers: { "idempotency-key": idempotencyKey } }),
    getRefund: (paymentId, refundId) => request("GET", `/v1/payments/${segment(paymentId)}/refunds/${segment(refundId)}`),
    listRefunds: (paymentId) => request("GET", `/v1/payments/${segment(paymentId)}/refunds`),
  };
}

/** The default provider chain, loaded on first use (a local client never loads it). */
function defaultCredentials(): AwsCredentialsProvider {
  let provider: AwsCredentialsProvider | undefined;
  return async () => {
    if (!provider) {
      const { fromNodeProviderChain } = await import("@aws-sdk/credential-providers");
      provider = fromNodeProviderChain();
    }
    return provider();
  };
}
