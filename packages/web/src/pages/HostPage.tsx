import { useState } from "preact/hooks";
import { CopyField } from "../components/CopyField.tsx";
import { MemberList } from "../components/MemberList.tsx";
import { Notice } from "../components/Notice.tsx";
import { PageShell } from "../components/PageShell.tsx";
import { useConferenceSummary } from "../hooks/useConferenceSummary.ts";
import { useDocumentTitle } from "../hooks/useDocumentTitle.ts";
import { useHostToken } from "../hooks/useHostToken.ts";
import { api } from "../lib/api.ts";
import { describeError, errorStatus } from "../lib/errors.ts";
import { joinUrl } from "../lib/route.ts";

const POLL_MS = 2000;

function buildErrorMessage(error: unknown): string {
  const status = errorStatus(error);
  if (status === 401)
    return "This host link is not valid for this conference. Use the exact link you got when you created it.";
  if (status === 403)
    return "That link belongs to a member, not to the host. Only the host link can build the conference.";
  return describeError(error);
}

function endErrorMessage(error: unknown): string {
  const status = errorStatus(error);
  if (status === 401 || status === 403)
    return "Only the host link can end the conference. Use the exact link you got when you created it.";
  return describeError(error);
}

export function HostPage({ conferenceId }: { conferenceId: string }) {
  const hostToken = useHostToken(conferenceId);
  const { summary, error: loadError, loading } = useConferenceSummary(conferenceId, POLL_MS);
  const [building, setBuilding] = useState(false);
  const [failure, setFailure] = useState<{ key: string; message: string }>();
  const [builtHere, setBuiltHere] = useState(false);
  const [ending, setEnding] = useState<"idle" | "confirm" | "busy">("idle");
  const [endedHere, setEndedHere] = useState(false);
  const [endError, setEndError] = useState<string>();
  useDocumentTitle(summary ? `Host · ${summary.title}` : "Host");

  // A built conference stays built: the next poll confirming it should not flip the button back.
  const ended = endedHere || summary?.state === "ended";
  const built = builtHere || summary?.state === "built" || ended;
  // An error about one key says nothing about another one pasted since, nor about a built conference.
  const buildError = failure && failure.key === hostToken && !built ? failure.message : undefined;

  if (loading)
    return (
      <PageShell>
        <p class="loading">Loading the conference…</p>
      </PageShell>
    );
  if (!summary)
    return (
      <PageShell>
        <section class="card">
          <h1>This conference could not be loaded</h1>
          <Notice kind="error">{describeError(loadError)}</Notice>
        </section>
      </PageShell>
    );

  const build = async () => {
    if (!hostToken) return;
    setBuilding(true);
    setFailure(undefined);
    try {
      await api.build(conferenceId, hostToken);
      setBuiltHere(true);
    } catch (e) {
      setFailure({ key: hostToken, message: buildErrorMessage(e) });
    } finally {
      setBuilding(false);
    }
  };

  const end = async () => {
    if (!hostToken) return;
    if (ending === "idle") return setEnding("confirm");
    setEnding("busy");
    setEndError(undefined);
    try {
      await api.end(conferenceId, hostToken);
      setEndedHere(true);
    } catch (e) {
      setEndError(endErrorMessage(e));
    } finally {
      setEnding("idle");
    }
  };

  const count = summary.members.length;
  return (
    <PageShell>
      <section
        class="card host"
        aria-labelledby="host-title"
        data-testid="host-page"
        data-state={summary.state}
      >
        <p class="eyebrow">Host</p>
        <h1 id="host-title">{summary.title}</h1>
        <CopyField
          label="Invite link"
          value={joinUrl(conferenceId)}
          description="Share it with everyone who should take a seat. To sit at the table yourself, register through it too."
          testId="invite-link"
        />
        {!hostToken && (
          <Notice kind="error">
            This page was opened without its host key. Open the full host link you got when you created the
            conference.
          </Notice>
        )}
        {loadError !== undefined && <Notice kind="info">Could not refresh the list; retrying…</Notice>}
      </section>

      <section class="card" aria-labelledby="members-title">
        <h2 id="members-title" class="section-title">
          Registered{" "}
          <span class="count" data-testid="member-count">
            {count}
          </span>
        </h2>
        <MemberList
          testId="host-member"
          members={summary.members.map((m) => ({
            id: m.id,
            name: m.name,
            avatar: { url: m.avatarUrl, color: "var(--surface-2)" },
          }))}
        />
      </section>

      <section class="card build" aria-labelledby="build-title">
        <h2 id="build-title">{built ? "The room is open" : "Start the conference"}</h2>
        <p class="lead">
          {built
            ? "Everyone registered is at the table. People who register from now on go straight to the room."
            : count === 0
              ? "Nobody has registered yet. You can still build now; latecomers join the room directly."
              : `Building seats the ${count} registered ${count === 1 ? "member" : "members"} around the table and opens the room for everyone.`}
        </p>
        {buildError && <Notice kind="error">{buildError}</Notice>}
        <button
          type="button"
          class="button button-primary"
          onClick={build}
          disabled={built || building || !hostToken}
          data-testid="build-button"
        >
          {built ? "Conference built" : building ? "Building…" : "Build the conference"}
        </button>
      </section>

      <section class="card end" aria-labelledby="end-title" data-testid="end-section">
        <h2 id="end-title">{ended ? "The conference has ended" : "End the conference"}</h2>
        <p class="lead">
          {ended
            ? "Everyone has left the room and nobody can join or register any more."
            : "Ending closes the room for everyone at once: voices stop, nobody can write, join or register. This cannot be undone."}
        </p>
        {endError && <Notice kind="error">{endError}</Notice>}
        {!ended && (
          <div class="button-row">
            <button
              type="button"
              class={`button ${ending === "confirm" ? "button-danger" : "button-secondary"}`}
              onClick={end}
              disabled={ending === "busy" || !hostToken}
              data-testid="end-button"
            >
              {ending === "confirm"
                ? "Yes, end it for everyone"
                : ending === "busy"
                  ? "Ending…"
                  : "End the conference"}
            </button>
            {ending === "confirm" && (
              <button type="button" class="button button-secondary" onClick={() => setEnding("idle")}>
                Keep it going
              </button>
            )}
          </div>
        )}
      </section>
    </PageShell>
  );
}
