// A development token issuer standing in for the mobile app's identity provider, and the check
// API Gateway's JWT authorizer makes (signature, issuer, audience, expiry) before a route runs.
import { SignJWT, exportJWK, generateKeyPair, jwtVerify, type JWTPayload } from "jose";

export interface DevAuth {
  issue(subject: string, expiresInSeconds?: number): Promise<string>;
  verify(authorizationHeader: string | undefined): Promise<JWTPayload | undefined>;
  jwks(): Promise<{ keys: object[] }>;
}

export async function createDevAuth(issuer: string, audience: string[]): Promise<DevAuth> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  return {
    issue: (subject, expiresInSeconds = 3600) =>
      new SignJWT({})
        .setProtectedHeader({ alg: "ES256", kid: "local" })
        .setIssuer(issuer)
        .setAudience(audience[0] ?? "")
        .setSubject(subject)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds)
        .sign(privateKey),
    async verify(header) {
      const token = header?.match(/^Bearer\s+(\S+)$/i)?.[1];
      if (!token) return undefined;
      try {
        const { payload } = await jwtVerify(token, publicKey, { issuer, audience });
        return payload;
      } catch {
        return undefined;
      }
    },
    async jwks() {
      return { keys: [{ ...(await exportJWK(publicKey)), kid: "local", alg: "ES256", use: "sig" }] };
    },
  };
}
