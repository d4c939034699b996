// vitest globalSetup (vitest.config.ts), in vitest's main process: one temp folder for the run, under
// which the test stacks put their throwaway keys (test/integration/harness.ts). Removed when the run
// ends, and also when it is interrupted: on Ctrl-C vitest's main process exits while its workers may
// be killed outright, before their own 'exit' listeners could remove anything.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const runTempDirVariable = "ALIPAY_PAY_TEST_TMP";

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), "alipay-pay-run-"));
  // Workers start after this and inherit it.
  process.env[runTempDirVariable] = dir;
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.once("exit", remove);
  return () => {
    process.removeListener("exit", remove);
    remove();
  };
}
