// The reports' S3 objects. store.ts loads this module when it first writes or reads a report, so
// @aws-sdk/client-s3 is required then, not in `reconcile`'s cold start (the bundle keeps the
// require inside this module's lazy initialisation).
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";

let s3Client: S3Client | undefined;

function s3(): S3Client {
  // A custom endpoint (the local engine, fauxqs) serves buckets by path, not by host name.
  s3Client ??= new S3Client({ maxAttempts: 3, forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3) });
  return s3Client;
}

export async function putJson(bucket: string, key: string, value: unknown): Promise<void> {
  await s3().send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(value, null, 1), ContentType: "application/json" }),
  );
}

export async function getJson<T>(bucket: string, key: string): Promise<T> {
  const { Body } = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await Body!.transformToString()) as T;
}
