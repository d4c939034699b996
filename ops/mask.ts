// Buyer identifiers (Alipay's buyer_user_id / buyer_open_id) never leave the CLI in full.

/** Keeps the first and last four characters of a long identifier; short ones are hidden entirely. */
export function maskIdentifier(value: string): string {
  if (value.length <= 8) return "*".repeat(value.length);
  return `${value.slice(0, 4)}${"*".repeat(value.length - 8)}${value.slice(-4)}`;
}

/** Alipay buyer user ids: 2088 followed by 12 digits (a seller id has the same shape). */
const buyerUserIdPattern = /\b2088\d{12}\b/g;

/** Masks known identifiers, and anything shaped like an Alipay user id, inside free text. */
export function maskText(text: string, known: Array<string | undefined> = []): string {
  let masked = text;
  for (const value of known) if (value) masked = masked.split(value).join(maskIdentifier(value));
  return masked.replace(buyerUserIdPattern, (id) => maskIdentifier(id));
}
