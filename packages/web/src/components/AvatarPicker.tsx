import { LIMITS } from "@roundtable/protocol";
import { useId, useState } from "preact/hooks";
import { useObjectUrl } from "../hooks/useObjectUrl.ts";
import { Icon } from "./Icon.tsx";
import { InitialsAvatar } from "./InitialsAvatar.tsx";

export const AVATAR_TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif"];
const MB = LIMITS.avatarFileMax / 1024 / 1024;

/** Checks a picked file as the server would, so a wrong file is refused before any upload. */
export function avatarProblem(file: File): string | undefined {
  if (!AVATAR_TYPES.includes(file.type))
    return `“${file.name}” is not a PNG, JPEG, WebP or GIF picture. Please choose one of those.`;
  if (file.size > LIMITS.avatarFileMax)
    return `“${file.name}” is ${(file.size / 1024 / 1024).toFixed(1)} MB; the limit is ${MB} MB. Please choose a smaller picture.`;
  if (file.size === 0) return `“${file.name}” is empty. Please choose another picture.`;
  return undefined;
}

/**
 * Picks the avatar and previews it. Without a picture it previews the initials the server will
 * draw. `error` comes from the server (e.g. an image it could not decode) and shows like a local one.
 */
export function AvatarPicker({
  file,
  name,
  onChange,
  serverError,
  disabled,
}: {
  file: File | undefined;
  name: string;
  onChange: (file: File | undefined) => void;
  serverError: string | undefined;
  disabled: boolean;
}) {
  const id = useId();
  const preview = useObjectUrl(file);
  const [localError, setLocalError] = useState<string>();
  const error = localError ?? serverError;

  const pick = (event: Event) => {
    const input = event.currentTarget as HTMLInputElement;
    const picked = input.files?.[0];
    // Clearing the input lets the same file be picked again after fixing it elsewhere.
    input.value = "";
    if (!picked) return;
    const problem = avatarProblem(picked);
    setLocalError(problem);
    if (!problem) onChange(picked);
  };

  const remove = () => {
    setLocalError(undefined);
    onChange(undefined);
  };

  return (
    <div class="avatar-picker">
      <div class="avatar-preview" aria-live="polite">
        {file && preview ? (
          <img
            class="avatar avatar-xl"
            src={preview}
            alt="Preview of your avatar"
            data-testid="avatar-preview"
          />
        ) : (
          <InitialsAvatar name={name} class="avatar-xl" />
        )}
      </div>
      <div class="avatar-controls">
        <label class="field-label" for={id}>
          Picture <span class="optional">(optional)</span>
        </label>
        <input
          id={id}
          class="file-input"
          type="file"
          accept={AVATAR_TYPES.join(",")}
          onChange={pick}
          disabled={disabled}
          aria-describedby={`${id}-hint${error ? ` ${id}-error` : ""}`}
          aria-invalid={error ? true : undefined}
          data-testid="avatar-input"
        />
        <p class="hint" id={`${id}-hint`}>
          {file
            ? `${file.name} · ${formatSize(file.size)}`
            : `PNG, JPEG, WebP or GIF, up to ${MB} MB. Without one you get your initials on a colour.`}
        </p>
        {file && (
          <button type="button" class="button button-ghost button-small" onClick={remove} disabled={disabled}>
            <Icon name="close" />
            Use initials instead
          </button>
        )}
        {error && (
          <p class="field-error" id={`${id}-error`} role="alert" data-testid="avatar-error">
            {error}
          </p>
        )}
      </div>
    </div>
  );
}

function formatSize(bytes: number): string {
  return bytes < 1024 * 1024
    ? `${Math.max(1, Math.round(bytes / 1024))} KB`
    : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
