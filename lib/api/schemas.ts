// Building blocks of the request and response schemas, shared by every route. They are written
// with zod/mini (the tree-shakable zod: about 15 KB in a bundle instead of 190 KB); the route
// contracts in lib/api/contract.ts are made of these, the handlers parse with them and the
// OpenAPI document is generated from them (npm run openapi, zod's own JSON Schema output).
import * as z from "zod/mini";
import type { ErrorCode } from "./errors.js";
import { maxAmountFen, minAmountFen } from "../money.js";

export const maxRequestBytes = 16 * 1024;

/** Documentation for the OpenAPI document (zod's global registry). */
export const doc = (meta: { id?: string; description?: string; example?: unknown }) => z.meta(meta);

export const IdempotencyKey = z
  .string()
  .check(
    z.regex(/^[\x21-\x7e]{1,255}$/),
    doc({ description: "A unique value per operation, reused on retries (1 to 255 printable ASCII characters)." }),
  );

const amountMessage = `amount must be an integer number of fen from ${minAmountFen} to ${maxAmountFen}.`;
export const AmountFen = z
  .int({ error: amountMessage })
  .check(
    z.minimum(minAmountFen, { error: amountMessage }),
    z.maximum(maxAmountFen, { error: amountMessage }),
    doc({ description: "Integer fen (1 fen = 0.01 CNY).", example: 1234 }),
  );

// Alipay refuses control characters and its own separators (/ = &) in subject and body.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const forbiddenTextPattern = /[\u0000-\u001f\u007f/=&]/u;

/**
 * Whether text can be carried to Alipay and through the event queue: no unpaired surrogates (not
 * text: JSON and SQS refuse them) and no Unicode noncharacters (U+FDD0-U+FDEF and the last two code
 * points of every plane, U+FFFE, U+FFFF, U+1FFFE, ... U+10FFFF: SQS refuses U+FFFE and U+FFFF, and
 * none of them is meant for interchange). Emoji and every other assigned or private-use character
 * pass.
 */
export function isCarriableText(text: string): boolean {
  for (const character of text) {
    const code = character.codePointAt(0)!;
    if ((code >= 0xd800 && code <= 0xdfff) || (code >= 0xfdd0 && code <= 0xfdef) || (code & 0xfffe) === 0xfffe) return false;
  }
  return true;
}

export const carriableTextRule =
  "no Unicode noncharacters (U+FDD0 to U+FDEF, U+FFFE, U+FFFF and the like in every plane) or unpaired surrogates";

/** The check of a free-text field: refused with a message naming it. */
export const carriableText = (name: string) =>
  z.refine<string>((v) => isCarriableText(v), { error: `${name} must contain ${carriableTextRule}.` });

/**
 * Text Alipay accepts in subject and body: non-blank, at most `maxLength` UTF-16 code units.
 * Alipay's docs give subject 256 and body 128 without a unit; its gateway is Java, whose
 * String.length() counts UTF-16 units, and that is the stricter reading (an emoji counts 2), so an
 * accepted payment always gets a payable order string. The simulator counts the same way.
 */
export function AlipayText(name: string, maxLength: number) {
  return z.string({ error: `${name} must be a non-empty string.` }).check(
    z.refine((v) => v.trim() !== "", { error: `${name} must be a non-empty string.`, abort: true }),
    z.refine((v) => v.length <= maxLength, {
      error: `${name} must be at most ${maxLength} UTF-16 code units (an emoji counts 2).`,
      abort: true,
    }),
    z.refine((v) => !forbiddenTextPattern.test(v), {
      error: `${name} must not contain control characters, '/', '=' or '&'.`,
      abort: true,
    }),
    carriableText(name),
    doc({
      description: `At most ${maxLength} UTF-16 code units (an emoji counts 2), no control characters, '/', '=' or '&', ${carriableTextRule}.`,
    }),
  );
}

export const Identifier = (name: string, description?: string) =>
  z
    .string({ error: `${name} must be 1 to 64 letters, digits, '_' or '-'.` })
    .check(
      z.regex(/^[A-Za-z0-9_-]{1,64}$/, { error: `${name} must be 1 to 64 letters, digits, '_' or '-'.` }),
      ...(description ? [doc({ description })] : []),
    );

const errorCode = (code: ErrorCode) => ({ errorCode: code });

/** The API Gateway body (a string), parsed as JSON, then `schema`. */
export function JsonBody<T extends z.ZodMiniType>(schema: T) {
  return z.pipe(
    z.pipe(
      z.string().check(
        z.refine((raw) => Buffer.byteLength(raw, "utf8") <= maxRequestBytes, {
          error: `The request body must be at most ${maxRequestBytes} bytes.`,
          params: errorCode("body_too_large"),
          abort: true,
        }),
      ),
      z.transform((raw: string, context) => {
        try {
          return JSON.parse(raw) as unknown;
        } catch {
          context.issues.push({
            code: "custom",
            message: "The request body is not valid JSON.",
            params: errorCode("body_not_json"),
            input: raw,
          });
          return z.NEVER;
        }
      }),
    ),
    schema,
  );
}

/** Decodes a base64 body before the schema sees it (API Gateway encodes non-text content types). */
export const apiEvent = <T extends z.ZodMiniType>(schema: T) =>
  z.pipe(
    z.transform((event: unknown) => {
      const e = event as { body?: string; isBase64Encoded?: boolean } | undefined;
      if (!e?.isBase64Encoded || e.body === undefined) return event;
      return { ...e, body: Buffer.from(e.body, "base64").toString("utf8"), isBase64Encoded: false };
    }),
    schema,
  );

/** API Gateway leaves queryStringParameters (and pathParameters) out of the event when there are none. */
export const orEmpty = <T extends z.ZodMiniObject>(part: T) =>
  z.pipe(
    z.transform((value: unknown) => value ?? {}),
    part,
  );

/** The API Gateway JWT authorizer's verified claims: the app user is the token's subject. */
export const JwtAuthorized = z.object({
  authorizer: z.object({ jwt: z.object({ claims: z.object({ sub: z.string().check(z.minLength(1)) }) }) }),
});

export const ErrorBody = z
  .object({
    code: z.string().check(doc({ description: "Stable, machine-readable (see the error catalogue)." })),
    message: z.string().check(doc({ description: "For humans; may change." })),
  })
  .check(doc({ id: "Error" }));
