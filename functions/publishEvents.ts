import type { DynamoDBStreamEvent } from "aws-lambda";
import { publishPaidEvents } from "../lib/events.js";
import { observed } from "../lib/observability.js";

export const handler = observed("publishEvents", async (event: DynamoDBStreamEvent) => publishPaidEvents(event.Records));
