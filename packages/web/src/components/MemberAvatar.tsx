import type { Avatar } from "@roundtable/protocol";

/** A member's picture; the colour fills the circle until the image arrives, so seats never flash empty. */
export function MemberAvatar({
  avatar,
  name,
  class: className,
}: {
  avatar: Avatar;
  name: string;
  class?: string;
}) {
  return (
    <img
      class={className ? `avatar ${className}` : "avatar"}
      src={avatar.url}
      alt={name}
      decoding="async"
      draggable={false}
      style={{ backgroundColor: avatar.color }}
    />
  );
}
