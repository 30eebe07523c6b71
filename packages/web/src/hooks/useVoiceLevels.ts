import type { RoomModel } from "@roundtable/client-core";
import { useEffect } from "preact/hooks";
import { levelToDisplay } from "../audio/levels.ts";
import type { RoomControls } from "../room/RoomControls.ts";

/** Rising levels show at once; falling ones fade, so the ring breathes instead of flickering. */
const ATTACK = 0.6;
const RELEASE = 0.86;

/**
 * Drives the level animations once per frame without re-rendering: `--voice-level` (0-1, perceptual)
 * on every seat, from the voice its slot carries (your own seat: your microphone), and on the
 * microphone meter in the voice bar.
 */
export function useVoiceLevels(controls: RoomControls | undefined, room: RoomModel | undefined): void {
  const on = controls !== undefined && controls.voiceStatus !== "off";
  useEffect(() => {
    if (!controls || !room || !on) return;
    const shown = new Map<Element, number>();
    let frame = 0;
    const set = (element: HTMLElement, target: number) => {
      const previous = shown.get(element) ?? 0;
      let next = target > previous ? previous + (target - previous) * ATTACK : previous * RELEASE;
      if (next < 0.01) next = 0;
      if (Math.abs(next - previous) < 0.004 && !(next === 0 && previous !== 0)) return;
      shown.set(element, next);
      element.style.setProperty("--voice-level", next.toFixed(3));
    };
    const tick = () => {
      frame = requestAnimationFrame(tick);
      const engine = controls.audio;
      if (!engine) return;
      const levels = new Map<string, number>();
      room.slots.forEach((memberId, slot) => {
        if (memberId) levels.set(memberId, Math.max(levels.get(memberId) ?? 0, engine.slotLevel(slot)));
      });
      const micLevel = engine.micLevel();
      const mic = levelToDisplay(micLevel);
      if (room.selfId) levels.set(room.selfId, micLevel);
      for (const seat of document.querySelectorAll<HTMLElement>("[data-testid=seat][data-member-id]"))
        set(seat, levelToDisplay(levels.get(seat.dataset.memberId ?? "") ?? 0));
      for (const meter of document.querySelectorAll<HTMLElement>("[data-voice-meter]")) set(meter, mic);
    };
    frame = requestAnimationFrame(tick);
    return () => {
      cancelAnimationFrame(frame);
      for (const element of shown.keys())
        if (element instanceof HTMLElement) element.style.removeProperty("--voice-level");
    };
  }, [controls, room, on]);
}
