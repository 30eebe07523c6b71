import type { Seat as SeatData } from "@roundtable/client-core";
import type { JSX } from "preact";
import type { BubbleSide, SeatPlace } from "../room/seatLayout.ts";
import { Bubble } from "./Bubble.tsx";
import { Icon } from "./Icon.tsx";
import { MemberAvatar } from "./MemberAvatar.tsx";

/**
 * One member's place at the table. Other members' seats are buttons that add or remove them as
 * recipients of the next message; your own seat is not, since you always get your own messages.
 */
export function Seat({
  seat,
  place,
  isSelf,
  selected,
  onToggle,
}: {
  seat: SeatData;
  /** Undefined in the grid fallback, where the seat flows in the grid instead. */
  place: SeatPlace | undefined;
  isSelf: boolean;
  selected: boolean;
  onToggle: (memberId: string) => void;
}) {
  const { member, online, bubble, speaking } = seat;
  const side: BubbleSide = place?.side ?? "below";
  const style: JSX.CSSProperties | undefined = place
    ? { left: `${place.x}%`, top: `${place.y}%` }
    : undefined;
  const classes = ["seat", online ? "is-online" : "is-offline"];
  if (isSelf) classes.push("is-self");
  if (selected) classes.push("is-selected");
  // A bubble must paint over the neighbouring seats, which come later in the DOM.
  if (bubble) classes.push("has-bubble");

  const body = (
    <>
      <span class="seat-avatar">
        <MemberAvatar avatar={member.avatar} name={member.name} />
        <span class={online ? "presence-dot online" : "presence-dot"} aria-hidden="true" />
        {selected && (
          <span class="seat-check" aria-hidden="true">
            <Icon name="check" size={12} />
          </span>
        )}
        {/* On the avatar rather than in the label, where a crowded ring would truncate it away. */}
        {isSelf && (
          <span class="you-tag seat-you" aria-hidden="true">
            you
          </span>
        )}
      </span>
      <span class="seat-name" aria-hidden="true">
        {member.name}
      </span>
      <span class="visually-hidden">
        {isSelf ? " (you)" : ""}, {online ? "online" : "offline"}
        {speaking ? ", speaking" : ""}
      </span>
    </>
  );

  return (
    <li
      class={classes.join(" ")}
      style={style}
      data-testid="seat"
      data-member-id={member.id}
      data-seat={member.seat}
      data-online={String(online)}
      data-speaking={String(speaking)}
      data-selected={String(selected)}
    >
      {isSelf ? (
        <div class="seat-body">{body}</div>
      ) : (
        <button
          type="button"
          class="seat-body"
          aria-pressed={selected}
          title={selected ? `Stop writing privately to ${member.name}` : `Write privately to ${member.name}`}
          onClick={() => onToggle(member.id)}
        >
          {body}
        </button>
      )}
      {bubble && <Bubble key={bubble.messageId} bubble={bubble} memberId={member.id} side={side} />}
    </li>
  );
}
