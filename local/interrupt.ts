// Cleaning up when a run is interrupted (Ctrl-C, SIGTERM from a supervisor or a test runner):
// Node runs no 'exit' listener when a signal kills it, so DynamoDB Local's JVM (its own process
// group, killed by an 'exit' listener in engines.ts) and temp folders holding private keys would
// outlive the run. These turn the signals into an orderly exit.
import { rmSync } from "node:fs";

const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** `dir` is removed when the process exits, by a signal too (see exitOnSignals). */
export function removeOnExit(dir: string): () => void {
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.once("exit", remove);
  return () => {
    process.removeListener("exit", remove);
    remove();
  };
}

/**
 * On SIGINT, SIGTERM or SIGHUP: `stop` (at most `graceMs`), then exit 130 (a second signal exits at
 * once); the 'exit' listeners (the JVM's kill, removeOnExit) run either way. Returns the uninstaller.
 */
export function exitOnSignals(stop: () => Promise<unknown> = async () => undefined, { graceMs = 4_000 } = {}): () => void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write(`${signal}: stopping and cleaning up...\n`);
    setTimeout(() => process.exit(130), graceMs).unref();
    void stop()
      .catch(() => undefined)
      .finally(() => process.exit(130));
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.removeListener(signal, onSignal);
  };
}
