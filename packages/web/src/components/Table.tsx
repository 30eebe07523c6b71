import type { Seat as SeatData } from "@roundtable/client-core";
import type { JSX } from "preact";
import { useMemo } from "preact/hooks";
import { layoutSeats } from "../room/seatLayout.ts";
import { Seat } from "./Seat.tsx";

/**
 * The oval table with every member's seat around it, in seat order, turned so that your own seat
 * is at the front. Past a few dozen members the ring is unreadable and seats form a grid instead.
 */
export function Table({
  title,
  seats,
  selfId,
  selected,
  onToggle,
  talkingTo,
}: {
  title: string;
  seats: SeatData[];
  selfId: string | undefined;
  selected: ReadonlySet<string>;
  onToggle: (memberId: string) => void;
  /** Shown on your own seat while your voice goes to chosen members only. */
  talkingTo?: string | undefined;
}) {
  const selfIndex = Math.max(
    0,
    seats.findIndex((s) => s.member.id === selfId),
  );
  const layout = useMemo(() => layoutSeats(seats.length, selfIndex), [seats.length, selfIndex]);
  const style: JSX.CSSProperties | undefined =
    layout.kind === "oval"
      ? { "--seat-size": `${layout.seatSize}cqw`, "--label-width": `${layout.labelWidth}cqw` }
      : undefined;

  return (
    <div class={`table-area table-${layout.kind}`} style={style}>
      {layout.kind === "oval" && (
        <div class="table-surface" aria-hidden="true">
          <span class="table-title">{title}</span>
          <span class="table-count">
            {seats.length} {seats.length === 1 ? "seat" : "seats"}
          </span>
        </div>
      )}
      <ul class="seats" aria-label={`${seats.length} people at the table`}>
        {seats.map((seat, i) => (
          <Seat
            key={seat.member.id}
            seat={seat}
            place={layout.kind === "oval" ? layout.places[i] : undefined}
            isSelf={seat.member.id === selfId}
            selected={selected.has(seat.member.id)}
            onToggle={onToggle}
            talkingTo={seat.member.id === selfId ? talkingTo : undefined}
          />
        ))}
      </ul>
    </div>
  );
}
