import { useEffect, useId, useRef, useState } from "preact/hooks";
import { Icon } from "./Icon.tsx";

/** A read-only link with a copy button and one line on what the link is for. */
export function CopyField({
  label,
  value,
  description,
  testId,
}: {
  label: string;
  value: string;
  description: string;
  testId: string;
}) {
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const [state, setState] = useState<"idle" | "copied" | "manual">("idle");

  useEffect(() => {
    if (state === "idle") return;
    const timer = setTimeout(() => setState("idle"), 2500);
    return () => clearTimeout(timer);
  }, [state]);

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setState("copied");
    } catch {
      // Clipboard access can be refused (permissions, insecure origin): leave the text selected instead.
      input.current?.select();
      setState("manual");
    }
  };

  return (
    <div class="copy-field">
      <label for={id}>{label}</label>
      <p class="hint" id={`${id}-hint`}>
        {description}
      </p>
      <div class="copy-row">
        <input
          ref={input}
          id={id}
          type="text"
          readOnly
          value={value}
          aria-describedby={`${id}-hint`}
          data-testid={testId}
          onFocus={(e) => e.currentTarget.select()}
        />
        <button type="button" class="button button-secondary" onClick={copy}>
          <Icon name={state === "copied" ? "check" : "copy"} />
          {state === "copied" ? "Copied" : "Copy"}
        </button>
      </div>
      <p class="copy-status" aria-live="polite">
        {state === "manual"
          ? "Copying was blocked — the link is selected, press Ctrl+C (⌘C) to copy it."
          : ""}
      </p>
    </div>
  );
}
