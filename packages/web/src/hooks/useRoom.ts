import type { ChatEntry, Phase, RoomModel, Seat } from "@roundtable/client-core";
import { useEffect, useState } from "preact/hooks";

export interface RoomView {
  phase: Phase;
  selfId: string | undefined;
  title: string | undefined;
  seats: Seat[];
  chat: readonly ChatEntry[];
}

const EMPTY: RoomView = { phase: "connecting", selfId: undefined, title: undefined, seats: [], chat: [] };

/**
 * The room as plain data, re-read on every "change". The model mutates seats in place, so each
 * render copies them: components can then compare props without seeing stale objects.
 */
export function useRoom(room: RoomModel | undefined): RoomView {
  const [, setVersion] = useState(0);

  useEffect(() => {
    if (!room) return;
    const off = room.on("change", () => setVersion((v) => v + 1));
    // Anything applied between creating the model and subscribing would otherwise go unseen.
    setVersion((v) => v + 1);
    return off;
  }, [room]);

  if (!room) return EMPTY;
  return {
    phase: room.phase,
    selfId: room.selfId,
    title: room.conference?.title,
    seats: room.seats.map((seat) => ({ ...seat })),
    chat: room.chat,
  };
}
