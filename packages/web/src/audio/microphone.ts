/** Where the microphone stands: live, or why there is none (voice still works for listening). */
export type MicState =
  | { kind: "pending" }
  | { kind: "live"; deviceId: string; label: string }
  /** The person (or the browser's settings) refused access. */
  | { kind: "denied" }
  /** No microphone is plugged in, or the chosen one disappeared. */
  | { kind: "missing" }
  /** Another program holds the microphone, or the system failed to open it. */
  | { kind: "busy" }
  /** No getUserMedia at all: an insecure (non-HTTPS) page or a very old browser. */
  | { kind: "unsupported" };

export function micProblem(error: unknown): MicState {
  const name = error instanceof DOMException || error instanceof Error ? error.name : "";
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
      return { kind: "denied" };
    case "NotFoundError":
    case "OverconstrainedError":
      return { kind: "missing" };
    default:
      return { kind: "busy" };
  }
}

/** The browser's microphones; labels stay empty until the page may use one. */
export async function listMicrophones(): Promise<{ deviceId: string; label: string }[]> {
  if (!navigator.mediaDevices?.enumerateDevices) return [];
  const devices = await navigator.mediaDevices.enumerateDevices().catch(() => []);
  return devices
    .filter((d) => d.kind === "audioinput" && d.deviceId !== "")
    .map((d, i) => ({ deviceId: d.deviceId, label: d.label || `Microphone ${i + 1}` }));
}
