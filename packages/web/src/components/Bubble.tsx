import type { Bubble as BubbleData } from "@roundtable/client-core";
import type { BubbleSide } from "../room/seatLayout.ts";
import { Icon } from "./Icon.tsx";

/**
 * A text beside its sender's seat for a few seconds (the model removes it). The chat log already
 * announces every text, so the bubble is hidden from screen readers to avoid reading it twice.
 */
export function Bubble({
  bubble,
  memberId,
  side,
}: {
  bubble: BubbleData;
  memberId: string;
  side: BubbleSide;
}) {
  return (
    <div
      class={`bubble bubble-${side}${bubble.private ? " bubble-private" : ""}`}
      data-testid="bubble"
      data-member-id={memberId}
      data-message-id={bubble.messageId}
      data-private={String(bubble.private)}
      aria-hidden="true"
    >
      {bubble.private && (
        <span class="bubble-tag">
          <Icon name="lock" size={12} />
          private
        </span>
      )}
      <p class="bubble-text">{bubble.text}</p>
    </div>
  );
}
