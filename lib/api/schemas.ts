// Building blocks of the request and response schemas (zod), shared by every route. The route
// contracts in lib/api/contract.ts are made of these; the handlers parse with them and the
// OpenAPI document is generated from them (npm run openapi).
import { z } from "zod";
import { maxAmountFen, minAmountFen } from "../money.js";

export const maxRequestBytes = 16 * 1024;

export const IdempotencyKey = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/)
  .meta({ description: "A unique value per operation, reused on retries (1 to 255 printable ASCII characters)." });

export const AmountFen = z
  .int({ error: `amount must be an integer number of fen from ${minAmountFen} to ${maxAmountFen}.` })
  .min(minAmountFen, { error: `amount must be an integer number of fen from ${minAmountFen} to ${maxAmountFen}.` })
  .max(maxAmountFen, { error: `amount must be an integer number of fen from ${minAmountFen} to ${maxAmountFen}.` })
  .meta({ description: "Integer fen (1 fen = 0.01 CNY).", example: 1234 });

// Alipay refuses control characters and its own separators (/ = &) in subject and body.
const forbiddenTextPattern = /[\u0000-\u001f\u007f/=&]/u;

/** Text Alipay accepts in subject and body: non-blank, at most `maxLength` characters. */
export function AlipayText(name: string, maxLength: number) {
  return z
    .string({ error: `${name} must be a non-empty string.` })
    .refine((v) => v.trim() !== "", { error: `${name} must be a non-empty string.`, abort: true })
    .refine((v) => [...v].length <= maxLength, { error: `${name} must be at most ${maxLength} characters.`, abort: true })
    .refine((v) => !forbiddenTextPattern.test(v) && v.isWellFormed(), {
      error: `${name} must not contain control characters, '/', '=' or '&'.`,
    })
    .meta({ description: `At most ${maxLength} characters, no control characters, '/', '=' or '&'.` });
}

export const Identifier = (name: string) =>
  z.string({ error: `${name} must be 1 to 64 letters, digits, '_' or '-'.` })
    .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: `${name} must be 1 to 64 letters, digits, '_' or '-'.` });

/** The API Gateway body (base64-decoded when the gateway encoded it), parsed as JSON, then `schema`. */
export function JsonBody<T extends z.ZodType>(schema: T) {
  return z
    .string()
    .refine((raw) => Buffer.byteLength(raw, "utf8") <= maxRequestBytes, {
      error: `The request body must be at most ${maxRequestBytes} bytes.`,
      params: { errorCode: "body_too_large" },
      abort: true,
    })
    .transform((raw, context) => {
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        context.addIssue({ code: "custom", message: "The request body is not valid JSON.", params: { errorCode: "body_not_json" } });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

/** Decodes a base64 body before the schema sees it (API Gateway encodes non-text content types). */
export const apiEvent = <T extends z.ZodType>(schema: T) =>
  z.preprocess((event) => {
    const e = event as { body?: string; isBase64Encoded?: boolean } | undefined;
    if (!e?.isBase64Encoded || e.body === undefined) return event;
    return { ...e, body: Buffer.from(e.body, "base64").toString("utf8"), isBase64Encoded: false };
  }, schema);

/** The API Gateway JWT authorizer's verified claims: the app user is the token's subject. */
export const JwtAuthorized = z.object({
  authorizer: z.object({ jwt: z.object({ claims: z.object({ sub: z.string().min(1) }) }) }),
});

/** The API Gateway IAM authorizer's verified caller: a business system's role session. */
export const IamAuthorized = z.object({
  authorizer: z.object({ iam: z.object({ userArn: z.string().min(1) }) }),
});

export const ErrorBody = z
  .object({
    code: z.string().meta({ description: "Stable, machine-readable (see the error catalogue)." }),
    message: z.string().meta({ description: "For humans; may change." }),
  })
  .meta({ id: "Error" });
