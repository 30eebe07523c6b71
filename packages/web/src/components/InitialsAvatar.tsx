import { colorOf, initialsOf } from "@roundtable/protocol";

/** The preview of the picture a member gets without uploading one. */
export function InitialsAvatar({ name, class: className }: { name: string; class?: string }) {
  const trimmed = name.trim();
  return (
    <div
      class={className ? `avatar avatar-initials ${className}` : "avatar avatar-initials"}
      style={{ backgroundColor: colorOf(trimmed || "?") }}
      role="img"
      aria-label={trimmed ? `Initials of ${trimmed}` : "Your initials"}
      data-testid="avatar-preview-default"
    >
      <span aria-hidden="true">{initialsOf(trimmed) || "?"}</span>
    </div>
  );
}
