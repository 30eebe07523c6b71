import type { ChatEntry } from "@roundtable/client-core";
import type { MemberInfo } from "@roundtable/protocol";
import { useLayoutEffect, useRef } from "preact/hooks";
import { ChatMessage } from "./ChatMessage.tsx";

/** How close to the bottom (px) still counts as "reading the latest", so new texts scroll into view. */
const STICK_PX = 48;

/**
 * Every text this member may see, oldest first. It follows new texts while the reader is at the
 * bottom and leaves the scroll position alone while they read older ones; their own texts always
 * scroll into view.
 */
export function ChatLog({
  entries,
  selfId,
  memberOf,
}: {
  entries: readonly ChatEntry[];
  selfId: string | undefined;
  memberOf: (id: string) => MemberInfo | undefined;
}) {
  const list = useRef<HTMLOListElement>(null);
  const atBottom = useRef(true);
  const last = entries.at(-1);
  const nameOf = (id: string) => memberOf(id)?.name ?? "someone";

  useLayoutEffect(() => {
    const el = list.current;
    if (el && (atBottom.current || last?.own)) el.scrollTop = el.scrollHeight;
  }, [last]);

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
        {entries.length === 0 && <li class="chat-empty">No messages yet. Say hello!</li>}
        {entries.map((entry) => (
          <ChatMessage
            key={entry.message.id}
            entry={entry}
            sender={memberOf(entry.message.from)}
            selfId={selfId}
            nameOf={nameOf}
          />
        ))}
      </ol>
    </section>
  );
}
