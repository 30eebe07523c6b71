import type { ConnectionStatus } from "@roundtable/client-core";
import type { MemberInfo } from "@roundtable/protocol";
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import { ChatLog } from "../components/ChatLog.tsx";
import { Composer } from "../components/Composer.tsx";
import { Lobby } from "../components/Lobby.tsx";
import { Notice } from "../components/Notice.tsx";
import { BrandMark, PageShell } from "../components/PageShell.tsx";
import { StatusBanner } from "../components/StatusBanner.tsx";
import { Table } from "../components/Table.tsx";
import { TargetPicker } from "../components/TargetPicker.tsx";
import { VoiceBar } from "../components/VoiceBar.tsx";
import { useConferenceClient } from "../hooks/useConferenceClient.ts";
import { useDocumentTitle } from "../hooks/useDocumentTitle.ts";
import { useRoom } from "../hooks/useRoom.ts";
import { useRoomControls } from "../hooks/useRoomControls.ts";
import { useVoiceKeys } from "../hooks/useVoiceKeys.ts";
import { useVoiceLevels } from "../hooks/useVoiceLevels.ts";
import { listNames } from "../lib/format.ts";
import { joinPath } from "../lib/route.ts";
import { storedMemberToken, storeMemberToken } from "../lib/storage.ts";

const STATUS_LABEL: Record<ConnectionStatus, string> = {
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  refused: "Not admitted",
  ended: "Ended",
  outdated: "Reload needed",
  removed: "Removed",
  closed: "Disconnected",
};

/** The link's token wins (it may be a different seat than the one remembered); otherwise the remembered one. */
function memberTokenFor(conferenceId: string): string | undefined {
  const fromLink = new URLSearchParams(location.search).get("token") ?? undefined;
  if (fromLink) {
    storeMemberToken(conferenceId, fromLink);
    return fromLink;
  }
  return storedMemberToken(conferenceId);
}

const NO_SELECTION: ReadonlySet<string> = new Set();

export function RoomPage({ conferenceId }: { conferenceId: string }) {
  const [token] = useState(() => memberTokenFor(conferenceId));
  const { client, status, pending, nextRetryAt, retryNow, problem, dismissProblem } = useConferenceClient(
    conferenceId,
    token,
  );
  const controls = useRoomControls(client);
  const view = useRoom(client?.room);
  useDocumentTitle(view.title);

  useVoiceKeys(controls);
  useVoiceLevels(controls, client?.room);

  // The picked recipients live in the controls: while voice follows them, they are its target too.
  const selected = controls?.selection ?? NO_SELECTION;
  const toggle = useCallback((memberId: string) => controls?.toggleRecipient(memberId), [controls]);
  const clear = useCallback(() => controls?.clearRecipients(), [controls]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape" && !event.defaultPrevented) clear();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [clear]);

  const members = useMemo(() => new Map(view.seats.map((s) => [s.member.id, s.member])), [view.seats]);
  const memberOf = useCallback((id: string): MemberInfo | undefined => members.get(id), [members]);

  if (!token)
    return (
      <PageShell>
        <section class="card">
          <h1>You do not have a seat here yet</h1>
          <p class="lead">
            This browser has no seat in this conference. Register through the invitation to get one, or open
            the personal room link you were given when you registered.
          </p>
          <a class="button button-primary" href={joinPath(conferenceId)}>
            Register
          </a>
        </section>
      </PageShell>
    );

  if (view.phase === "ended" || status === "ended")
    return (
      <PageShell>
        <section class="card" data-testid="conference-ended">
          <h1>{view.title ? `${view.title} has ended` : "This conference has ended"}</h1>
          <p class="lead">
            The host ended the conference. Thank you for taking part; the room is closed and nobody can hear
            or write to it any more.
          </p>
          <a class="button button-primary" href="/">
            Start a new conference
          </a>
        </section>
      </PageShell>
    );

  // The lobby and the room show the same banner.
  const banner = (
    <StatusBanner
      status={status}
      conferenceId={conferenceId}
      nextRetryAt={nextRetryAt}
      closeCode={client?.lastCloseCode}
      onRetry={retryNow}
    />
  );

  if (view.phase !== "room")
    return (
      <PageShell>
        {banner}
        {view.phase === "lobby" ? (
          <Lobby title={view.title} seats={view.seats} selfId={view.selfId} />
        ) : status === "refused" || status === "outdated" || status === "removed" ? null : (
          <p class="loading" role="status">
            <span class="spinner" aria-hidden="true" />
            Connecting to the conference…
          </p>
        )}
      </PageShell>
    );

  const others = view.seats.filter((s) => s.member.id !== view.selfId).map((s) => s.member);
  const recipientIds = [...selected].filter((id) => members.has(id) && id !== view.selfId);
  const recipients = recipientIds.map((id) => members.get(id)?.name ?? "someone");
  const self = view.selfId ? members.get(view.selfId) : undefined;

  const nameOf = (id: string) => members.get(id)?.name ?? "someone";
  const voiceOn = controls !== undefined && controls.voiceStatus !== "off";
  const voiceTarget = controls?.effectiveTarget ?? "all";
  const talkingTo =
    voiceOn && voiceTarget !== "all" && controls?.mic?.kind === "live" && !controls.effectiveMuted
      ? listNames(voiceTarget.map(nameOf))
      : undefined;

  const send = (text: string) => {
    if (!controls) return Promise.reject(new Error("not connected yet"));
    return controls.sendText(recipientIds.length > 0 ? recipientIds : "all", text);
  };

  return (
    <div class="room" data-testid="room" data-member-id={view.selfId}>
      <header class="room-header">
        <a class="brand" href="/" aria-label="Roundtable home">
          <BrandMark />
        </a>
        <h1 class="room-title">{view.title}</h1>
        <p class="room-self">
          {self ? (
            <span class="room-self-name">
              You are <strong>{self.name}</strong>
            </span>
          ) : null}
          <span class={`status-chip status-${status}`} data-testid="connection-status">
            {STATUS_LABEL[status]}
          </span>
        </p>
      </header>
      {banner}
      <section class="stage" aria-label="Table">
        <Table
          title={view.title ?? ""}
          seats={view.seats}
          selfId={view.selfId}
          selected={selected}
          onToggle={toggle}
          talkingTo={talkingTo}
        />
      </section>
      {controls && <VoiceBar controls={controls} nameOf={nameOf} />}
      <Composer recipients={recipients} onSend={send} onClearTargets={clear}>
        {others.length > 0 && (
          <TargetPicker members={others} selected={selected} onToggle={toggle} onEveryone={clear} />
        )}
      </Composer>
      <aside class="side">
        {problem && (
          <Notice kind="error" testId="room-problem">
            {problem}{" "}
            <button type="button" class="button button-ghost button-small" onClick={dismissProblem}>
              Dismiss
            </button>
          </Notice>
        )}
        <ChatLog entries={view.chat} selfId={view.selfId} memberOf={memberOf} pending={pending} />
      </aside>
    </div>
  );
}
