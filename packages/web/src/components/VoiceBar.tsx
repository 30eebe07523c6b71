import { describeVoiceFailure } from "@roundtable/client-core";
import { useEffect, useRef, useState } from "preact/hooks";
import { listMicrophones, type MicState } from "../audio/microphone.ts";
import { listNames } from "../lib/format.ts";
import type { RoomControls } from "../room/RoomControls.ts";
import { Icon } from "./Icon.tsx";
import { MicCheckPanel } from "./MicCheckPanel.tsx";

const MIC_PROBLEM: Record<Exclude<MicState["kind"], "live" | "pending">, string> = {
  denied:
    "Microphone blocked: you can listen and write, but nobody hears you. To talk, allow the microphone for this site (the icon in the address bar), then try again.",
  missing:
    "No microphone found: you can listen and write, but nobody hears you. Plug one in, then try again.",
  busy: "The microphone could not be opened (another program may be using it). You can still listen and write.",
  unsupported:
    "This page cannot use a microphone (it needs a secure https:// address). You can still listen and write.",
};

/** The browser's microphones, re-read when voice starts, the microphone changes, or a device is plugged in. */
function useMicrophones(active: boolean, micKind: string | undefined): { deviceId: string; label: string }[] {
  const [devices, setDevices] = useState<{ deviceId: string; label: string }[]>([]);
  useEffect(() => {
    if (!active) return;
    let live = true;
    const load = () => {
      listMicrophones().then((list) => {
        if (live) setDevices(list);
      });
    };
    load();
    navigator.mediaDevices?.addEventListener("devicechange", load);
    return () => {
      live = false;
      navigator.mediaDevices?.removeEventListener("devicechange", load);
    };
  }, [active, micKind]);
  return devices;
}

/**
 * Voice controls under the table: join, mute (M), microphone, whom you are talking to, and the
 * settings that shape it. Says plainly when there is no microphone: listening and writing go on.
 */
export function VoiceBar({
  controls,
  nameOf,
}: {
  controls: RoomControls;
  nameOf: (memberId: string) => string;
}) {
  const status = controls.voiceStatus;
  const mic = controls.mic;
  const devices = useMicrophones(status !== "off", mic?.kind);
  // Once voice has worked, losing it (the connection dropped, the peer failed) reads as reconnecting.
  const wasConnected = useRef(false);
  const [checking, setChecking] = useState(false);

  // Failures show through the voice status below; the promise is for scripts and tests.
  const join = () => {
    controls.joinVoice().catch(() => {});
  };

  if (status === "off") {
    wasConnected.current = false;
    return (
      <section class="voice-bar" data-testid="voice-bar" data-voice="off" aria-label="Voice">
        <div class="voice-row">
          <button
            type="button"
            class="button button-primary voice-join"
            data-testid="join-voice"
            onClick={() => {
              setChecking(false);
              join();
            }}
          >
            <Icon name="mic" />
            Join voice
          </button>
          {!checking && (
            <button
              type="button"
              class="button button-ghost button-small"
              data-testid="mic-check-open"
              onClick={() => setChecking(true)}
            >
              Check microphone
            </button>
          )}
          <span class="hint voice-hint">Talk with your voice; the browser asks for your microphone.</span>
        </div>
        {checking && <MicCheckPanel deviceId={controls.deviceId} onClose={() => setChecking(false)} />}
      </section>
    );
  }

  const micLive = mic?.kind === "live";
  const muted = controls.effectiveMuted;
  const target = controls.effectiveTarget;
  const whisper = controls.whisperTo;
  const names = target === "all" ? [] : target.map(nameOf);
  let audience: string;
  if (!micLive) audience = "Listening only";
  else if (whisper) audience = `Whispering to ${nameOf(whisper)} — release V to stop`;
  else if (muted) audience = "Muted — nobody hears you";
  else if (target === "all") audience = "Everyone hears you";
  else audience = `Only ${listNames(names)} ${names.length === 1 ? "hears" : "hear"} you`;
  const problem = mic && mic.kind !== "live" && mic.kind !== "pending" ? MIC_PROBLEM[mic.kind] : undefined;
  const connecting = status === "connecting";
  if (!connecting) wasConnected.current = true;
  const reconnecting = connecting && wasConnected.current;

  return (
    <section
      class={`voice-bar${whisper || (target !== "all" && micLive && !muted) ? " is-private" : ""}`}
      data-testid="voice-bar"
      data-voice={status === "connected" ? "on" : status}
      data-connection={controls.connectionState}
      data-reconnecting={String(reconnecting)}
      aria-label="Voice"
    >
      <div class="voice-row">
        <button
          type="button"
          class={muted || !micLive ? "voice-mic is-muted" : "voice-mic"}
          data-testid="mute-button"
          aria-pressed={muted}
          disabled={!micLive}
          title={muted ? "Unmute (M)" : "Mute (M)"}
          onClick={() => controls.setMuted(!controls.muted)}
        >
          <Icon name={muted || !micLive ? "mic-off" : "mic"} size={18} />
          {/* One name for the toggle; pressed (and red) means muted. */}
          <span class="voice-mic-label">{micLive ? "Mute" : "No mic"}</span>
          <span class="voice-meter" data-voice-meter aria-hidden="true" />
        </button>
        {devices.length > 0 && (
          <label class="voice-device">
            <span class="visually-hidden">Microphone</span>
            <select
              data-testid="mic-select"
              value={mic?.kind === "live" ? mic.deviceId : (controls.deviceId ?? "")}
              onChange={(e) => {
                controls.setDevice(e.currentTarget.value).catch(() => {});
              }}
            >
              {devices.map((d) => (
                <option key={d.deviceId} value={d.deviceId}>
                  {d.label}
                </option>
              ))}
            </select>
          </label>
        )}
        <p class="voice-audience" data-testid="voice-audience" aria-live="polite">
          {connecting ? (
            <>
              <span class="spinner" aria-hidden="true" />
              {reconnecting ? "Reconnecting voice…" : "Connecting voice…"}
            </>
          ) : (
            <>
              <Icon name={whisper || target !== "all" ? "lock" : "users"} size={14} />
              {audience}
            </>
          )}
        </p>
        {status === "connected" && controls.voicePath && (
          <span
            class="voice-path"
            data-testid="voice-path"
            data-path={controls.voicePath}
            title={
              controls.voicePath === "relay"
                ? "This network lets no direct voice through: it goes via the relay (TURN) server"
                : "Voice goes straight to the server"
            }
          >
            {controls.voicePath === "relay" ? "Via relay (TURN)" : "Direct connection"}
          </span>
        )}
        <button
          type="button"
          class="button button-ghost button-small voice-leave"
          data-testid="leave-voice"
          onClick={() => controls.leaveVoice()}
        >
          <Icon name="phone" size={14} />
          Leave voice
        </button>
      </div>
      <div class="voice-settings">
        <label class="voice-toggle" title="Picking seats for a text also picks whom your voice goes to">
          <input
            type="checkbox"
            checked={controls.voiceLinked}
            data-testid="voice-linked"
            onChange={(e) => controls.setVoiceLinked(e.currentTarget.checked)}
          />
          <Icon name="link" size={14} />
          Voice follows picked seats
        </label>
        <label
          class="voice-toggle"
          title="Hear each voice from where its speaker sits (best with headphones)"
        >
          <input
            type="checkbox"
            checked={controls.spatial}
            data-testid="voice-spatial"
            onChange={(e) => controls.setSpatial(e.currentTarget.checked)}
          />
          <Icon name="headphones" size={14} />
          Spatial audio
        </label>
        {micLive && (
          <span class="voice-tip">
            <kbd>M</kbd> mute · hold <kbd>V</kbd> on a focused seat to whisper
          </span>
        )}
      </div>
      {problem && (
        <p class="voice-problem" role="alert" data-testid="mic-problem" data-kind={mic?.kind}>
          <Icon name="alert" size={16} />
          <span>{problem}</span>
          {mic?.kind !== "unsupported" && (
            <button
              type="button"
              class="button button-secondary button-small"
              data-testid="mic-retry"
              onClick={() => {
                controls.retryMicrophone().catch(() => {});
              }}
            >
              Try again
            </button>
          )}
        </p>
      )}
      {status === "failed" && (
        <p
          class="voice-problem"
          role="alert"
          data-testid="voice-error"
          data-kind={controls.voiceFailure?.kind}
        >
          <Icon name="alert" size={16} />
          <span>
            {controls.voiceFailure ? describeVoiceFailure(controls.voiceFailure) : "Voice could not connect."}
          </span>
          <button
            type="button"
            class="button button-secondary button-small"
            data-testid="voice-retry"
            onClick={() => controls.retryVoice()}
          >
            Try again
          </button>
        </p>
      )}
    </section>
  );
}
