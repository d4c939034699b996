// Command-line parsing for both CLIs (client/cli.ts, ops/args.ts): node:util parseArgs with its
// errors in our words. Nothing of ours is imported: ops/ uses it, and client/ never imports ops/.
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";

/** A wrong command line (exit status 2), said as the person should read it. */
export class UsageError extends Error {
  override name = "UsageError";
}

export interface ParseWords {
  /** What an option's value is, for "--x needs a value: <this>". */
  value?: (name: string) => string | undefined;
  /** Appended to "unknown option --x". */
  unknownHint?: string;
}

/**
 * parseArgs (strict, positionals anywhere before `--`), with one difference: a string option takes
 * the next word whatever it looks like (`--amount -5` is the amount "-5", for the command to check
 * and explain, not Node's "ambiguous" error). Every error is a UsageError.
 */
export function parseCommandLine<T extends ParseArgsOptionsConfig>(argv: string[], options: T, words: ParseWords = {}) {
  const needsValue = (name: string) => {
    const what = words.value?.(name);
    return new UsageError(`--${name} needs a value${what ? `: ${what}` : ""}`);
  };
  const args: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const word = argv[i]!;
    if (word === "--") {
      args.push(...argv.slice(i));
      break;
    }
    const name = word.startsWith("--") && !word.includes("=") ? word.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === "string") {
      if (i + 1 === argv.length) throw needsValue(name);
      i += 1;
      args.push(`${word}=${argv[i]}`);
    } else {
      args.push(word);
    }
  }
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    const option = /'(-{1,2}[^' ]+)/.exec(message)?.[1] ?? message;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new UsageError(`unknown option ${option}${words.unknownHint ?? ""}`);
    const name = option.replace(/^-+/, "");
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      throw options[name]?.type === "boolean" ? new UsageError(`--${name} takes no value`) : needsValue(name);
    }
    throw new UsageError(message);
  }
}
