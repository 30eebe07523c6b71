import { LIMITS } from "@roundtable/protocol";
import { useState } from "preact/hooks";
import { AvatarPicker } from "../components/AvatarPicker.tsx";
import { Notice } from "../components/Notice.tsx";
import { PageShell } from "../components/PageShell.tsx";
import { ProgressBar } from "../components/ProgressBar.tsx";
import { useConferenceSummary } from "../hooks/useConferenceSummary.ts";
import { useDocumentTitle } from "../hooks/useDocumentTitle.ts";
import { api } from "../lib/api.ts";
import { describeError, errorCode } from "../lib/errors.ts";
import { storedMemberToken, storeMemberToken } from "../lib/storage.ts";

const IMAGE_CODES = new Set(["invalid_image", "image_too_large", "image_too_many_pixels"]);

type Failure = { field: "name" | "avatar" | "form"; message: string };

export function JoinPage({ conferenceId }: { conferenceId: string }) {
  const { summary, error: loadError, loading } = useConferenceSummary(conferenceId);
  useDocumentTitle(summary ? `Join ${summary.title}` : "Join");
  const [name, setName] = useState("");
  const [avatar, setAvatar] = useState<File>();
  const [progress, setProgress] = useState<number>();
  const [failure, setFailure] = useState<Failure>();
  const [existingSeat] = useState(() => storedMemberToken(conferenceId) !== undefined);
  const busy = progress !== undefined;

  if (loading)
    return (
      <PageShell>
        <p class="loading">Loading the invitation…</p>
      </PageShell>
    );
  if (!summary)
    return (
      <PageShell>
        <section class="card">
          <h1>This invitation does not work</h1>
          <Notice kind="error">{describeError(loadError)}</Notice>
        </section>
      </PageShell>
    );

  if (summary.state === "ended")
    return (
      <PageShell>
        <section class="card" data-testid="join-ended">
          <p class="eyebrow">Invitation</p>
          <h1>{summary.title} has ended</h1>
          <p class="lead">The host has ended this conference, so it takes no more registrations.</p>
        </section>
      </PageShell>
    );

  const submit = async (event: Event) => {
    event.preventDefault();
    const trimmed = name.trim();
    const length = [...trimmed].length;
    if (length === 0 || length > LIMITS.memberNameMax) {
      setFailure({
        field: "name",
        message:
          length === 0
            ? "Enter the name others will see at your seat."
            : `Keep the name to ${LIMITS.memberNameMax} characters or fewer.`,
      });
      return;
    }
    setFailure(undefined);
    setProgress(0);
    try {
      const registered = await api.register(
        conferenceId,
        { name: trimmed, avatar, avatarFileName: avatar?.name ?? "avatar" },
        setProgress,
      );
      storeMemberToken(conferenceId, registered.token);
      location.assign(registered.roomUrl);
    } catch (e) {
      setProgress(undefined);
      const code = errorCode(e);
      const field = code === "invalid_name" ? "name" : code && IMAGE_CODES.has(code) ? "avatar" : "form";
      setFailure({ field, message: describeError(e) });
    }
  };

  const nameError = failure?.field === "name" ? failure.message : undefined;
  return (
    <PageShell>
      <form class="card join" onSubmit={submit} data-testid="join-form" noValidate>
        <p class="eyebrow">You are invited to</p>
        <h1 data-testid="conference-title">{summary.title}</h1>
        <p class="lead">
          {summary.state === "built"
            ? "The conference has started — once you register you go straight to the table."
            : "Choose how others will see you. The host starts the conference when everyone is here."}
        </p>
        {existingSeat && (
          <Notice kind="info" testId="existing-seat">
            This browser already has a seat here. <a href={`/c/${conferenceId}`}>Go to your seat</a>, or
            register below as someone else.
          </Notice>
        )}
        <fieldset class="fields" disabled={busy}>
          <legend class="visually-hidden">Your seat</legend>
          <div class="field">
            <label class="field-label" for="member-name">
              Display name
            </label>
            <input
              id="member-name"
              type="text"
              value={name}
              maxLength={LIMITS.memberNameMax}
              autoComplete="nickname"
              required
              aria-invalid={nameError ? true : undefined}
              aria-describedby={nameError ? "member-name-error" : undefined}
              onInput={(e) => {
                setName(e.currentTarget.value);
                if (failure?.field === "name") setFailure(undefined);
              }}
              data-testid="member-name"
            />
            {nameError && (
              <p class="field-error" id="member-name-error" role="alert">
                {nameError}
              </p>
            )}
          </div>
          <AvatarPicker
            file={avatar}
            name={name}
            onChange={(file) => {
              setAvatar(file);
              if (failure?.field === "avatar") setFailure(undefined);
            }}
            serverError={failure?.field === "avatar" ? failure.message : undefined}
            disabled={busy}
          />
        </fieldset>
        {failure?.field === "form" && <Notice kind="error">{failure.message}</Notice>}
        {progress !== undefined && (
          <ProgressBar
            fraction={progress}
            label={
              progress < 1 ? (avatar ? "Uploading your picture" : "Registering") : "Setting up your seat"
            }
          />
        )}
        <button type="submit" class="button button-primary" disabled={busy} data-testid="join-button">
          {busy ? "Joining…" : "Take a seat"}
        </button>
      </form>
    </PageShell>
  );
}
