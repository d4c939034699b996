import type { Context, ScheduledEvent } from "aws-lambda";
import { observed } from "../lib/observability.js";
import { sweep } from "../lib/orders/sweep.js";

export const handler = observed("sweep", async (_event: ScheduledEvent, context: Context) =>
  sweep({ remainingMs: () => context.getRemainingTimeInMillis() }),
);
