import type { ConferenceClient } from "@roundtable/client-core";
import { useEffect, useMemo } from "preact/hooks";
import { RoomControls } from "../room/RoomControls.ts";

/** The room's controls for this client, exposed as `window.roundtable` while the room page is open. */
export function useRoomControls(client: ConferenceClient | undefined): RoomControls | undefined {
  const controls = useMemo(() => (client ? new RoomControls(client) : undefined), [client]);
  useEffect(() => controls?.install(window), [controls]);
  return controls;
}
