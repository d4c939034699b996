// The whole backend on one machine: DynamoDB Local, an SQS server, the tables and queues of
// serverless.yml, the Lambdas behind an emulated API Gateway / SQS event sources / schedules,
// the Alipay gateway simulator and a sample business receiver. Used by `npm start` and the tests.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Server } from "node:http";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { logger } from "../lib/observability.js";
import {
  startAlipaySimulator,
  generateRsaKeyPair,
  issueCertificates,
  certPublicKey,
  type AlipaySimulator,
  type IssuedCertificates,
} from "../simulator/index.js";
import { startBusinessReceiver, type BusinessReceiver } from "./businessReceiver.js";
import { ensureWebhookSecret, registeredWebhookSecretFile, registerLocalBusinessSystems } from "./businessSystems.js";
import {
  ensureBusinessCredentials,
  principalsByAccessKey,
  principalsWithSessions,
  type BusinessCredentials,
} from "./businessCredentials.js";
import { createDevAuth } from "./devAuth.js";
import { freePort, localCredentials, startDynamoDb, startSqs, type Engine } from "./engines.js";
import { routesOf, startHttpApi } from "./httpApi.js";
import { LocalLambda } from "./lambdaRuntime.js";
import { provisionResources, resolveIntrinsics, type ResourceMap } from "./provision.js";
import { rateToMs, startSchedule, type Schedule } from "./scheduler.js";
import { loadService, projectRoot, type LocalService } from "./serverlessConfig.js";
import { HandledMessages, startSqsPoller, type Poller } from "./sqsPoller.js";
import { startStreamPoller } from "./streamPoller.js";

export interface StackOptions {
  ports?: Partial<Record<"api" | "alipay" | "receiver" | "dynamodb" | "sqs", number>>;
  /** Where throwaway keys live; generated when missing. */
  keysDir?: string;
  /** Alipay's notification retry schedule is divided by this. */
  notifyTimeScale?: number;
  /** Every schedule (the sweep) fires this often instead of its rate(...). */
  scheduleIntervalMs?: number;
  /** LOCAL_* overrides read by serverless.yml's `local` params (e.g. LOCAL_ORDER_TTL_SECONDS). */
  env?: Record<string, string>;
  /**
   * Certificate mode (公钥证书): a local CA issues the app's and Alipay's certificates (keysDir/*.crt),
   * the functions get ALIPAY_APP_CERT / ALIPAY_PUBLIC_CERT / ALIPAY_ROOT_CERT, the simulator checks SNs.
   */
  alipayCertificateMode?: boolean;
  log?: (line: string) => void;
}

export interface LocalStack {
  service: LocalService;
  resources: ResourceMap;
  urls: {
    api: string;
    alipay: string;
    cashier: string;
    receiver: string;
    receivers: Record<string, string>;
    dynamodb: string;
    sqs: string;
  };
  /** The environment the functions run with (also set on process.env). */
  functionEnv: Record<string, string>;
  keysDir: string;
  simulator: AlipaySimulator;
  /** One sample receiver per business system (`shop`, `membership`). */
  receivers: Record<string, BusinessReceiver>;
  /** The `shop` receiver. */
  receiver: BusinessReceiver;
  schedules: Record<string, Schedule>;
  /** The sample business systems' local AWS credentials (SigV4 for the aws_iam routes), by system id. */
  businessCredentials: BusinessCredentials;
  issueToken(subject: string, expiresInSeconds?: number): Promise<string>;
  stop(): Promise<void>;
}

export interface LocalKeys {
  appPrivateKey: string;
  appPublicKey: string;
  alipayPrivateKey: string;
  alipayPublicKey: string;
}

/** Throwaway keys for local runs: the app's and the simulated Alipay's RSA2 pairs. */
export function ensureLocalKeys(dir: string): LocalKeys {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = (name: string) => join(dir, name);
  if (!existsSync(file("app-private.pem"))) {
    const app = generateRsaKeyPair();
    const alipay = generateRsaKeyPair();
    writeFileSync(file("app-private.pem"), app.privateKeyPkcs8, { mode: 0o600 });
    writeFileSync(file("app-public.pem"), app.publicKey);
    writeFileSync(file("alipay-private.pem"), alipay.privateKeyPkcs8, { mode: 0o600 });
    writeFileSync(file("alipay-public.pem"), alipay.publicKey);
  }
  const read = (name: string) => readFileSync(file(name), "utf8").trim();
  return {
    appPrivateKey: read("app-private.pem"),
    appPublicKey: read("app-public.pem"),
    alipayPrivateKey: read("alipay-private.pem"),
    alipayPublicKey: read("alipay-public.pem"),
  };
}

/** Certificate mode's environment variables and the files in keysDir they name. */
const certificateFiles = {
  ALIPAY_APP_CERT: "app-cert.crt",
  ALIPAY_PUBLIC_CERT: "alipay-cert.crt",
  ALIPAY_ROOT_CERT: "alipay-root.crt",
} as const;

/** The simulated Alipay's own CA (never given to the functions): it issues Alipay's next certificate on a rotation. */
const caFiles = { cert: "alipay-ca.crt", key: "alipay-ca.key" } as const;

/** Certificates for the local keys (issued once per keysDir and app id, by the simulator's local CA). */
export function ensureLocalCertificates(dir: string, appId: string, keys: LocalKeys): IssuedCertificates {
  const file = (name: string) => join(dir, name);
  const appCertFile = file(certificateFiles.ALIPAY_APP_CERT);
  // Issued again when the app key changed since (a certificate of another key would be refused),
  // or when the simulated Alipay's CA key was not kept (issued before rotations were simulated).
  if (
    !existsSync(appCertFile) ||
    !existsSync(file(caFiles.key)) ||
    certPublicKey(readFileSync(appCertFile, "utf8")) !== keys.appPublicKey
  ) {
    const issued = issueCertificates({ appId, appPrivateKey: keys.appPrivateKey, alipayPrivateKey: keys.alipayPrivateKey });
    writeFileSync(file(certificateFiles.ALIPAY_PUBLIC_CERT), issued.alipayCert);
    writeFileSync(file(certificateFiles.ALIPAY_ROOT_CERT), issued.rootCert);
    writeFileSync(file(caFiles.cert), issued.ca.cert);
    writeFileSync(file(caFiles.key), issued.ca.key, { mode: 0o600 });
    writeFileSync(appCertFile, issued.appCert);
  }
  const read = (name: string) => readFileSync(file(name), "utf8").trim();
  return {
    appCert: read(certificateFiles.ALIPAY_APP_CERT),
    alipayCert: read(certificateFiles.ALIPAY_PUBLIC_CERT),
    rootCert: read(certificateFiles.ALIPAY_ROOT_CERT),
    ca: { cert: read(caFiles.cert), key: read(caFiles.key) },
  };
}

export async function startStack(options: StackOptions = {}): Promise<LocalStack> {
  const log = options.log ?? ((line: string) => console.log(line));
  const keysDir = resolve(options.keysDir ?? join(projectRoot, ".local", "keys"));
  const stopping: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const step of stopping.reverse()) await step().catch(() => undefined);
  };
  try {
    const [dynamoDb, sqsEngine] = await Promise.all([startDynamoDb(options.ports?.dynamodb), startSqs(options.ports?.sqs)]);
    stopping.push(
      () => dynamoDb.stop(),
      () => sqsEngine.stop(),
    );
    const keys = ensureLocalKeys(keysDir);
    const apiPort = options.ports?.api ?? (await freePort());
    const alipayPort = options.ports?.alipay ?? (await freePort());
    const receiverPorts: Record<string, number> = {
      shop: options.ports?.receiver ?? (await freePort()),
      membership: options.ports?.receiver ? options.ports.receiver + 1 : await freePort(),
    };
    const urls = {
      api: `http://127.0.0.1:${apiPort}`,
      alipay: `http://127.0.0.1:${alipayPort}`,
      cashier: `http://127.0.0.1:${alipayPort}/cashier`,
      receiver: `http://127.0.0.1:${receiverPorts.shop}`,
      receivers: Object.fromEntries(Object.entries(receiverPorts).map(([id, port]) => [id, `http://127.0.0.1:${port}`])),
      dynamodb: dynamoDb.endpoint,
      sqs: sqsEngine.endpoint,
    };
    const localEnv: Record<string, string> = {
      LOCAL_API_URL: urls.api,
      LOCAL_ALIPAY_URL: urls.alipay,
      LOCAL_KEYS_DIR: keysDir,
      ...options.env,
    };
    const service = loadService("local", { ...process.env, ...localEnv });
    const dynamo = new DynamoDBClient({ endpoint: urls.dynamodb, region: service.region, credentials: localCredentials });
    const sqs = new SQSClient({ endpoint: urls.sqs, region: service.region, credentials: localCredentials });
    const streams = new DynamoDBStreamsClient({ endpoint: urls.dynamodb, region: service.region, credentials: localCredentials });
    // fauxqs serves S3 (path style) on the SQS port.
    const s3 = new S3Client({ endpoint: urls.sqs, region: service.region, credentials: localCredentials, forcePathStyle: true });
    stopping.push(async () => {
      dynamo.destroy();
      sqs.destroy();
      streams.destroy();
      s3.destroy();
    });
    const resources = await provisionResources(service, dynamo, sqs, s3);
    const functionEnv = functionEnvironment(service, resources, urls, dynamoDb, sqsEngine);
    const certificates = options.alipayCertificateMode ? ensureLocalCertificates(keysDir, functionEnv.ALIPAY_APP_ID!, keys) : undefined;
    for (const [name, file] of Object.entries(certificateFiles)) {
      if (certificates) functionEnv[name] = `file:${join(keysDir, file)}`;
      else delete process.env[name];
    }
    Object.assign(process.env, functionEnv);
    // The functions' logger may have been loaded before this environment was set (tests import lib).
    // Powertools resets the level to the one it was constructed with on every warm invocation, so the
    // constructed level itself is set (in Lambda the environment exists before the code loads).
    const logLevel = functionEnv.POWERTOOLS_LOG_LEVEL as Parameters<typeof logger.setLogLevel>[0];
    (logger as unknown as { setInitialLogLevel(level: string): void }).setInitialLogLevel(logLevel);
    logger.setLogLevel(logLevel);

    const appId = functionEnv.ALIPAY_APP_ID!;
    const simulator = await startAlipaySimulator({
      port: alipayPort,
      alipayPrivateKey: keys.alipayPrivateKey,
      ...(certificates
        ? { certificates: { alipayCert: certificates.alipayCert, rootCert: certificates.rootCert, ca: certificates.ca } }
        : {}),
      apps: [
        {
          appId,
          appPublicKey: keys.appPublicKey,
          sellerId: functionEnv.ALIPAY_SELLER_ID!,
          ...(certificates ? { appCert: certificates.appCert } : {}),
        },
      ],
      timeScale: options.notifyTimeScale ?? 60,
      log: (line) => log(`alipay-simulator: ${line}`),
    });
    stopping.push(() => simulator.close());
    const businessCredentials = ensureBusinessCredentials(keysDir, Object.keys(receiverPorts));
    const receivers: Record<string, BusinessReceiver> = {};
    for (const [businessId, port] of Object.entries(receiverPorts)) {
      ensureWebhookSecret(keysDir, businessId);
      // The secret is read per event, so a rotation (ops CLI) is followed without a restart.
      receivers[businessId] = await startBusinessReceiver({
        port,
        name: businessId,
        secret: async () => readFileSync(await registeredWebhookSecretFile(keysDir, businessId), "utf8").trim(),
        log,
      });
      stopping.push(() => closeServer(receivers[businessId]!.server));
    }
    await registerLocalBusinessSystems({
      keysDir,
      credentials: businessCredentials,
      webhookUrls: Object.fromEntries(Object.entries(urls.receivers).map(([id, url]) => [id, `${url}/events`])),
      paymentExpirySeconds: Number(options.env?.LOCAL_PAYMENT_EXPIRY_SECONDS ?? 1800),
    });

    const lambdas = service.functions.map((definition) => new LocalLambda(definition));
    const authorizer = Object.values(service.jwtAuthorizers)[0];
    const auth = await createDevAuth(authorizer?.issuerUrl ?? `${urls.api}/_dev`, authorizer?.audience ?? ["local"]);
    const iam = { region: service.region, principals: principalsWithSessions(keysDir, principalsByAccessKey(businessCredentials)) };
    const api = await startHttpApi({ port: apiPort, routes: routesOf(lambdas), auth, iam, log });
    stopping.push(() => closeServer(api));

    const pollers: Poller[] = [];
    const schedules: Record<string, Schedule> = {};
    const handled = new HandledMessages();
    for (const lambda of lambdas) {
      for (const source of lambda.definition.sqs) {
        const queue = resources[source.queueLogicalId]!;
        pollers.push(
          startSqsPoller({
            sqs,
            queueUrl: queue.ref,
            queueArn: queue.attributes.Arn!,
            region: service.region,
            source,
            lambda,
            log,
            onHandled: (ids) => handled.mark(ids),
          }),
        );
      }
      for (const source of lambda.definition.streams) {
        const table = resources[source.tableLogicalId]!;
        pollers.push(
          startStreamPoller({
            streams,
            sqs,
            streamArn: table.attributes.StreamArn!,
            region: service.region,
            source,
            ...(source.onFailureQueueLogicalId ? { onFailureQueueUrl: resources[source.onFailureQueueLogicalId]!.ref } : {}),
            lambda,
            log,
          }),
        );
      }
      for (const rate of lambda.definition.schedules) {
        // Calendar schedules (cron: the daily reconciliation) are run by hand locally (ops CLI).
        if (rate.trim().startsWith("cron(")) continue;
        // A run that answers the ids of the messages it queued (the sweep's fan-out) has fired once
        // the local pollers have run each of them: a test's fire() sees every shard swept.
        const settle = async (result: unknown) => {
          const ids = (result as { messageIds?: unknown } | undefined)?.messageIds;
          if (Array.isArray(ids)) await handled.waitFor(ids.map(String));
        };
        schedules[lambda.definition.name] = startSchedule(lambda, options.scheduleIntervalMs ?? rateToMs(rate), log, settle);
      }
    }
    stopping.push(async () => {
      // A fire() waiting for shard sweeps stops waiting once the pollers that would run them have stopped.
      const pollersStopped = Promise.all(pollers.map((p) => p.stop())).then(() => handled.close());
      await Promise.all([pollersStopped, ...Object.values(schedules).map((s) => s.stop())]);
    });

    return {
      service,
      resources,
      urls,
      functionEnv,
      keysDir,
      simulator,
      receivers,
      receiver: receivers.shop!,
      schedules,
      businessCredentials,
      issueToken: (subject, expiresInSeconds) => auth.issue(subject, expiresInSeconds),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function functionEnvironment(
  service: LocalService,
  resources: ResourceMap,
  urls: LocalStack["urls"],
  dynamoDb: Engine,
  sqs: Engine,
): Record<string, string> {
  const resolved = resolveIntrinsics(service.environment, resources, service) as Record<string, unknown>;
  // Locally every function runs in this one process with one environment: a function's own
  // variables join it (the sweep's SWEEP_QUEUE_URL), but NODE_OPTIONS, which is the process's own.
  for (const fn of service.functions) {
    const own = resolveIntrinsics(fn.environment, resources, service) as Record<string, unknown>;
    for (const [name, value] of Object.entries(own)) {
      if (name === "NODE_OPTIONS") continue;
      if (name in resolved && String(resolved[name]) !== String(value))
        throw new Error(
          `serverless.yml: ${fn.name} sets ${name} differently from another function; the local stack shares one environment`,
        );
      resolved[name] = value;
    }
  }
  return {
    ...Object.fromEntries(Object.entries(resolved).map(([k, v]) => [k, String(v)])),
    AWS_REGION: service.region,
    AWS_ACCESS_KEY_ID: localCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoDb.endpoint,
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    AWS_ENDPOINT_URL_S3: sqs.endpoint,
    LOCAL_API_URL: urls.api,
  };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}
