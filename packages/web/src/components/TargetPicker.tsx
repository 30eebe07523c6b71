import type { MemberInfo } from "@roundtable/protocol";
import { Icon } from "./Icon.tsx";
import { MemberAvatar } from "./MemberAvatar.tsx";

/** Chips choosing who the next message goes to: everyone, or any set of other members. */
export function TargetPicker({
  members,
  selected,
  onToggle,
  onEveryone,
}: {
  members: MemberInfo[];
  selected: ReadonlySet<string>;
  onToggle: (memberId: string) => void;
  onEveryone: () => void;
}) {
  return (
    <fieldset class="target-picker" data-testid="target-picker">
      <legend class="visually-hidden">Send to</legend>
      <button
        type="button"
        class="chip chip-everyone"
        aria-pressed={selected.size === 0}
        onClick={onEveryone}
        data-testid="target-everyone"
      >
        <Icon name="users" size={14} />
        Everyone
      </button>
      {members.map((m) => (
        <button
          key={m.id}
          type="button"
          class="chip"
          aria-pressed={selected.has(m.id)}
          onClick={() => onToggle(m.id)}
          data-testid="target-chip"
          data-member-id={m.id}
        >
          <MemberAvatar avatar={m.avatar} name="" class="avatar-xs" />
          {m.name}
        </button>
      ))}
    </fieldset>
  );
}
