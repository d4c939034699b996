// A sample business system: receives payment events, verifies their signature, dedupes by event
// id (deliveries are at least once) and logs them. Tests switch it down/up through /_receiver.
import { createServer, type Server } from "node:http";
import { signatureHeader, verifyWebhook } from "../lib/webhookSignature.js";

export type ReceiverMode = "up" | "down";

export interface ReceivedEvent {
  id: string;
  type: string;
  deliveries: number;
  firstReceivedAt: string;
  data: unknown;
}

export interface BusinessReceiver {
  url: string;
  server: Server;
  events: Map<string, ReceivedEvent>;
  rejected: number;
  setMode(mode: ReceiverMode): void;
}

export async function startBusinessReceiver(options: {
  port: number;
  /** The business system it stands for (log lines). */
  name?: string;
  /** Its webhook secret: a function is asked per event, so a rotation needs no restart. */
  secret: string | (() => string | Promise<string>);
  log: (line: string) => void;
}): Promise<BusinessReceiver> {
  const secret = () => (typeof options.secret === "string" ? options.secret : options.secret());
  const label = `business receiver${options.name ? ` ${options.name}` : ""}`;
  let mode: ReceiverMode = "up";
  const receiver: BusinessReceiver = {
    url: "",
    server: createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks).toString("utf8");
      const url = new URL(req.url ?? "/", "http://localhost");
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(value));
      };
      if (url.pathname === "/_receiver/events" && req.method === "GET") {
        return json(200, { mode, rejected: receiver.rejected, events: [...receiver.events.values()] });
      }
      if (url.pathname === "/_receiver/mode" && req.method === "POST") {
        receiver.setMode((JSON.parse(body) as { mode: ReceiverMode }).mode);
        return json(200, { mode });
      }
      if (url.pathname !== "/events" || req.method !== "POST") return json(404, { message: "Not Found" });
      if (mode === "down") return json(503, { message: "receiver is down" });
      const signature = req.headers[signatureHeader];
      let key: string;
      try {
        key = await secret();
      } catch (error) {
        // Not a verdict on the event: it is retried, like any delivery a receiver cannot take now.
        options.log(`${label}: cannot read its webhook secret: ${String(error)}`);
        return json(503, { message: "receiver cannot read its secret" });
      }
      if (!verifyWebhook(key, body, Array.isArray(signature) ? signature[0] : signature)) {
        receiver.rejected += 1;
        options.log(`${label}: rejected an event with a bad signature`);
        return json(401, { message: "bad signature" });
      }
      const event = JSON.parse(body) as { id: string; type: string; data: unknown };
      const seen = receiver.events.get(event.id);
      if (seen) {
        seen.deliveries += 1;
      } else {
        receiver.events.set(event.id, {
          id: event.id,
          type: event.type,
          deliveries: 1,
          firstReceivedAt: new Date().toISOString(),
          data: event.data,
        });
        options.log(`${label}: ${event.type} ${event.id}`);
      }
      json(200, { received: true });
    }),
    events: new Map(),
    rejected: 0,
    setMode(next) {
      mode = next;
    },
  };
  await new Promise<void>((r) => receiver.server.listen(options.port, "127.0.0.1", r));
  receiver.url = `http://127.0.0.1:${(receiver.server.address() as { port: number }).port}`;
  return receiver;
}
