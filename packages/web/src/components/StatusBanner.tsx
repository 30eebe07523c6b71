import type { ConnectionStatus } from "@roundtable/client-core";
import { joinPath } from "../lib/route.ts";

/** Says so when the connection is not healthy; silent otherwise. */
export function StatusBanner({
  status,
  conferenceId,
  onRetry,
}: {
  status: ConnectionStatus;
  conferenceId: string;
  /** Tries to reconnect at once; without it there is no "Try now" button. */
  onRetry?: () => void;
}) {
  if (status === "reconnecting")
    return (
      <div class="banner banner-warning" data-testid="connection-banner" data-status={status}>
        <span class="spinner" aria-hidden="true" />
        <p class="banner-text" role="status">
          <strong>Connection lost — trying again…</strong>{" "}
          <span class="banner-detail">
            Texts you write now go out once it is back; voice rejoins by itself.
          </span>
        </p>
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
  if (status === "refused")
    return (
      <div class="banner banner-error" role="alert" data-testid="connection-banner" data-status={status}>
        This room link was not accepted: it may be incomplete or for another conference.{" "}
        <a href={joinPath(conferenceId)}>Register again</a> to get a seat.
      </div>
    );
  return null;
}
