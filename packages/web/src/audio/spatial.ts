import type { RoomModel } from "@roundtable/client-core";
import { layoutSeats } from "../room/seatLayout.ts";

/** How far to either side a voice may go: fully one-sided voices tire the ear. */
const WIDTH = 0.8;

/**
 * Stereo pan (-1 left to 1 right) of each voice slot, from where its speaker sits at the table as
 * this member sees it: the same layout as the Table, with your own seat at the front. Members in
 * the grid fallback (very large rooms) and unbound slots stay in the middle.
 */
export function panForSlots(room: RoomModel): number[] {
  const seats = room.seats;
  const selfIndex = Math.max(
    0,
    seats.findIndex((s) => s.member.id === room.selfId),
  );
  const layout = layoutSeats(seats.length, selfIndex);
  return room.slots.map((memberId) => {
    if (!memberId || layout.kind !== "oval") return 0;
    const place = layout.places[seats.findIndex((s) => s.member.id === memberId)];
    if (!place) return 0;
    // Seats span x = 9..91 (ring radius 41 around 50).
    return Math.max(-1, Math.min(1, ((place.x - 50) / 41) * WIDTH));
  });
}
