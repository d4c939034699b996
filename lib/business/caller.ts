// The business system behind a business API call: API Gateway's IAM authorizer has verified the
// SigV4 signature; the caller's role must belong to a registered, active business system. As a
// middy middleware it runs before the request is parsed: a stranger learns nothing about our input
// rules, only 403.
import type { MiddlewareObj } from "@middy/core";
import type { Context } from "aws-lambda";
import { HttpError } from "../api/errors.js";
import { count, logger } from "../observability.js";
import { type BusinessSystem, businessForCaller } from "./registry.js";

export async function callerBusiness(callerArn: string | undefined): Promise<BusinessSystem> {
  const business = callerArn ? await businessForCaller(callerArn) : undefined;
  if (!business || business === "ambiguous") {
    count("BusinessCallsRefused", { name: "reason", value: business ?? "unknown" });
    logger.warn("caller is not an active business system", { principal: callerArn, reason: business ?? "unknown or disabled" });
    throw new HttpError("forbidden");
  }
  logger.appendKeys({ businessId: business.businessId });
  return business;
}

/** The handler's context carries the calling business system. */
export type BusinessContext = Context & { business: BusinessSystem };

export function businessCaller(): MiddlewareObj<unknown, unknown, Error, BusinessContext> {
  return {
    before: async (request) => {
      const event = request.event as { requestContext?: { authorizer?: { iam?: { userArn?: unknown } } } } | undefined;
      const arn = event?.requestContext?.authorizer?.iam?.userArn;
      request.context.business = await callerBusiness(typeof arn === "string" ? arn : undefined);
    },
  };
}
