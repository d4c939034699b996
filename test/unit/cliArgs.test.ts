// The command lines of both CLIs, without running them: node:util parseArgs under client/args.ts,
// and the ops CLI's checks over it (ops/args.ts). Every argument error in our words, exit status 2.
import { describe, expect, it } from "vitest";
import { parseCommandLine, UsageError } from "../../client/args.js";
import { helpText, parseArgs } from "../../ops/args.js";
import { OpsError } from "../../ops/errors.js";

const refusal = (argv: string[]) => {
  try {
    parseArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(OpsError);
    return { message: (error as OpsError).message, exitCode: (error as OpsError).exitCode, hint: (error as OpsError).hint };
  }
  throw new Error(`accepted: ${argv.join(" ")}`);
};

describe("parseCommandLine (both CLIs)", () => {
  const options = { json: { type: "boolean" }, amount: { type: "string" }, tag: { type: "string", multiple: true } } as const;
  const words = { value: (name: string) => (name === "amount" ? "integer fen" : undefined), unknownHint: " (see --help)" };

  it("gives a string option the next word whatever it looks like, and keeps positionals anywhere", () => {
    expect(parseCommandLine(["a", "--amount", "-5", "b", "--tag", "--json", "--tag=x"], options)).toEqual({
      values: { amount: "-5", tag: ["--json", "x"] },
      positionals: ["a", "b"],
    });
    expect(parseCommandLine(["--json", "--", "--amount"], options).positionals).toEqual(["--amount"]);
  });

  it("says what is wrong in our words", () => {
    const message = (argv: string[]) => {
      try {
        parseCommandLine(argv, options, words);
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
      return "accepted";
    };
    expect(message(["--amount"])).toBe("--amount needs a value: integer fen");
    expect(message(["--tag"])).toBe("--tag needs a value");
    expect(message(["--amuont", "5"])).toBe("unknown option --amuont (see --help)");
    expect(message(["--amuont=5"])).toBe("unknown option --amuont (see --help)");
    expect(message(["-x"])).toBe("unknown option -x (see --help)");
    expect(message(["--json=yes"])).toBe("--json takes no value");
  });
});

describe("the ops command line", () => {
  it("reads commands, their arguments and options, the global options anywhere", () => {
    expect(parseArgs(["--local", "refund", "show", "pay_1", "ref_1", "--json"])).toEqual({
      command: "refund show",
      args: ["pay_1", "ref_1"],
      options: {},
      local: true,
      json: true,
      verbose: false,
      help: false,
      helpTopic: "",
    });
    const add = parseArgs([
      "business",
      "add",
      "x1",
      "--principal",
      "arn:a",
      "--webhook-url=https://x.example.com",
      "--principal",
      "arn:b",
      "--payment-expiry-seconds",
      "900",
      "--stack-file",
      "s.json",
      "--verbose",
    ]);
    expect(add).toMatchObject({
      command: "business add",
      args: ["x1"],
      options: { principal: ["arn:a", "arn:b"], "webhook-url": ["https://x.example.com"], "payment-expiry-seconds": ["900"] },
      paymentExpirySeconds: 900,
      stackFile: "s.json",
      verbose: true,
    });
    expect(parseArgs(["dlq", "list", "check", "--limit", "10000"]).limit).toBe(10_000);
    expect(parseArgs(["business", "rotate-secret", "x1", "--overlap-hours", "1.5"]).overlapHours).toBe(1.5);
    expect(parseArgs(["preflight", "--stage", "dev", "--param", "a=b", "--param", "c=-d"]).options).toEqual({
      stage: ["dev"],
      param: ["a=b", "c=-d"],
    });
  });

  it("finds what --help asks about", () => {
    expect(parseArgs(["--help"])).toMatchObject({ help: true, helpTopic: "" });
    expect(parseArgs(["help", "payment"])).toMatchObject({ help: true, helpTopic: "payment" });
    expect(parseArgs(["dlq", "redrive", "-h"])).toMatchObject({ help: true, helpTopic: "dlq redrive" });
    expect(parseArgs(["nosuch", "--help"])).toMatchObject({ help: true, helpTopic: "" });
    expect(helpText("business rotate-secret")).toContain("two v1= signatures");
    expect(helpText("refund")).toContain("refund retry <paymentId> <refundId>");
    expect(helpText("refund")).not.toContain("payment recheck");
  });

  it("refuses a wrong command line with exit status 2, in our words", () => {
    const generalHint = "Run `npm run ops -- --help` for usage.";
    const cases: Array<[string[], string, string?]> = [
      [[], "no command given", generalHint],
      [["order", "show", "x"], '"order show" was replaced by "payment show <paymentId>"', "Run `npm run ops -- payment --help`."],
      [["payment", "nosuch"], 'unknown command "payment nosuch"', "Run `npm run ops -- payment --help` for its commands."],
      [["nosuch", "x"], 'unknown command "nosuch x"', generalHint],
      [["refund", "show", "pay_1"], "refund show: missing argument", "Usage: npm run ops -- refund show <paymentId> <refundId> [--json]"],
      [["payment", "show", "pay_1", "x"], "payment show: too many arguments (pay_1 x)"],
      [["payment", "show", "pay_1", "--foo"], "unknown option --foo", generalHint],
      [["payment", "show", "pay_1", "--json=1"], "--json takes no value"],
      [["payment", "show", "pay_1", "--stack-file"], "--stack-file needs a value"],
      [["preflight", "--stage", ""], "--stage needs a value"],
      [["preflight", "--stage="], "--stage needs a value"],
      [["preflight"], "preflight: --stage is required"],
      [["preflight", "--stage", "a", "--stage", "b"], "preflight: --stage given 2 times"],
      [["business", "try", "shop", "--limit", "3"], "business try takes no --limit"],
      [["business", "add", "x1", "--webhook-url", "https://x.example.com"], "business add: --principal is required (or --account)"],
      [["dlq", "list", "check", "--limit", "-5"], '--limit must be an integer from 1 to 10000, not "-5"'],
      [["dlq", "list", "check", "--limit", "10001"], '--limit must be an integer from 1 to 10000, not "10001"'],
      [
        ["business", "update", "x1", "--payment-expiry-seconds", "119"],
        '--payment-expiry-seconds must be an integer from 120 to 1296000, not "119"',
      ],
      [["business", "rotate-secret", "x1", "--overlap-hours", "721"], '--overlap-hours must be a number of hours from 0 to 720, not "721"'],
    ];
    for (const [argv, message, hint] of cases) {
      const refused = refusal(argv);
      expect(refused, argv.join(" ")).toMatchObject({ message, exitCode: 2, ...(hint ? { hint } : {}) });
    }
  });
});
