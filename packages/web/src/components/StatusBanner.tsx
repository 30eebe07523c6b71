import type { ConnectionStatus } from "@roundtable/client-core";
import { CLOSE_CODES } from "@roundtable/protocol";
import { useEffect, useState } from "preact/hooks";
import { joinPath } from "../lib/route.ts";

/** Whole seconds until `at`, re-read twice a second while there is a time to count down to. */
function useSecondsUntil(at: number | undefined): number | undefined {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (at === undefined) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [at]);
  return at === undefined ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** What the reconnecting banner says first, by why the connection ended. */
function lostHeadline(closeCode: number | undefined): string {
  if (closeCode === CLOSE_CODES.serviceRestart) return "The server is restarting — back in a moment…";
  if (closeCode === CLOSE_CODES.rateLimited) return "Too much at once — reconnecting…";
  // The server could not reach its own storage: nothing the member did, nothing they can fix.
  if (closeCode === CLOSE_CODES.tryAgainLater) return "Server trouble — retrying…";
  return "Connection lost — trying again…";
}

/** Says so when the connection is not healthy; silent otherwise. */
export function StatusBanner({
  status,
  conferenceId,
  nextRetryAt,
  closeCode,
  onRetry,
}: {
  status: ConnectionStatus;
  conferenceId: string;
  /** How the last connection ended, to say why it is reconnecting. */
  closeCode?: number;
  /** When the next attempt is due, for the countdown; undefined while one is under way. */
  nextRetryAt?: number;
  /** Tries to reconnect at once; without it there is no "Try now" button. */
  onRetry?: () => void;
}) {
  const seconds = useSecondsUntil(status === "reconnecting" ? nextRetryAt : undefined);
  if (status === "reconnecting")
    return (
      <div
        class="banner banner-warning"
        data-testid="connection-banner"
        data-status={status}
        data-close-code={closeCode}
      >
        <span class="spinner" aria-hidden="true" />
        <p class="banner-text" role="status">
          <strong>{lostHeadline(closeCode)}</strong>{" "}
          <span class="banner-detail">
            Texts you write now go out once it is back; voice rejoins by itself.
          </span>
        </p>
        {/* Not in the live region: a screen reader would read out every tick. */}
        <span class="banner-countdown" data-testid="retry-countdown" aria-hidden="true">
          {seconds === undefined || seconds === 0 ? "trying now…" : `next try in ${seconds} s`}
        </span>
        {/* Always there, so nothing jumps about; while an attempt is under way it does nothing. */}
        {onRetry && (
          <button
            type="button"
            class="button button-secondary button-small banner-action"
            data-testid="retry-now"
            onClick={onRetry}
          >
            Try now
          </button>
        )}
      </div>
    );
  if (status === "removed")
    return (
      <div class="banner banner-error" role="alert" data-testid="connection-banner" data-status={status}>
        The host removed you from this conference: this room link no longer works.
      </div>
    );
  if (status === "outdated")
    return (
      <div class="banner banner-error" role="alert" data-testid="connection-banner" data-status={status}>
        Roundtable was updated while this page was open.{" "}
        <button
          type="button"
          class="button button-primary button-small banner-action"
          data-testid="reload"
          onClick={() => location.reload()}
        >
          Reload
        </button>{" "}
        to rejoin: your seat and texts are kept.
      </div>
    );
  if (status === "refused")
    return (
      <div class="banner banner-error" role="alert" data-testid="connection-banner" data-status={status}>
        This room link was not accepted: it may be incomplete or for another conference.{" "}
        <a href={joinPath(conferenceId)}>Register again</a> to get a seat.
      </div>
    );
  return null;
}
