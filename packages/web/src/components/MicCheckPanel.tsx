import { useEffect, useRef, useState } from "preact/hooks";
import { levelToDisplay } from "../audio/levels.ts";
import { MicCheck } from "../audio/MicCheck.ts";
import type { MicState } from "../audio/microphone.ts";
import { Icon } from "./Icon.tsx";

const RECORD_MS = 3000;

type Phase = "opening" | "ready" | "recording" | "playing" | "problem";

const PROBLEM: Record<Exclude<MicState["kind"], "live" | "pending">, string> = {
  denied:
    "The browser blocks the microphone for this site: allow it (the icon in the address bar), then try again.",
  missing: "No microphone found. Plug one in, then try again.",
  busy: "The microphone could not be opened; another program may be using it.",
  unsupported: "This page cannot use a microphone (it needs a secure https:// address).",
};

/**
 * Before joining voice: a live level meter of the microphone, and three seconds recorded and played
 * back, so a member hears how they will sound (with the same echo cancellation and noise
 * suppression as in voice). Nothing is sent anywhere.
 */
export function MicCheckPanel({ deviceId, onClose }: { deviceId: string | undefined; onClose: () => void }) {
  const [phase, setPhase] = useState<Phase>("opening");
  const [problem, setProblem] = useState<string>();
  const [playback, setPlayback] = useState<string>();
  const [left, setLeft] = useState(0);
  const check = useRef<MicCheck>();
  const meter = useRef<HTMLSpanElement>(null);

  useEffect(() => {
    const mic = new MicCheck();
    check.current = mic;
    let frame = 0;
    mic.open(deviceId).then((state) => {
      if (state.kind !== "live") {
        setProblem(PROBLEM[state.kind === "pending" ? "busy" : state.kind]);
        setPhase("problem");
        return;
      }
      setPhase("ready");
      const tick = () => {
        frame = requestAnimationFrame(tick);
        const level = mic.level();
        const element = meter.current;
        if (!element) return;
        element.style.setProperty("--voice-level", levelToDisplay(level).toFixed(3));
        element.dataset.level = level.toFixed(4);
      };
      frame = requestAnimationFrame(tick);
    });
    return () => {
      cancelAnimationFrame(frame);
      mic.close();
    };
  }, [deviceId]);

  useEffect(() => () => (playback ? URL.revokeObjectURL(playback) : undefined), [playback]);

  const record = () => {
    const mic = check.current;
    if (!mic) return;
    setPlayback(undefined);
    setPhase("recording");
    setLeft(RECORD_MS / 1000);
    const countdown = setInterval(() => setLeft((s) => Math.max(0, s - 1)), 1000);
    mic
      .record(RECORD_MS)
      .then((url) => {
        setPlayback(url);
        setPhase("playing");
      })
      .catch((error: Error) => {
        setProblem(error.message);
        setPhase("problem");
      })
      .finally(() => clearInterval(countdown));
  };

  return (
    <section class="mic-check" data-testid="mic-check" data-phase={phase} aria-label="Microphone check">
      <div class="mic-check-row">
        <Icon name="mic" size={18} />
        <span class="mic-check-meter" aria-hidden="true">
          <span class="voice-meter" ref={meter} data-testid="mic-check-level" data-level="0" />
        </span>
        <button
          type="button"
          class="button button-secondary button-small"
          data-testid="mic-check-record"
          disabled={phase !== "ready" && phase !== "playing"}
          onClick={record}
        >
          {phase === "recording" ? `Recording… ${left} s` : "Record 3 s and play it back"}
        </button>
        <button
          type="button"
          class="button button-ghost button-small"
          data-testid="mic-check-close"
          onClick={onClose}
        >
          Done
        </button>
      </div>
      <p class="hint" aria-live="polite">
        {phase === "opening" && "Opening the microphone…"}
        {phase === "ready" && "Speak: the bar moves with your voice."}
        {phase === "recording" && "Say a few words…"}
        {phase === "playing" && "This is how the others will hear you."}
        {phase === "problem" && problem}
      </p>
      {playback && (
        // biome-ignore lint/a11y/useMediaCaption: a recording of the member's own voice; there is nothing to caption
        <audio src={playback} controls autoplay data-testid="mic-check-playback" />
      )}
    </section>
  );
}
