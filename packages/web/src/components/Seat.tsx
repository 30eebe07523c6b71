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
  talkingTo,
}: {
  seat: SeatData;
  /** Undefined in the grid fallback, where the seat flows in the grid instead. */
  place: SeatPlace | undefined;
  isSelf: boolean;
  selected: boolean;
  onToggle: (memberId: string) => void;
  /** On your own seat while your voice goes to chosen members only: their names. */
  talkingTo?: string | undefined;
}) {
  const { member, online, bubble, speaking, voice, whisper } = seat;
  const side: BubbleSide = place?.side ?? "below";
  const style: JSX.CSSProperties | undefined = place
    ? { left: `${place.x}%`, top: `${place.y}%` }
    : undefined;
  const classes = ["seat", online ? "is-online" : "is-offline"];
  if (isSelf) classes.push("is-self");
  if (selected) classes.push("is-selected");
  // A bubble must paint over the neighbouring seats, which come later in the DOM.
  if (bubble) classes.push("has-bubble");
  if (voice.connected) classes.push(voice.muted ? "has-voice is-muted" : "has-voice");
  // Whispering to you: the voice you hear from this member is addressed to a chosen few.
  const whisperBadge = !isSelf && whisper;
  const voiceLabel = voice.connected ? (voice.muted ? ", voice muted" : ", voice on") : "";

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
        {isSelf &&
          (talkingTo ? (
            // Your voice goes to chosen members only: the tag says to whom.
            <span class="you-tag seat-you is-talking-to" data-testid="talking-to" aria-hidden="true">
              you → {talkingTo}
            </span>
          ) : (
            <span class="you-tag seat-you" aria-hidden="true">
              you
            </span>
          ))}
        {voice.connected && (
          <span
            class={voice.muted ? "seat-voice is-muted" : "seat-voice"}
            data-testid="seat-voice"
            data-muted={String(voice.muted)}
            aria-hidden="true"
          >
            <Icon name={voice.muted ? "mic-off" : "mic"} size={11} />
          </span>
        )}
        {isSelf && <span class="seat-meter" data-testid="seat-meter" aria-hidden="true" />}
      </span>
      <span class="seat-name" aria-hidden="true">
        {member.name}
      </span>
      {whisperBadge && (
        <span class="seat-whisper" data-testid="whisper-badge" aria-hidden="true">
          <Icon name="ear" size={11} />
          whispers to you
        </span>
      )}
      <span class="visually-hidden">
        {isSelf ? " (you)" : ""}, {online ? "online" : "offline"}
        {voiceLabel}
        {speaking ? (whisper ? ", whispering to you" : ", speaking") : ""}
        {isSelf && talkingTo ? `, your voice goes to ${talkingTo}` : ""}
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
      // "on" only once the server receives this member's voice, never while it is negotiating.
      data-voice={voice.connected ? "on" : undefined}
      data-whisper={String(whisperBadge)}
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
