// The business system behind a business API call: API Gateway's IAM authorizer has verified the
// SigV4 signature; the caller's role must belong to a registered, active business system.
import { HttpError } from "../api/errors.js";
import { count, logger } from "../observability.js";
import { type BusinessSystem, businessForCaller } from "./registry.js";

export async function callerBusiness(callerArn: string): Promise<BusinessSystem> {
  const business = await businessForCaller(callerArn);
  if (!business || business === "ambiguous") {
    count("BusinessCallsRefused", { name: "reason", value: business ?? "unknown" });
    logger.warn("caller is not an active business system", { principal: callerArn, reason: business ?? "unknown or disabled" });
    throw new HttpError("forbidden");
  }
  logger.appendKeys({ businessId: business.businessId });
  return business;
}
