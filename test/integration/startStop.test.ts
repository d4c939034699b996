// `npm start` as a service manager runs it, and `npm run chaos` as a developer interrupts it: the
// real commands as child processes in their own process group (a terminal's Ctrl-C signals the
// whole group; systemd or a container runtime signals npm's process), on ports of their own.
// Nothing here is timed: every wait is bounded only by the test's timeout.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { assertPortFree, freePort, javaRunsSource } from "../../local/engines.js";
import { projectRoot } from "../../local/serverlessConfig.js";

const stateDir = mkdtempSync(join(tmpdir(), "alipay-pay-start-"));
const children: ChildProcess[] = [];
afterEach(() => {
  // A failed test must not leave a stack behind: its group (npm, node) and the JVM (own group,
  // found by the marker in its environment).
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null && child.pid) signalGroup(child.pid, "SIGKILL");
  }
  for (const pid of markedProcesses()) process.kill(pid, "SIGKILL");
});
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

const marker = `ALIPAY_PAY_START_TEST=${process.pid}`;

/** Processes started by this file (they inherit the marker in their environment). */
function markedProcesses(): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, "latin1").split("\0").includes(marker)) found.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

function signalGroup(pgid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

interface Ports {
  API_PORT: number;
  ALIPAY_PORT: number;
  RECEIVER_PORT: number;
  DYNAMODB_PORT: number;
  SQS_PORT: number;
}

async function freePorts(): Promise<Ports> {
  for (;;) {
    const ports = {
      API_PORT: await freePort(),
      ALIPAY_PORT: await freePort(),
      RECEIVER_PORT: await freePort(),
      DYNAMODB_PORT: await freePort(),
      SQS_PORT: await freePort(),
    };
    // The membership receiver listens on RECEIVER_PORT + 1.
    if (
      await assertPortFree(ports.RECEIVER_PORT + 1).then(
        () => true,
        () => false,
      )
    )
      return ports;
  }
}

const allPorts = (ports: Ports) => [...Object.values(ports), ports.RECEIVER_PORT + 1];

function run(command: string, args: string[], env: Record<string, string>) {
  // Not this test run's own vitest variables (a test run is one of the commands).
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("VITEST")));
  const child = spawn(command, args, {
    cwd: projectRoot,
    // Its own process group, as a terminal gives a command.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...inherited, ...env, [marker.split("=")[0]!]: marker.split("=")[1]!, LOCAL_STATE_DIR: stateDir },
  });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.once("exit", (code, signal) => resolveExit({ code, signal })),
  );
  return {
    child,
    exited,
    output: () => output,
    async waitFor(text: string | RegExp) {
      while (!(typeof text === "string" ? output.includes(text) : text.test(output))) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited before printing ${String(text)}:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

const npmStart = (ports: Ports) => run("npm", ["start"], Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])));

async function untilPortsFree(ports: number[]) {
  for (;;) {
    const busy = await Promise.all(
      ports.map((port) =>
        assertPortFree(port).then(
          () => false,
          () => true,
        ),
      ),
    );
    if (!busy.includes(true)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function untilNoMarkedProcess() {
  while (markedProcesses().length > 0) await new Promise((r) => setTimeout(r, 100));
}

describe("npm start stops like a service", () => {
  const cases: Array<[string, NodeJS.Signals, "npm" | "group"]> = [
    ["SIGTERM to npm's process (systemd, a container runtime)", "SIGTERM", "npm"],
    ["SIGINT to npm's process", "SIGINT", "npm"],
    ["Ctrl-C (SIGINT to the whole process group)", "SIGINT", "group"],
    ["SIGTERM to the whole process group", "SIGTERM", "group"],
  ];
  for (const [name, signal, target] of cases) {
    it(`stops everything on ${name}: every process gone, every port free`, { timeout: 240_000 }, async () => {
      const ports = await freePorts();
      const started = npmStart(ports);
      await started.waitFor("stops everything");
      // Listening: the API answers.
      expect((await fetch(`http://127.0.0.1:${ports.API_PORT}/openapi.json`)).status).toBe(200);
      if (target === "npm") started.child.kill(signal);
      else signalGroup(started.child.pid!, signal);
      await started.exited;
      await untilNoMarkedProcess();
      await untilPortsFree(allPorts(ports));
      expect(started.output()).toContain(`${signal}: stopping`);
    });
  }

  it("listens on 127.0.0.1 only, the engines too", { timeout: 240_000 }, async () => {
    const ports = await freePorts();
    const started = npmStart(ports);
    await started.waitFor("stops everything");
    const listening = readFileSync("/proc/net/tcp", "utf8") + readFileSync("/proc/net/tcp6", "utf8");
    // A Java without a compiler cannot run the loopback launcher: DynamoDB Local then listens on every interface.
    const loopbackOnly = allPorts(ports).filter((port) => javaRunsSource() || port !== ports.DYNAMODB_PORT);
    for (const port of loopbackOnly) {
      const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
      // State 0A is LISTEN; 127.0.0.1 is 0100007F, or IPv4-mapped in tcp6 (the JVM's sockets).
      const lines = listening.split("\n").filter((line) => line.trim().split(/\s+/)[1]?.endsWith(hex) && / 0A /.test(line));
      expect(lines.length, `port ${port}`).toBeGreaterThan(0);
      for (const line of lines) {
        expect(["0100007F", "0000000000000000FFFF00000100007F"], `port ${port}: ${line}`).toContain(
          line.trim().split(/\s+/)[1]!.split(":")[0],
        );
      }
    }
    started.child.kill("SIGTERM");
    await started.exited;
    await untilPortsFree(allPorts(ports));
  });

  it("says in one sentence what to do when a port is taken (no EADDRINUSE stack trace)", { timeout: 120_000 }, async () => {
    const ports = await freePorts();
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(ports.ALIPAY_PORT, "127.0.0.1", r));
    try {
      const started = npmStart(ports);
      const { code } = await started.exited;
      expect(code).toBe(1);
      const printed = started
        .output()
        .split("\n")
        .filter((line) => line.trim() !== "" && !line.startsWith(">"));
      expect(printed).toEqual([
        `Port ${ports.ALIPAY_PORT} is already in use (another \`npm start\`?): stop what listens there or choose another port with ALIPAY_PORT=<port>.`,
      ]);
      await untilNoMarkedProcess();
    } finally {
      blocker.close();
    }
  });

  it("says in one sentence what to do when Java is missing (no spawn java ENOENT)", { timeout: 120_000 }, async () => {
    const ports = await freePorts();
    // No java on the PATH (node is given by its path).
    const started = run(process.execPath, ["--import", "tsx", "local/start.ts"], {
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      PATH: "/nonexistent",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    });
    const { code } = await started.exited;
    expect(code).toBe(1);
    expect(started.output().trim()).toBe(
      "DynamoDB Local needs Java 17+, which is not installed: install it (e.g. `sudo apt-get install default-jre-headless`) and start again.",
    );
    await untilPortsFree(allPorts(ports));
  });
});

describe("npm run chaos cleans up on Ctrl-C", () => {
  it("kills its DynamoDB Local JVM and removes its temp folder of private keys", { timeout: 240_000 }, async () => {
    const temp = mkdtempSync(join(tmpdir(), "alipay-pay-chaos-tmp-"));
    try {
      const chaos = run("npm", ["run", "chaos"], { TMPDIR: temp, CHAOS_PAYMENTS: "200", CHAOS_SEED: "1", CHAOS_PROGRESS_EVERY: "5" });
      // Progress while creating: the first line of it, then Ctrl-C mid-run.
      await chaos.waitFor(/driving: \d+ of 200 payments done/);
      expect(readdirSync(temp).filter((name) => name.startsWith("alipay-pay-chaos-"))).toHaveLength(1);
      signalGroup(chaos.child.pid!, "SIGINT");
      await chaos.exited;
      await untilNoMarkedProcess();
      expect(readdirSync(temp).filter((name) => name.startsWith("alipay-pay-chaos-"))).toEqual([]);
    } finally {
      rmSync(temp, { recursive: true, force: true });
    }
  });
});

describe("a test run cleans up on Ctrl-C", () => {
  it("the worker's stack stops: its JVM killed, its temp keys removed", { timeout: 240_000 }, async () => {
    const temp = mkdtempSync(join(tmpdir(), "alipay-pay-vitest-tmp-"));
    try {
      const tests = run("npx", ["vitest", "run", "test/integration/apiDocs.test.ts"], { TMPDIR: temp });
      // Its stack is up: a keys folder and a DynamoDB Local JVM of its own.
      // The keys folder sits in the run's temp folder (test/runTempDir.ts).
      const keysFolders = () =>
        readdirSync(temp)
          .filter((name) => name.startsWith("alipay-pay-run-"))
          .flatMap((run) => readdirSync(join(temp, run)).filter((name) => name.startsWith("alipay-pay-keys-")));
      while (keysFolders().length === 0 || !markedProcesses().some(isDynamoDb)) {
        if (tests.child.exitCode !== null) throw new Error(`the test run ended first:\n${tests.output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      signalGroup(tests.child.pid!, "SIGINT");
      await tests.exited;
      await untilNoMarkedProcess();
      expect(readdirSync(temp).filter((name) => name.startsWith("alipay-pay-"))).toEqual([]);
    } finally {
      rmSync(temp, { recursive: true, force: true });
    }
  });
});

function isDynamoDb(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1").includes("DynamoDbLocalLoopback");
  } catch {
    return false;
  }
}
