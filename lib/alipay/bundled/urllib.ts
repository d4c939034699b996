// What alipay-sdk needs from urllib for the v2 gateway (a form POST answered as text), on the
// runtime's own fetch. Swapped in for urllib only in the Lambda bundles (esbuild.config.cjs), where
// urllib's copy of undici would be half of every bundle; test/integration/bundles.test.ts runs the
// bundled functions against the simulator.
interface RequestOptions {
  method?: string;
  data?: Record<string, unknown>;
  content?: string;
  dataType?: string;
  timeout?: number | [number, number];
  headers?: Record<string, string>;
}

export async function request(url: string, options: RequestOptions = {}) {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.content !== undefined) body = options.content;
  else if (options.data !== undefined) {
    body = new URLSearchParams(Object.entries(options.data).map(([k, v]): [string, string] => [k, String(v)])).toString();
    headers["content-type"] ??= "application/x-www-form-urlencoded";
  }
  const timeout = Array.isArray(options.timeout) ? options.timeout[0] + options.timeout[1] : (options.timeout ?? 5000);
  const response = await fetch(url, { method: options.method ?? "GET", headers, body, signal: AbortSignal.timeout(timeout) });
  const data = await response.text();
  return {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    data: options.dataType === "json" ? JSON.parse(data) : data,
    res: { status: response.status },
  };
}

/** Proxies are not used by this backend; the classes exist because alipay-sdk imports them. */
export class Agent {}
export class ProxyAgent {}
export class HttpClient {
  request = request;
}

export default { request, Agent, ProxyAgent, HttpClient };
