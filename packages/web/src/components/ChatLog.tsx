import type { ChatEntry, OutboxText } from "@roundtable/client-core";
import type { MemberInfo } from "@roundtable/protocol";
import { useLayoutEffect, useRef } from "preact/hooks";
import { ChatMessage, privateLabel } from "./ChatMessage.tsx";
import { Icon } from "./Icon.tsx";
import { MemberAvatar } from "./MemberAvatar.tsx";

/** How close to the bottom (px) still counts as "reading the latest", so new texts scroll into view. */
const STICK_PX = 48;

/**
 * Every text this member may see, oldest first. It follows new texts while the reader is at the
 * bottom and leaves the scroll position alone while they read older ones; their own texts always
 * scroll into view. Texts of this member's that the server has not confirmed yet come last, marked
 * as sending, until they come back as ordinary entries.
 */
export function ChatLog({
  entries,
  selfId,
  memberOf,
  pending = [],
}: {
  entries: readonly ChatEntry[];
  selfId: string | undefined;
  memberOf: (id: string) => MemberInfo | undefined;
  pending?: readonly OutboxText[];
}) {
  const list = useRef<HTMLOListElement>(null);
  const atBottom = useRef(true);
  const last = entries.at(-1);
  const nameOf = (id: string) => memberOf(id)?.name ?? "someone";

  useLayoutEffect(() => {
    const el = list.current;
    if (el && (atBottom.current || last?.own || pending.length > 0)) el.scrollTop = el.scrollHeight;
  }, [last, pending.length]);

  const onScroll = () => {
    const el = list.current;
    if (el) atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_PX;
  };

  return (
    <section class="chat" aria-labelledby="chat-title" data-testid="chat-log">
      <h2 id="chat-title" class="panel-title">
        Chat
      </h2>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: the log scrolls, and keyboard users need to reach it to scroll */}
      <ol class="chat-list" role="log" aria-live="polite" ref={list} onScroll={onScroll} tabIndex={0}>
        {entries.length === 0 && pending.length === 0 && (
          <li class="chat-empty">No messages yet. Say hello!</li>
        )}
        {entries.map((entry) => (
          <ChatMessage
            key={entry.message.id}
            entry={entry}
            sender={memberOf(entry.message.from)}
            selfId={selfId}
            nameOf={nameOf}
          />
        ))}
        {pending.map((p) => (
          <PendingMessage
            key={`pending-${p.clientId}`}
            pending={p}
            self={selfId ? memberOf(selfId) : undefined}
            nameOf={nameOf}
            selfId={selfId}
          />
        ))}
      </ol>
    </section>
  );
}

function PendingMessage({
  pending,
  self,
  selfId,
  nameOf,
}: {
  pending: OutboxText;
  self: MemberInfo | undefined;
  selfId: string | undefined;
  nameOf: (id: string) => string;
}) {
  const label = privateLabel(pending.to, true, selfId, nameOf);
  return (
    <li
      class={`chat-entry is-own is-pending${label ? " is-private" : ""}`}
      data-testid="chat-pending"
      data-private={String(label !== undefined)}
    >
      {self ? (
        <MemberAvatar avatar={self.avatar} name="" class="avatar-sm" />
      ) : (
        <span class="avatar avatar-sm" />
      )}
      <div class="chat-body">
        <p class="chat-meta">
          <span class="chat-sender">You</span>
          <span class="chat-sending">sending…</span>
        </p>
        {label && (
          <p class="chat-private">
            <Icon name="lock" size={12} />
            {label}
          </p>
        )}
        <p class="chat-text">{pending.text}</p>
      </div>
    </li>
  );
}
