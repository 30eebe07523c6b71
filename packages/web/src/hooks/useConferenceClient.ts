import { ConferenceClient, type ConnectionStatus, type OutboxText } from "@roundtable/client-core";
import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import { readOutbox, writeOutbox } from "../lib/storage.ts";

export interface Connection {
  client: ConferenceClient | undefined;
  status: ConnectionStatus;
  /** Sent texts still waiting for the server, oldest first. */
  pending: readonly OutboxText[];
  /** When the next reconnect attempt is due (`Date.now()` time), while one is waiting. */
  nextRetryAt: number | undefined;
  /** Skips the rest of the wait before the next reconnect attempt. */
  retryNow: () => void;
  /** The last problem the server reported that no form was waiting for (e.g. a restored text refused). */
  problem: string | undefined;
  dismissProblem: () => void;
}

/**
 * A live connection for as long as the component is mounted; one per conference and token. When
 * the browser reports it is back online, the next reconnect attempt starts at once instead of
 * after the rest of the backoff.
 */
export function useConferenceClient(conferenceId: string, token: string | undefined): Connection {
  const [client, setClient] = useState<ConferenceClient>();
  const [status, setStatus] = useState<ConnectionStatus>("connecting");
  const [pending, setPending] = useState<readonly OutboxText[]>([]);
  const [nextRetryAt, setNextRetryAt] = useState<number>();
  const [problem, setProblem] = useState<string>();

  useEffect(() => {
    if (!token) return;
    const next = new ConferenceClient({
      api,
      conferenceId,
      token,
      createSocket: (url) => new WebSocket(url),
    });
    const off = next.on("status", setStatus);
    const offOutbox = next.on("outbox", (outbox) => {
      setPending(outbox);
      writeOutbox(conferenceId, token, outbox);
    });
    const offError = next.on("error", (error) => setProblem(error.message));
    const offRetry = next.on("retry", setNextRetryAt);
    const online = () => next.retryNow();
    window.addEventListener("online", online);
    setClient(next);
    setStatus(next.status);
    setPending([]);
    setProblem(undefined);
    // What this tab had not yet sent when it was last closed or reloaded goes out again.
    next.restoreOutbox(readOutbox<OutboxText>(conferenceId, token));
    next.connect();
    return () => {
      window.removeEventListener("online", online);
      off();
      offOutbox();
      offError();
      offRetry();
      next.close();
    };
  }, [conferenceId, token]);

  return {
    client,
    status,
    pending,
    nextRetryAt,
    retryNow: () => client?.retryNow(),
    problem,
    dismissProblem: () => setProblem(undefined),
  };
}
