import { ConferenceClient, type RoundtableApi } from "@roundtable/client-core";
import WebSocket from "ws";

/** A conference client over `ws`, connected: resolves once the server's history has arrived. */
export async function openClient(
  api: RoundtableApi,
  conferenceId: string,
  token: string,
  timeoutMs = 15_000,
): Promise<ConferenceClient> {
  const client = new ConferenceClient({
    api,
    conferenceId,
    token,
    createSocket: (url) => new WebSocket(url, { perMessageDeflate: false }),
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      client.close();
      reject(new Error(`the conference connection did not open within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = client.on("status", (status) => {
      if (status === "open") {
        clearTimeout(timer);
        off();
        resolve();
      } else if (status === "refused") {
        clearTimeout(timer);
        off();
        reject(new Error("the server refused this member"));
      }
    });
    client.connect();
  });
  return client;
}
