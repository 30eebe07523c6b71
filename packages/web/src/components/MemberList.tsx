import type { Avatar } from "@roundtable/protocol";
import { MemberAvatar } from "./MemberAvatar.tsx";

export interface ListedMember {
  id: string;
  name: string;
  avatar: Avatar;
  /** Omitted where presence is unknown (the host page only polls the roster). */
  online?: boolean;
}

/** Registered members as a wrapping list of avatar cards, in seat order. */
export function MemberList({
  members,
  selfId,
  testId,
}: {
  members: ListedMember[];
  selfId?: string | undefined;
  testId: string;
}) {
  if (members.length === 0) return <p class="empty">No one has registered yet.</p>;
  return (
    <ul class="member-list">
      {members.map((m) => (
        <li
          key={m.id}
          class="member-card"
          data-testid={testId}
          data-member-id={m.id}
          data-online={m.online === undefined ? undefined : String(m.online)}
        >
          <span class="member-card-avatar">
            <MemberAvatar avatar={m.avatar} name={m.name} class="avatar-md" />
            {m.online !== undefined && (
              <span class={m.online ? "presence-dot online" : "presence-dot"} aria-hidden="true" />
            )}
          </span>
          <span class="member-card-name">
            {m.name}
            {m.id === selfId && <span class="you-tag">you</span>}
          </span>
          {m.online !== undefined && (
            <span class={m.online ? "presence-text online" : "presence-text"}>
              {m.online ? "here" : "away"}
            </span>
          )}
        </li>
      ))}
    </ul>
  );
}
