import type { ConnectionStatus } from "@roundtable/client-core";
import { joinPath } from "../lib/route.ts";

/** Says so when the connection is not healthy; silent otherwise. */
export function StatusBanner({ status, conferenceId }: { status: ConnectionStatus; conferenceId: string }) {
  if (status === "reconnecting")
    return (
      <div class="banner banner-warning" role="status" data-testid="connection-banner" data-status={status}>
        <span class="spinner" aria-hidden="true" />
        Connection lost — reconnecting… Messages you send now go out once it is back.
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
