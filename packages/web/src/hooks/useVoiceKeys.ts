import { useEffect } from "preact/hooks";
import type { RoomControls } from "../room/RoomControls.ts";

/** Keys typed into a field belong to the field. */
function isEditable(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || target.closest("textarea, input, select, [contenteditable]") !== null)
  );
}

/** The member whose seat (or target chip) has the keyboard focus. */
function focusedMember(): string | undefined {
  const element = document.activeElement?.closest("[data-testid=seat], [data-testid=target-chip]");
  return element?.getAttribute("data-member-id") ?? undefined;
}

/**
 * Voice keys in the room: M mutes and unmutes; holding V while a seat is focused whispers to that
 * member alone (unmuted) until V is released, then the previous target and mute state return.
 * Any key or click also lets the browser start audio, should it still be waiting for a gesture.
 */
export function useVoiceKeys(controls: RoomControls | undefined): void {
  useEffect(() => {
    if (!controls) return;
    const onKeyDown = (event: KeyboardEvent) => {
      controls.audio?.resume();
      if (controls.voiceStatus === "off") return;
      if (event.ctrlKey || event.metaKey || event.altKey || isEditable(event.target)) return;
      const key = event.key.toLowerCase();
      if (key === "m") {
        event.preventDefault();
        if (!event.repeat) controls.setMuted(!controls.muted);
      } else if (key === "v") {
        event.preventDefault();
        const memberId = focusedMember();
        if (!event.repeat && memberId) controls.beginWhisper(memberId);
      }
    };
    const onKeyUp = (event: KeyboardEvent) => {
      if (event.key.toLowerCase() === "v") controls.endWhisper();
    };
    // A whisper must not stay stuck on when the key is released in another window.
    const onBlur = () => controls.endWhisper();
    const onPointer = () => controls.audio?.resume();
    document.addEventListener("keydown", onKeyDown);
    document.addEventListener("keyup", onKeyUp);
    document.addEventListener("pointerdown", onPointer);
    window.addEventListener("blur", onBlur);
    return () => {
      document.removeEventListener("keydown", onKeyDown);
      document.removeEventListener("keyup", onKeyUp);
      document.removeEventListener("pointerdown", onPointer);
      window.removeEventListener("blur", onBlur);
    };
  }, [controls]);
}
