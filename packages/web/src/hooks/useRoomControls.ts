import type { ConferenceClient } from "@roundtable/client-core";
import { useEffect, useMemo, useState } from "preact/hooks";
import { RoomControls } from "../room/RoomControls.ts";

/** The room's controls for this client, exposed as `window.roundtable` while the room page is open. */
export function useRoomControls(client: ConferenceClient | undefined): RoomControls | undefined {
  const controls = useMemo(() => (client ? new RoomControls(client) : undefined), [client]);
  useEffect(() => {
    if (!controls) return;
    const uninstall = controls.install(window);
    return () => {
      uninstall();
      controls.dispose();
    };
  }, [controls]);
  // The controls mutate in place; every event re-renders whoever holds them.
  const [, setVersion] = useState(0);
  useEffect(() => {
    if (!controls) return;
    const bump = () => setVersion((v) => v + 1);
    const offs = [controls.on("voice", bump), controls.on("selection", bump)];
    return () => {
      for (const off of offs) off();
    };
  }, [controls]);
  return controls;
}
