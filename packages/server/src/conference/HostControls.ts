import type { Store } from "../store/Store.ts";
import type { Conference } from "./Conference.ts";
import type { ConferenceService } from "./ConferenceService.ts";
import { RoundtableError } from "./errors.ts";
import type { Clock } from "./ports.ts";
import type { MemberChange } from "./records.ts";

/**
 * What the host (and for muting, a co-host) may do to a conference and its members: mute one or
 * everyone, remove, lock registration, make a co-host. Each change is made in the store first (so
 * every node agrees), then applied on this node and announced to the others; each node enforces it
 * for the members connected there (voice not forwarded, sockets closed, registrations refused).
 */
export class HostControls {
  constructor(
    private readonly conferences: ConferenceService,
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** Host-mutes or lifts it (host or co-host). The host's powers cannot be turned on a co-host by a co-host. */
  async mute(
    conferenceId: string,
    memberId: string,
    muted: boolean,
    bearer: string | undefined,
  ): Promise<void> {
    const conference = await this.conferences.conference(conferenceId);
    const actor = await this.conferences.authorizeHost(conference, bearer, true);
    const member = this.requireMember(conference.member(memberId));
    if (actor !== undefined && member.role === "co-host" && actor !== memberId)
      throw new RoundtableError("forbidden", "a co-host cannot mute another co-host");
    await this.change(conference, memberId, { hostMuted: muted });
  }

  /** Host-mutes every member but the co-hosts (the host holds no seat of their own yet). */
  async muteAll(conferenceId: string, bearer: string | undefined): Promise<number> {
    const conference = await this.conferences.conference(conferenceId);
    await this.conferences.authorizeHost(conference, bearer);
    conference.assertNotEnded();
    const changed = await this.store.muteAll(conferenceId, conference.coHostIds());
    for (const member of changed) this.conferences.memberChanged(conference, member);
    return changed.length;
  }

  /** Removes a member for good: their token is refused from now on, on every node; their texts stay. */
  async remove(conferenceId: string, memberId: string, bearer: string | undefined): Promise<void> {
    const conference = await this.conferences.conference(conferenceId);
    await this.conferences.authorizeHost(conference, bearer);
    if (conference.isRemoved(memberId)) return;
    this.requireMember(conference.member(memberId));
    await this.change(conference, memberId, { removedAt: this.clock.now() });
  }

  async lock(conferenceId: string, locked: boolean, bearer: string | undefined): Promise<void> {
    const conference = await this.conferences.conference(conferenceId);
    await this.conferences.authorizeHost(conference, bearer);
    conference.assertNotEnded();
    await this.store.setLocked(conferenceId, locked);
    this.conferences.lockChanged(conference, locked);
  }

  async addCoHost(conferenceId: string, memberId: string, bearer: string | undefined): Promise<void> {
    const conference = await this.conferences.conference(conferenceId);
    await this.conferences.authorizeHost(conference, bearer);
    this.requireMember(conference.member(memberId));
    await this.change(conference, memberId, { role: "co-host" });
  }

  private async change(conference: Conference, memberId: string, change: MemberChange): Promise<void> {
    conference.assertNotEnded();
    const member = await this.store.updateMember(conference.id, memberId, change);
    if (!member) throw new RoundtableError("not_found", "no such member");
    this.conferences.memberChanged(conference, member);
  }

  private requireMember<T>(member: T | undefined): T {
    if (!member) throw new RoundtableError("not_found", "no such member in this conference");
    return member;
  }
}
