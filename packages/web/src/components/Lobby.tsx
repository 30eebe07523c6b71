import type { Seat } from "@roundtable/client-core";
import { MemberList } from "./MemberList.tsx";

/** Before the host builds the room: who has registered and who is here now. */
export function Lobby({
  title,
  seats,
  selfId,
}: {
  title: string | undefined;
  seats: Seat[];
  selfId: string | undefined;
}) {
  const self = seats.find((s) => s.member.id === selfId);
  const here = seats.filter((s) => s.online).length;
  return (
    <section class="card lobby" data-testid="lobby" aria-labelledby="lobby-title">
      <p class="eyebrow">Lobby</p>
      <h1 id="lobby-title">{title ?? "Conference"}</h1>
      <p class="waiting" role="status">
        <span class="pulse" aria-hidden="true" />
        Waiting for the host to start
      </p>
      <p class="lead">
        {self ? (
          <>
            You are registered as <strong>{self.member.name}</strong>.{" "}
          </>
        ) : null}
        Keep this page open: the table appears here by itself when the host builds the conference.
      </p>
      <h2 class="section-title">
        Registered <span class="count">{seats.length}</span>
        <span class="muted"> · {here} here now</span>
      </h2>
      <MemberList
        testId="lobby-member"
        selfId={selfId}
        members={seats.map((s) => ({ ...s.member, online: s.online }))}
      />
    </section>
  );
}
