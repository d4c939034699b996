// GET /docs on the local stack: the API reference rendered from /openapi.json by Swagger UI, served
// from the swagger-ui-dist package's own files (no CDN, nothing fetched from the network: the
// online spec validator Swagger UI calls by default is turned off).
import { readFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** The files of swagger-ui-dist the page loads, and their content types. */
export const docsAssets: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
  "favicon-16x16.png": "image/png",
};

const page = `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Alipay payment center API (local)</title>
    <link rel="stylesheet" type="text/css" href="./swagger-ui.css" />
    <link rel="icon" type="image/png" href="./favicon-32x32.png" sizes="32x32" />
    <link rel="icon" type="image/png" href="./favicon-16x16.png" sizes="16x16" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="./swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="./swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="./init.js" charset="UTF-8"></script>
  </body>
</html>
`;

// The business API is signed with SigV4, which a browser cannot do: the page is a reference, and
// "Try it out" is for the app API (paste a token from /_dev/token into Authorize).
const init = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
};
`;

let distDir: string | undefined;
const dist = () => (distDir ??= dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json")));

/** Answers GET /docs, /docs/ and /docs/<asset>; false for any other path. */
export async function serveApiDocs(pathname: string, res: ServerResponse): Promise<boolean> {
  if (pathname === "/docs") {
    res.writeHead(302, { location: "/docs/" });
    res.end();
    return true;
  }
  if (!pathname.startsWith("/docs/")) return false;
  const name = pathname.slice("/docs/".length);
  const reply = (status: number, type: string, body: string | Buffer) => {
    res.writeHead(status, { "content-type": type, "cache-control": "no-cache" });
    res.end(body);
  };
  if (name === "" || name === "index.html") reply(200, "text/html; charset=utf-8", page);
  else if (name === "init.js") reply(200, "text/javascript; charset=utf-8", init);
  else if (Object.hasOwn(docsAssets, name)) reply(200, docsAssets[name]!, await readFile(join(dist(), name)));
  else reply(404, "application/json", JSON.stringify({ message: "Not Found" }));
  return true;
}
