// Errors the ops CLI reports to the operator as one clear line (no stack trace), with an exit code.
// No lib/ imports here: the CLI entry loads this before it configures logging.
export class OpsError extends Error {
  override name = "OpsError";
  constructor(
    message: string,
    /** 1: the operation failed (unknown payment, webhook down, conflicting change, ...); 2: the command line is wrong. */
    readonly exitCode: 1 | 2 = 1,
    /** A second line telling the operator what to do about it. */
    readonly hint?: string,
  ) {
    super(message);
  }
}

export class UsageError extends OpsError {
  override name = "UsageError";
  constructor(message: string, hint = "Run `npm run ops -- --help` for usage.") {
    super(message, 2, hint);
  }
}
