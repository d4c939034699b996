// GET /docs on the local stack: Swagger UI (swagger-ui-dist's own files) rendering /openapi.json.
// Over HTTP: the page, every asset it loads (the package's bytes), nothing from the network. In a
// real headless browser (Debian's chromium, when installed: .ci/run installs it): the rendered
// reference lists the API's operations, with every host but 127.0.0.1 unresolvable.
import { type ChildProcess, execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { docsAssets } from "../../local/apiDocs.js";
import { removeOnExit } from "../../local/interrupt.js";
import { openApiDocument } from "./openapiCheck.js";
import { useStack } from "./harness.js";

const t = useStack();
const dist = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
const get = (path: string) => fetch(`${t.stack.urls.api}${path}`, { redirect: "manual" });

const browser = ["chromium", "chromium-browser", "google-chrome"].find((name) => {
  try {
    execFileSync("which", [name], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
});

describe("GET /docs", () => {
  it("serves the page and every asset it loads from swagger-ui-dist's own files, nothing from the network", async () => {
    const bare = await get("/docs");
    expect(bare.status).toBe(302);
    expect(bare.headers.get("location")).toBe("/docs/");
    const page = await get("/docs/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await page.text();
    const loaded = [...html.matchAll(/(?:src|href)="\.\/([^"]+)"/g)].map(([, name]) => name!);
    expect(loaded.sort()).toEqual([...Object.keys(docsAssets), "init.js"].sort());
    for (const name of Object.keys(docsAssets)) {
      const asset = await get(`/docs/${name}`);
      expect(asset.status, name).toBe(200);
      expect(asset.headers.get("content-type"), name).toBe(docsAssets[name]);
      expect(Buffer.from(await asset.arrayBuffer()).equals(readFileSync(join(dist, name))), name).toBe(true);
    }
    const init = await (await get("/docs/init.js")).text();
    expect(init).toContain('url: "/openapi.json"');
    // Swagger UI would ask an online validator for its badge.
    expect(init).toContain("validatorUrl: null");
    expect(`${html}${init}`).not.toMatch(/https?:\/\//);
    expect((await get("/docs/package.json")).status).toBe(404);
    expect((await get("/docs/..%2Fpackage.json")).status).toBe(404);
    expect((await get("/openapi.json")).status).toBe(200);
  });

  it.skipIf(!browser)("renders the API reference in a real headless browser, offline", { timeout: 120_000 }, async () => {
    const profile = mkdtempSync(join(tmpdir(), "alipay-pay-browser-"));
    // Ctrl-C on the test run: the harness exits the worker, and these go with it.
    const removeProfile = removeOnExit(profile);
    let browserProcess: ChildProcess | undefined;
    const killBrowser = () => browserProcess?.kill("SIGKILL");
    process.once("exit", killBrowser);
    try {
      const dom = await new Promise<string>((resolveDom, reject) => {
        browserProcess = execFile(
          browser!,
          [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            `--user-data-dir=${profile}`,
            // Offline: any host other than the stack's is unresolvable.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=20000",
            "--dump-dom",
            `${t.stack.urls.api}/docs/`,
          ],
          { timeout: 100_000, maxBuffer: 64 * 1024 * 1024 },
          (error, stdout) => (error ? reject(error) : resolveDom(stdout)),
        );
      });
      expect(dom).toContain(openApiDocument.info.title);
      const rendered = [...dom.matchAll(/data-path="([^"]+)"/g)].map(([, path]) => path!.replace(/&amp;/g, "&"));
      for (const path of Object.keys(openApiDocument.paths)) expect(rendered, path).toContain(path);
    } finally {
      process.removeListener("exit", killBrowser);
      removeProfile();
    }
  });
});
