import { type CreateConferenceResponse, LIMITS } from "@roundtable/protocol";
import { useState } from "preact/hooks";
import { CopyField } from "../components/CopyField.tsx";
import { Icon } from "../components/Icon.tsx";
import { Notice } from "../components/Notice.tsx";
import { PageShell } from "../components/PageShell.tsx";
import { useDocumentTitle } from "../hooks/useDocumentTitle.ts";
import { api } from "../lib/api.ts";
import { describeError } from "../lib/errors.ts";
import { storeHostToken } from "../lib/storage.ts";

export function HomePage() {
  useDocumentTitle(undefined);
  const [title, setTitle] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [created, setCreated] = useState<CreateConferenceResponse>();

  const create = async (event: Event) => {
    event.preventDefault();
    if (!title.trim()) {
      setError("Give the conference a title, so people know what they are joining.");
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const conference = await api.createConference(title.trim());
      storeHostToken(conference.id, conference.hostToken);
      setCreated(conference);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <PageShell>
      <section class="hero">
        <h1>Meet around one table.</h1>
        <p class="lead">
          No cameras. Everyone picks a name and a picture, takes a seat, and talks to the whole table or to a
          chosen few.
        </p>
      </section>

      <form class="card" onSubmit={create} data-testid="create-form">
        <h2>Create a conference</h2>
        <div class="field">
          <label class="field-label" for="conference-title">
            Title
          </label>
          <input
            id="conference-title"
            type="text"
            value={title}
            maxLength={LIMITS.conferenceTitleMax}
            placeholder="e.g. Monday planning"
            autoComplete="off"
            required
            disabled={busy}
            onInput={(e) => setTitle(e.currentTarget.value)}
            data-testid="conference-title"
          />
        </div>
        {error && <Notice kind="error">{error}</Notice>}
        <button type="submit" class="button button-primary" disabled={busy} data-testid="create-button">
          {busy ? "Creating…" : "Create conference"}
        </button>
      </form>

      {created && (
        <section class="card created" data-testid="created" aria-labelledby="created-title">
          <Notice kind="success">
            <h2 id="created-title">“{created.title}” is ready</h2>
          </Notice>
          <CopyField
            label="Invite link"
            value={created.inviteUrl}
            description="Send this to everyone who should take a seat: they choose a name and a picture there."
            testId="invite-link"
          />
          <CopyField
            label="Host link"
            value={created.hostUrl}
            description="Keep this one private: it shows who has registered and lets you start the conference."
            testId="host-link"
          />
          <a class="button button-primary" href={created.hostUrl} data-testid="open-host">
            <Icon name="external" />
            Open host page
          </a>
        </section>
      )}
    </PageShell>
  );
}
