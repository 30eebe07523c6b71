import type { ChatEntry } from "@roundtable/client-core";
import type { Audience, MemberInfo } from "@roundtable/protocol";
import { formatTime, listNames } from "../lib/format.ts";
import { Icon } from "./Icon.tsx";
import { MemberAvatar } from "./MemberAvatar.tsx";

/** Who a private text went to, as this member should read it; undefined for a text to everyone. */
export function privateLabel(
  to: Audience,
  own: boolean,
  selfId: string | undefined,
  nameOf: (id: string) => string,
) {
  if (to === "all") return undefined;
  const others = to.filter((id) => id !== selfId).map(nameOf);
  if (own) return others.length > 0 ? `private to ${listNames(others)}` : "private note to yourself";
  return others.length > 0 ? `private to you and ${listNames(others)}` : "private to you";
}

export function ChatMessage({
  entry,
  sender,
  selfId,
  nameOf,
}: {
  entry: ChatEntry;
  sender: MemberInfo | undefined;
  selfId: string | undefined;
  nameOf: (id: string) => string;
}) {
  const { message } = entry;
  const label = privateLabel(message.to, entry.own, selfId, nameOf);
  const classes = ["chat-entry"];
  if (entry.own) classes.push("is-own");
  if (entry.private) classes.push("is-private");
  return (
    <li
      class={classes.join(" ")}
      data-testid="chat-entry"
      data-message-id={message.id}
      data-private={String(entry.private)}
    >
      {sender ? (
        <MemberAvatar avatar={sender.avatar} name="" class="avatar-sm" />
      ) : (
        <span class="avatar avatar-sm" />
      )}
      <div class="chat-body">
        <p class="chat-meta">
          <span class="chat-sender">{entry.own ? "You" : (sender?.name ?? "Someone")}</span>
          <time dateTime={new Date(message.sentAt).toISOString()}>{formatTime(message.sentAt)}</time>
        </p>
        {label && (
          <p class="chat-private" data-testid="chat-private">
            <Icon name="lock" size={12} />
            {label}
          </p>
        )}
        <p class="chat-text">{message.text}</p>
      </div>
    </li>
  );
}
