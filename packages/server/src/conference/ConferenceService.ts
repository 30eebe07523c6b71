import {
  CLOSE_CODES,
  type ConferenceSummary,
  PROTOCOL_VERSION,
  type SendTextMessage,
  type ServerMessage,
  type TextMessage,
} from "@roundtable/protocol";
import { RateLimiter } from "../limits/TokenBucket.ts";
import type { Store } from "../store/Store.ts";
import { avatarUrl, Conference } from "./Conference.ts";
import { encode } from "./encode.ts";
import { RoundtableError, refusals } from "./errors.ts";
import { hashToken, tokenMatches } from "./ids.ts";
import {
  type AvatarStore,
  type Clock,
  type ClusterBus,
  type ClusterEvent,
  type IdSource,
  type MemberConnection,
  type NormalisedAvatar,
  type Scheduler,
  singleNode,
} from "./ports.ts";
import type { MemberRecord } from "./records.ts";
import { TextLog } from "./TextLog.ts";
import { TextSequencer } from "./TextSequencer.ts";
import { validName, validTitle } from "./validate.ts";

export interface ConferenceLimits {
  /** Conferences open at once (not ended): abandoned ones count until their host ends them. */
  conferences: number;
  membersPerConference: number;
  connectionsPerMember: number;
  /** Texts a member may send at once, then `textsPerSecond` on average. */
  textBurst: number;
  textsPerSecond: number;
  /** Presence changes within this window go out as one message (joins come in bursts). */
  presenceBatchMs: number;
  /**
   * A conference nobody is connected to here for this long is dropped from memory (the store has
   * it); 0 keeps every conference while the process runs.
   */
  idleForgetMs: number;
}

export const DEFAULT_CONFERENCE_LIMITS: ConferenceLimits = {
  conferences: 10_000,
  membersPerConference: 5000,
  connectionsPerMember: 5,
  textBurst: 20,
  textsPerSecond: 5,
  presenceBatchMs: 50,
  idleForgetMs: 30_000,
};

export interface ConferenceServiceDeps {
  store: Store;
  avatars: AvatarStore;
  clock: Clock;
  ids: IdSource;
  scheduler: Scheduler;
  limits?: Partial<ConferenceLimits>;
  /** The other nodes of a cluster; none by default. */
  bus?: ClusterBus;
  /** This node's name in the cluster. */
  nodeId?: string;
}

/** How often a node tells the others its whole list of connected members (ms); 3 missed: gone. */
const PRESENCE_HEARTBEAT_MS = 5_000;

interface PendingPresence {
  online: Set<string>;
  offline: Set<string>;
  cancel: () => void;
}

/**
 * The conference domain: creating conferences, registering members, building, presence and text.
 * No HTTP, WebSocket or database here: those are adapters handed in as ports.
 */
export class ConferenceService {
  private readonly store: Store;
  private readonly avatars: AvatarStore;
  private readonly clock: Clock;
  private readonly ids: IdSource;
  private readonly scheduler: Scheduler;
  readonly limits: ConferenceLimits;
  private readonly loaded = new Map<string, Promise<Conference>>();
  private readonly bus: ClusterBus;
  private readonly nodeId: string;
  /** The cancel of the next presence heartbeat; running while the node is in a cluster. */
  private heartbeat: (() => void) | undefined;
  /** Per conference held here, the end of its subscription to the other nodes' events. */
  private readonly subscriptions = new Map<string, () => void>();
  /** Per member connected here (conference/member), the end of their subscription to whispers. */
  private readonly memberSubscriptions = new Map<string, () => void>();
  /** Per conference without local connections, the cancel of its scheduled forgetting. */
  private readonly idle = new Map<string, () => void>();
  /**
   * Registrations of one conference on this node run one after another, so its members hear of new
   * seats in seat order and an idle conference is not forgotten mid-registration. (The store, not
   * this queue, keeps seats unique and dense across nodes.)
   */
  private readonly registrationQueues = new Map<string, Promise<unknown>>();
  private readonly pendingPresence = new Map<string, PendingPresence>();
  private readonly texts: TextLog;
  /** Told when a voice at another node goes on or off for listening here (`audible`: on and unmuted). */
  private readonly memberChangeListeners = new Set<(conferenceId: string, member: MemberRecord) => void>();
  private readonly remoteVoiceListeners = new Set<
    (conferenceId: string, memberId: string, audible: boolean) => void
  >();

  constructor(deps: ConferenceServiceDeps) {
    this.store = deps.store;
    this.avatars = deps.avatars;
    this.clock = deps.clock;
    this.ids = deps.ids;
    this.scheduler = deps.scheduler;
    this.bus = deps.bus ?? singleNode;
    this.nodeId = deps.nodeId ?? "local";
    this.limits = { ...DEFAULT_CONFERENCE_LIMITS, ...deps.limits };
    this.texts = new TextLog(
      this.store,
      this.clock,
      this.ids,
      new RateLimiter(this.limits.textBurst, this.limits.textsPerSecond, this.clock),
      this.bus,
    );
  }

  // ------------------------------------------------------------ lifecycle

  async createConference(rawTitle: unknown): Promise<{ id: string; title: string; hostToken: string }> {
    const title = validTitle(rawTitle);
    if ((await this.store.countOpenConferences()) >= this.limits.conferences)
      throw new RoundtableError("server_full", "this server has as many open conferences as it can take");
    const id = this.ids.id();
    const hostToken = this.ids.token();
    await this.store.createConference({
      id,
      title,
      hostTokenHash: hashToken(hostToken),
      state: "registering",
      createdAt: this.clock.now(),
      builtAt: null,
      endedAt: null,
      locked: false,
    });
    return { id, title, hostToken };
  }

  /** Conferences held in memory (for tests and metrics). */
  get loadedCount(): number {
    return this.loaded.size;
  }

  /** Texts stored through this node. */
  get textsStored(): number {
    return this.texts.stored;
  }

  /** What this node holds now: conferences, their members, and those connected here (metrics). */
  async held(): Promise<{ conferences: number; members: number; connected: number }> {
    const held = { conferences: 0, members: 0, connected: 0 };
    for (const result of await Promise.allSettled(this.loaded.values())) {
      if (result.status !== "fulfilled") continue;
      held.conferences++;
      held.members += result.value.memberCount;
      held.connected += result.value.localOnlineIds().length;
    }
    return held;
  }

  /** Whether the store answers a query now (metrics; never throws). */
  async storeHealthy(): Promise<boolean> {
    try {
      await this.store.countOpenConferences();
      return true;
    } catch {
      return false;
    }
  }

  /** The conference, loaded from the store once and kept in memory until it ends. */
  async conference(id: string): Promise<Conference> {
    let pending = this.loaded.get(id);
    if (!pending) {
      // Subscribed before reading the store: an event published meanwhile is applied once the
      // conference is loaded (events are idempotent), never lost between the read and the subscribe.
      const unsubscribe = this.bus.subscribe(id, (event) => this.fromOtherNode(id, event));
      pending = this.loadConference(id);
      this.loaded.set(id, pending);
      this.subscriptions.set(id, unsubscribe);
      // Who is connected elsewhere: the others answer with their whole lists.
      this.bus.publish(id, { kind: "roll-call" });
      this.startHeartbeat();
      // An ended conference is read, never changed: it is loaded for each read instead of kept.
      pending.then(
        (c) => c.isEnded && this.forget(id),
        () => this.forget(id),
      );
    }
    return pending;
  }

  private forget(id: string): void {
    this.cancelIdle(id);
    this.loaded.get(id)?.then(
      (conference) => conference.sequencer?.close(),
      () => {},
    );
    this.loaded.delete(id);
    this.subscriptions.get(id)?.();
    this.subscriptions.delete(id);
  }

  /**
   * A node holds a conference while someone is connected to it here: once the last local connection
   * has been gone for `idleForgetMs` (and no registration is under way), it is dropped from memory
   * and unsubscribed from the other nodes. The next use reads it from the store again.
   */
  private forgetWhenIdle(conference: Conference): void {
    const { id } = conference;
    if (this.idle.has(id) || this.limits.idleForgetMs === 0) return;
    const cancel = this.scheduler.schedule(() => {
      this.idle.delete(id);
      if (conference.hasConnections || this.registrationQueues.has(id)) return;
      this.forget(id);
    }, this.limits.idleForgetMs);
    this.idle.set(id, cancel);
  }

  private cancelIdle(id: string): void {
    this.idle.get(id)?.();
    this.idle.delete(id);
  }

  /** Another node changed a conference this node holds: apply it here and tell the local members. */
  private fromOtherNode(id: string, event: ClusterEvent): void {
    this.loaded.get(id)?.then(
      (conference) => {
        if (event.kind === "member-added") this.learnMember(conference, event.member);
        else if (event.kind === "member-changed") this.applyMemberChange(conference, event.member);
        else if (event.kind === "locked") this.applyLocked(conference, event.locked);
        else if (event.kind === "built") this.applyBuilt(conference, event.builtAt);
        else if (event.kind === "ended") this.applyEnded(conference, event.endedAt);
        else if (event.kind === "text") conference.sequencer.text(event.message);
        else if (event.kind === "text-skip") conference.sequencer.skip(event.seq);
        else if (event.kind === "voice-state") {
          if (conference.remoteVoices.apply(event)) this.remoteVoiceChanged(conference, event.memberId);
        } else if (event.kind === "presence")
          this.remotePresenceFlipped(
            conference,
            conference.remote.apply(event.node, event, this.clock.now()),
          );
        else this.publishWholeList(conference);
      },
      () => {},
    );
  }

  /** Members whose presence on other nodes flipped: online or offline for everyone here, unless connected here. */
  private remotePresenceFlipped(conference: Conference, flipped: string[]): void {
    for (const id of flipped) {
      if (conference.connectionCount(id) > 0) continue;
      const online = conference.remote.has(id);
      this.presenceChanged(conference, id, online);
      // Gone from every node: so is their voice, whatever its node could not say.
      if (!online && conference.remoteVoices.drop(id)) this.remoteVoiceChanged(conference, id);
    }
    for (const id of conference.remoteVoices.dropNodesExcept((node) => conference.remote.knowsNode(node)))
      this.remoteVoiceChanged(conference, id);
  }

  // ------------------------------------------------------------ voice state across nodes

  /**
   * Listens for voices at other nodes going on or off; returns the function that stops listening.
   * (The voice service frees the slots of a voice that went quiet for good.)
   */
  onRemoteVoice(listener: (conferenceId: string, memberId: string, audible: boolean) => void): () => void {
    this.remoteVoiceListeners.add(listener);
    return () => this.remoteVoiceListeners.delete(listener);
  }

  /** Tells every member, here and at the other nodes, a member's voice state as this node has it. */
  announceVoiceState(conferenceId: string, memberId: string, connected: boolean, muted: boolean): void {
    const frame = encode({ type: "voice-state", memberId, connected, muted });
    this.loaded.get(conferenceId)?.then(
      (conference) => conference.broadcast(frame),
      () => {},
    );
    this.bus.publish(conferenceId, { kind: "voice-state", node: this.nodeId, memberId, connected, muted });
  }

  /** The voice states of members at other nodes, for a connection that just opened here. */
  remoteVoiceFrames(conference: Conference): Uint8Array[] {
    return [...conference.remoteVoices.entries()].map(([memberId, voice]) =>
      encode({ type: "voice-state", memberId, connected: true, muted: voice.muted }),
    );
  }

  private remoteVoiceChanged(conference: Conference, memberId: string): void {
    const voice = conference.remoteVoices.get(memberId);
    const muted = voice?.muted ?? false;
    conference.broadcast(encode({ type: "voice-state", memberId, connected: voice !== undefined, muted }));
    for (const listener of this.remoteVoiceListeners)
      listener(conference.id, memberId, voice !== undefined && !muted);
  }

  private publishPresence(
    conference: Conference,
    report: { full: boolean; online: string[]; offline: string[] },
  ): void {
    this.bus.publish(conference.id, { kind: "presence", node: this.nodeId, ...report });
  }

  /** Everyone connected here, for a heartbeat or a roll call; nothing when nobody is. */
  private publishWholeList(conference: Conference): void {
    const online = conference.localOnlineIds();
    if (online.length > 0) this.publishPresence(conference, { full: true, online, offline: [] });
  }

  /**
   * In a cluster, every few seconds: each conference held here tells the others who is connected
   * here, and members of nodes not heard from for three beats go offline.
   */
  private startHeartbeat(): void {
    if (this.heartbeat || this.bus === singleNode) return;
    const beat = () => {
      for (const pending of this.loaded.values())
        pending.then(
          (conference) => {
            this.publishWholeList(conference);
            this.remotePresenceFlipped(conference, conference.remote.expire(this.clock.now()));
          },
          () => {},
        );
      this.heartbeat = this.scheduler.schedule(beat, PRESENCE_HEARTBEAT_MS);
    };
    this.heartbeat = this.scheduler.schedule(beat, PRESENCE_HEARTBEAT_MS);
  }

  /** Adds a member registered elsewhere (another node) and tells everyone connected here. */
  private learnMember(conference: Conference, member: MemberRecord): void {
    if (conference.member(member.id) || member.conferenceId !== conference.id) return;
    if (member.removedAt !== null || conference.isRemoved(member.id)) return;
    conference.addMember(member);
    conference.broadcast(encode({ type: "member-added", member: conference.memberInfo(member) }));
  }

  /**
   * A member this node does not know may have registered on another node whose event was missed
   * (the bus is at most once): the store is asked before the member is refused.
   */
  private async knows(conference: Conference, memberId: string): Promise<boolean> {
    if (conference.member(memberId)) return true;
    for (const member of await this.store.listMembers(conference.id)) this.learnMember(conference, member);
    return conference.member(memberId) !== undefined;
  }

  private async loadConference(id: string): Promise<Conference> {
    const record = await this.store.getConference(id);
    if (!record) throw refusals.missing();
    const [members, lastSeq] = await Promise.all([this.store.listMembers(id), this.store.lastSeq(id)]);
    const conference = new Conference(record, members);
    conference.sequencer = new TextSequencer(
      lastSeq + 1,
      (text) => this.texts.deliver(conference, text),
      (afterSeq, upTo) => this.store.listMessages(id, afterSeq, upTo),
      this.scheduler,
    );
    return conference;
  }

  async summary(id: string): Promise<ConferenceSummary> {
    const c = await this.conference(id);
    return {
      id: c.id,
      title: c.record.title,
      state: c.record.state,
      members: c.members.map((m) => ({ id: m.id, name: m.name, avatarUrl: avatarUrl(m.avatarHash) })),
    };
  }

  /**
   * Registers a member. Every check runs before anything is stored, so a rejected registration
   * leaves no trace. Everyone connected (lobby or room) hears of the new member at once.
   */
  async registerMember(
    conferenceId: string,
    rawName: unknown,
    avatar: NormalisedAvatar,
  ): Promise<{ member: MemberRecord; token: string }> {
    const name = validName(rawName);
    const conference = await this.conference(conferenceId);
    const previous = this.registrationQueues.get(conferenceId) ?? Promise.resolve();
    const run = previous
      .catch(() => {})
      .then(async () => {
        this.assertRoomForOneMore(conference);
        await this.avatars.save(avatar);
        const token = this.ids.token();
        const result = await this.store.addMember(
          {
            id: this.ids.id(),
            conferenceId,
            name,
            tokenHash: hashToken(token),
            avatarHash: avatar.hash,
            avatarColor: avatar.color,
            createdAt: this.clock.now(),
          },
          this.limits.membersPerConference,
        );
        if (!result.added) throw refusals[result.reason]();
        const { member } = result;
        this.learnMember(conference, member);
        this.bus.publish(conferenceId, { kind: "member-added", member });
        return { member, token };
      });
    this.registrationQueues.set(conferenceId, run);
    try {
      return await run;
    } finally {
      if (this.registrationQueues.get(conferenceId) === run) this.registrationQueues.delete(conferenceId);
    }
  }

  /** Checks a conference exists and has room, for the HTTP edge to fail fast before image work. */
  async assertCanRegister(conferenceId: string): Promise<void> {
    this.assertRoomForOneMore(await this.conference(conferenceId));
  }

  private assertRoomForOneMore(conference: Conference): void {
    conference.assertNotEnded();
    if (conference.isLocked) throw refusals.locked();
    if (conference.memberCount >= this.limits.membersPerConference) throw refusals.full();
  }

  /**
   * Builds the conference: every connected member receives the build message. Building a built
   * conference again changes nothing and sends nothing.
   */
  async build(conferenceId: string, bearer: string | undefined): Promise<{ alreadyBuilt: boolean }> {
    const conference = await this.conference(conferenceId);
    await this.authorizeHost(conference, bearer);
    conference.assertNotEnded();
    if (conference.isBuilt) return { alreadyBuilt: true };
    const builtAt = this.clock.now();
    await this.store.markBuilt(conferenceId, builtAt);
    this.applyBuilt(conference, builtAt);
    this.bus.publish(conferenceId, { kind: "built", builtAt });
    return { alreadyBuilt: false };
  }

  private applyBuilt(conference: Conference, builtAt: number): void {
    if (conference.isBuilt || conference.isEnded) return;
    conference.markBuilt(builtAt);
    conference.broadcast(conference.encodedBuildMessage());
  }

  /**
   * Ends the conference for good: every connection hears `ended` and is closed with
   * `CLOSE_CODES.ended`; later connections and registrations are refused. History stays readable.
   * Ending it again changes nothing.
   */
  async end(conferenceId: string, bearer: string | undefined): Promise<{ alreadyEnded: boolean }> {
    const conference = await this.conference(conferenceId);
    await this.authorizeHost(conference, bearer);
    if (conference.isEnded) return { alreadyEnded: true };
    const endedAt = this.clock.now();
    await this.store.markEnded(conferenceId, endedAt);
    this.applyEnded(conference, endedAt);
    this.bus.publish(conferenceId, { kind: "ended", endedAt });
    return { alreadyEnded: false };
  }

  private applyEnded(conference: Conference, endedAt: number): void {
    if (conference.isEnded) return;
    conference.markEnded(endedAt);
    conference.broadcast(encode({ type: "ended", endedAt }));
    conference.closeAll(CLOSE_CODES.ended, "the host ended this conference");
    // Nothing can change an ended conference any more: it need not stay in memory. Reads load it
    // again from the store; anything still holding this object sees it ended.
    this.forget(conference.id);
  }

  /**
   * Checks the bearer is the host, or (with `coHosts`) a co-host: 401 for no or an unknown token,
   * 403 for another member's. Returns the acting co-host's id, or undefined for the host.
   */
  async authorizeHost(
    conference: Conference,
    bearer: string | undefined,
    coHosts = false,
  ): Promise<string | undefined> {
    if (!bearer) throw new RoundtableError("unauthorized", "the host token is required");
    if (tokenMatches(bearer, conference.record.hostTokenHash)) return undefined;
    const member = await this.store.findMemberByTokenHash(hashToken(bearer));
    if (member?.conferenceId !== conference.id || member.removedAt !== null)
      throw new RoundtableError("unauthorized", "the token is not valid for this conference");
    if (coHosts && member.role === "co-host") return member.id;
    throw new RoundtableError(
      "forbidden",
      coHosts ? "only the host or a co-host can do this" : "only the host can do this",
    );
  }

  // ------------------------------------------------------------ the host's changes

  /** Listens for members the host changed, on this node or another; returns the unsubscribe. */
  onMemberChange(listener: (conferenceId: string, member: MemberRecord) => void): () => void {
    this.memberChangeListeners.add(listener);
    return () => this.memberChangeListeners.delete(listener);
  }

  /** A member changed in the store by this node: applied here, and told to the others. */
  memberChanged(conference: Conference, member: MemberRecord): void {
    this.applyMemberChange(conference, member);
    this.bus.publish(conference.id, { kind: "member-changed", member });
  }

  /** Registration locked or unlocked in the store by this node: applied here and elsewhere. */
  lockChanged(conference: Conference, locked: boolean): void {
    this.applyLocked(conference, locked);
    this.bus.publish(conference.id, { kind: "locked", locked });
  }

  private applyMemberChange(conference: Conference, member: MemberRecord): void {
    if (!conference.updateMember(member)) return;
    if (member.removedAt !== null) {
      conference.broadcastExcept(member.id, encode({ type: "member-removed", memberId: member.id }));
      conference.closeMember(member.id, CLOSE_CODES.removed, "the host removed you from this conference");
    } else {
      const info = conference.memberInfo(member);
      conference.broadcast(encode({ type: "member-updated", member: info }));
    }
    for (const listener of this.memberChangeListeners) listener(conference.id, member);
  }

  private applyLocked(conference: Conference, locked: boolean): void {
    if (conference.record.locked === locked) return;
    conference.record.locked = locked;
    conference.broadcast(encode({ type: "registration", locked }));
  }

  /** The member a token belongs to, if it belongs to this conference. */
  async authenticateMember(conferenceId: string, token: string | undefined): Promise<MemberRecord> {
    if (!token) throw new RoundtableError("unauthorized", "a member token is required");
    const member = await this.store.findMemberByTokenHash(hashToken(token));
    if (!member || member.conferenceId !== conferenceId)
      throw new RoundtableError("unauthorized", "the token is not valid for this conference");
    if (member.removedAt !== null)
      throw new RoundtableError("forbidden", "the host removed you from this conference");
    return member;
  }

  // ------------------------------------------------------------ connections

  /**
   * Attaches an authenticated member's connection: it receives hello, then the lobby or the build
   * message, then the texts it may see: the newest ones, or with `sinceSeq` (a resumed connection)
   * every one after that seq. Returns the function that detaches it.
   */
  async connect(
    conferenceId: string,
    memberId: string,
    connection: MemberConnection,
    sinceSeq?: number,
  ): Promise<() => void> {
    const conference = await this.conference(conferenceId);
    if (!(await this.knows(conference, memberId))) throw new RoundtableError("unauthorized", "not a member");
    conference.assertNotEnded();
    if (conference.connectionCount(memberId) >= this.limits.connectionsPerMember) {
      connection.close(CLOSE_CODES.tooManyConnections, "too many connections for this member");
      return () => {};
    }
    // Attach before reading the history: a text stored meanwhile then arrives live, or in the history,
    // or both (clients drop the duplicate by id), but never neither.
    const cameOnline = conference.attach(memberId, connection);
    this.cancelIdle(conferenceId);
    // Whispers to this member reach this node only while the member is connected here.
    const memberKey = `${conferenceId}/${memberId}`;
    if (cameOnline) this.publishPresence(conference, { full: false, online: [memberId], offline: [] });
    if (cameOnline && !this.memberSubscriptions.has(memberKey))
      this.memberSubscriptions.set(
        memberKey,
        this.bus.subscribeMember(conferenceId, memberId, (event) => this.fromOtherNode(conferenceId, event)),
      );
    let attached = true;
    const detach = () => {
      if (!attached) return;
      attached = false;
      if (conference.detach(memberId, connection)) {
        this.memberSubscriptions.get(memberKey)?.();
        this.memberSubscriptions.delete(memberKey);
        this.publishPresence(conference, { full: false, online: [], offline: [memberId] });
        if (!conference.remote.has(memberId)) this.presenceChanged(conference, memberId, false);
      }
      if (!conference.hasConnections) this.forgetWhenIdle(conference);
    };
    const hello: ServerMessage = {
      type: "hello",
      protocolVersion: PROTOCOL_VERSION,
      memberId,
      conference: {
        id: conference.id,
        title: conference.record.title,
        state: conference.isBuilt ? "built" : "registering",
      },
      online: conference.onlineMemberIds(),
    };
    connection.send(encode(hello));
    connection.send(conference.isBuilt ? conference.encodedBuildMessage() : conference.encodedLobbyMessage());
    if (cameOnline && !conference.remote.has(memberId)) this.presenceChanged(conference, memberId, true);
    try {
      await this.texts.sendHistory(conferenceId, memberId, connection, sinceSeq);
    } catch (error) {
      detach();
      throw error;
    }
    return detach;
  }

  private presenceChanged(conference: Conference, memberId: string, online: boolean): void {
    let pending = this.pendingPresence.get(conference.id);
    if (!pending) {
      const cancel = this.scheduler.schedule(
        () => this.flushPresence(conference),
        this.limits.presenceBatchMs,
      );
      pending = { online: new Set(), offline: new Set(), cancel };
      this.pendingPresence.set(conference.id, pending);
    }
    // A member who left and came back within one batch is simply online (and vice versa).
    (online ? pending.offline : pending.online).delete(memberId);
    (online ? pending.online : pending.offline).add(memberId);
  }

  private flushPresence(conference: Conference): void {
    const pending = this.pendingPresence.get(conference.id);
    if (!pending) return;
    this.pendingPresence.delete(conference.id);
    if (pending.online.size + pending.offline.size === 0) return;
    conference.broadcast(
      encode({ type: "presence", online: [...pending.online], offline: [...pending.offline] }),
    );
  }

  // ------------------------------------------------------------ text

  /** See `TextLog.send`: stored once per (sender, clientId), delivered to its audience only. */
  async sendText(conferenceId: string, fromId: string, message: SendTextMessage): Promise<TextMessage> {
    const conference = await this.conference(conferenceId);
    if (!(await this.knows(conference, fromId))) throw new RoundtableError("unauthorized", "not a member");
    return this.texts.send(conference, fromId, message);
  }

  async history(conferenceId: string, memberId: string, sinceSeq = 0): Promise<TextMessage[]> {
    return this.texts.history(conferenceId, memberId, sinceSeq);
  }

  /** Closes every open connection (server shutdown) and cancels pending timers. */
  async close(code: number = CLOSE_CODES.serviceRestart, reason = "server restarting"): Promise<void> {
    for (const pending of this.pendingPresence.values()) pending.cancel();
    this.pendingPresence.clear();
    const loaded = await Promise.allSettled(this.loaded.values());
    for (const result of loaded) if (result.status === "fulfilled") result.value.closeAll(code, reason);
    // Closing detached everyone: the forgetting that scheduled is cancelled with the rest.
    for (const cancel of this.idle.values()) cancel();
    this.idle.clear();
    this.heartbeat?.();
    this.heartbeat = undefined;
    for (const unsubscribe of [...this.subscriptions.values(), ...this.memberSubscriptions.values()])
      unsubscribe();
    this.subscriptions.clear();
    this.memberSubscriptions.clear();
  }
}
