// Invokes a handler the way the Lambda runtime does: one module instance per function (so cold
// start state is kept between invocations), a context with a deadline, and the function's timeout.
// The deadline starts once the module is loaded (Lambda's init phase has its own limit), so
// getRemainingTimeInMillis() is what the handler really has left (lib/alipay/deadline.ts budgets
// Alipay calls with it). Unlike Lambda, which stops a timed-out sandbox, a handler that times out
// here runs on in the background after its 500: a test that ends in a timeout may see its late writes.
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import type { Context } from "aws-lambda";
import { projectRoot, type LocalFunction } from "./serverlessConfig.js";

export type Handler = (event: unknown, context: Context) => Promise<unknown>;

export class LocalLambda {
  private handler?: Promise<Handler>;

  constructor(readonly definition: LocalFunction) {}

  private load(): Promise<Handler> {
    const [file, exportName] = splitHandler(this.definition.handler);
    // A plain absolute path, not a file URL: the same module instance as any other import of it
    // (the test runner keys modules by path), so tests share state with the handlers they drive.
    this.handler ??= import(resolve(projectRoot, `${file}.ts`)).then((module) => {
      const handler = module[exportName];
      if (typeof handler !== "function") throw new Error(`${this.definition.handler} is not a function`);
      return handler as Handler;
    });
    return this.handler;
  }

  async invoke(event: unknown): Promise<unknown> {
    const handler = await this.load();
    const timeoutMs = this.definition.timeoutSeconds * 1000;
    const deadline = Date.now() + timeoutMs;
    const context = {
      callbackWaitsForEmptyEventLoop: false,
      functionName: this.definition.name,
      functionVersion: "$LATEST",
      invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${this.definition.name}`,
      memoryLimitInMB: "512",
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${this.definition.name}`,
      logStreamName: "local",
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    } satisfies Context;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.definition.name} timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([handler(event, context), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function splitHandler(handler: string): [string, string] {
  const dot = handler.lastIndexOf(".");
  return [handler.slice(0, dot), handler.slice(dot + 1)];
}
