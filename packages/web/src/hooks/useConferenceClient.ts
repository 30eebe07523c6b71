import { ConferenceClient, type ConnectionStatus } from "@roundtable/client-core";
import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.ts";

/** A live connection for as long as the component is mounted; one per conference and token. */
export function useConferenceClient(
  conferenceId: string,
  token: string | undefined,
): { client: ConferenceClient | undefined; status: ConnectionStatus } {
  const [client, setClient] = useState<ConferenceClient>();
  const [status, setStatus] = useState<ConnectionStatus>("connecting");

  useEffect(() => {
    if (!token) return;
    const next = new ConferenceClient({
      api,
      conferenceId,
      token,
      createSocket: (url) => new WebSocket(url),
    });
    const off = next.on("status", setStatus);
    setClient(next);
    setStatus(next.status);
    next.connect();
    return () => {
      off();
      next.close();
    };
  }, [conferenceId, token]);

  return { client, status };
}
