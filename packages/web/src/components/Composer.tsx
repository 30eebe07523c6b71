import { LIMITS } from "@roundtable/protocol";
import type { ComponentChildren } from "preact";
import { useId, useRef, useState } from "preact/hooks";
import { describeError } from "../lib/errors.ts";
import { listNames } from "../lib/format.ts";
import { Icon } from "./Icon.tsx";

/**
 * Writes a text to the chosen audience. Enter sends, Shift+Enter starts a new line, Esc goes back
 * to everyone. The box empties at once; if the send fails the text comes back with the reason.
 */
export function Composer({
  recipients,
  onSend,
  onClearTargets,
  children,
}: {
  /** Names of the chosen recipients; empty means everyone. */
  recipients: string[];
  onSend: (text: string) => Promise<unknown>;
  onClearTargets: () => void;
  /** The target picker, shown between the audience line and the text box. */
  children?: ComponentChildren;
}) {
  const id = useId();
  const box = useRef<HTMLTextAreaElement>(null);
  const [text, setText] = useState("");
  const [error, setError] = useState<string>();
  const isPrivate = recipients.length > 0;
  const canSend = text.trim().length > 0 && text.length <= LIMITS.textMax;
  const nearLimit = text.length > LIMITS.textMax * 0.9;

  const send = () => {
    if (!canSend) return;
    const sent = text;
    setText("");
    setError(undefined);
    onSend(sent).catch((e: unknown) => {
      setError(`Not sent: ${describeError(e)}`);
      // Give the words back unless something new has been typed meanwhile.
      setText((current) => (current === "" ? sent : current));
    });
    box.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    } else if (event.key === "Escape" && isPrivate) {
      event.preventDefault();
      onClearTargets();
    }
  };

  return (
    <form
      class={isPrivate ? "composer is-private" : "composer"}
      data-testid="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <p class="composer-to" id={`${id}-to`} data-testid="composer-to" aria-live="polite">
        <Icon name={isPrivate ? "lock" : "users"} size={14} />
        {isPrivate ? `Private to ${listNames(recipients)}` : "To everyone"}
      </p>
      {children}
      <div class="composer-row">
        <textarea
          ref={box}
          class="composer-input"
          rows={2}
          maxLength={LIMITS.textMax}
          value={text}
          placeholder={isPrivate ? `Message ${listNames(recipients)} privately…` : "Message everyone…"}
          aria-label="Message"
          aria-describedby={`${id}-to ${id}-hint`}
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={onKeyDown}
          data-testid="composer-input"
        />
        <button
          type="submit"
          class="button button-primary send-button"
          disabled={!canSend}
          data-testid="send"
        >
          <Icon name="send" />
          Send
        </button>
      </div>
      <div class="composer-meta">
        <span class="hint" id={`${id}-hint`}>
          Enter to send · Shift+Enter for a new line{isPrivate ? " · Esc for everyone" : ""}
        </span>
        <span class={nearLimit ? "counter is-near" : "counter"} aria-live={nearLimit ? "polite" : "off"}>
          {text.length} / {LIMITS.textMax}
        </span>
      </div>
      {error && (
        <p class="field-error" role="alert" data-testid="composer-error">
          {error}
        </p>
      )}
    </form>
  );
}
