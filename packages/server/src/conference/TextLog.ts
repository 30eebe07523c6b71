import { type Audience, LIMITS, type SendTextMessage, type TextMessage } from "@roundtable/protocol";
import type { RateLimiter } from "../limits/TokenBucket.ts";
import type { Store } from "../store/Store.ts";
import type { Conference } from "./Conference.ts";
import { encode } from "./encode.ts";
import { RoundtableError } from "./errors.ts";
import type { Clock, ClusterBus, IdSource, MemberConnection } from "./ports.ts";
import type { MessageRecord } from "./records.ts";

/**
 * The texts of every conference: storing each once, delivering it to its audience only, and
 * replaying what a member may see when they connect or resume.
 */
export class TextLog {
  /** Texts this node stored (not counting repeats), for metrics. */
  stored = 0;
  /** Texts being stored, by conference/sender/clientId: a retransmission racing the original waits for it. */
  private readonly inFlight = new Map<string, Promise<MessageRecord>>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly ids: IdSource,
    /** Texts per member, keyed conference/member. */
    private readonly limiter: RateLimiter,
    private readonly bus: ClusterBus,
  ) {}

  /**
   * A fresh connection gets the newest texts; a resumed one gets every text after the seq it last
   * saw, page by page, so a long drop loses nothing.
   */
  async sendHistory(
    conferenceId: string,
    memberId: string,
    connection: MemberConnection,
    sinceSeq: number | undefined,
  ): Promise<void> {
    const limit = LIMITS.historyMax;
    if (sinceSeq === undefined) {
      const newest = await this.store.listVisibleMessages(conferenceId, memberId, { limit });
      connection.send(encode({ type: "history", messages: newest.map(toWire) }));
      return;
    }
    let afterSeq = sinceSeq;
    for (;;) {
      const page = await this.store.listVisibleMessages(conferenceId, memberId, {
        afterSeq,
        limit,
        take: "oldest",
      });
      const more = page.length === limit;
      connection.send(encode({ type: "history", messages: page.map(toWire), ...(more ? { more } : {}) }));
      const last = page.at(-1);
      if (!more || !last) return;
      afterSeq = last.seq;
    }
  }

  /**
   * Stores a text and delivers it to its audience and back to the sender; nobody else sees it.
   * A text whose (sender, clientId) is already stored is not stored or delivered again: only the
   * sender's acknowledgement is repeated, which makes a client's retransmission after a drop safe.
   */
  async send(conference: Conference, fromId: string, message: SendTextMessage): Promise<TextMessage> {
    const conferenceId = conference.id;
    const { clientId } = message;
    if (!clientId) return toWire(await this.storeText(conference, fromId, message));
    const key = `${conferenceId}/${fromId}/${clientId}`;
    const inFlight = this.inFlight.get(key);
    if (inFlight) return this.acknowledgeAgain(conference, fromId, await inFlight);
    const stored = await this.store.findMessageByClientId(conferenceId, fromId, clientId);
    if (stored) return this.acknowledgeAgain(conference, fromId, stored);
    const storing = this.storeText(conference, fromId, message);
    this.inFlight.set(key, storing);
    try {
      return toWire(await storing);
    } finally {
      this.inFlight.delete(key);
    }
  }

  private acknowledgeAgain(conference: Conference, fromId: string, record: MessageRecord): TextMessage {
    const wire = toWire(record);
    conference.sendTo([fromId], encode(wire));
    return wire;
  }

  private async storeText(
    conference: Conference,
    fromId: string,
    message: SendTextMessage,
  ): Promise<MessageRecord> {
    const conferenceId = conference.id;
    conference.assertNotEnded();
    if (message.text.trim().length === 0)
      throw new RoundtableError("invalid_message", "text must not be blank");
    const to = this.resolveAudience(conference, message.to);
    if (!this.limiter.take(`${conferenceId}/${fromId}`))
      throw new RoundtableError("rate_limited", "too many messages; wait a moment");

    const { message: record, duplicate } = await this.store.addMessage({
      id: this.ids.id(),
      conferenceId,
      from: fromId,
      to,
      text: message.text,
      sentAt: this.clock.now(),
      clientId: message.clientId ?? null,
    });
    if (duplicate) {
      this.acknowledgeAgain(conference, fromId, record);
      return record;
    }
    this.stored++;
    // In sequence order with the texts other nodes stored (a pool's writes, too, may finish out of order).
    conference.sequencer.text(record);
    const event = { kind: "text", message: record } as const;
    if (to === "all") this.bus.publish(conferenceId, event);
    else {
      // A whisper's text goes only to the nodes of its members; the others learn only its number.
      this.bus.publishToMembers(conferenceId, [fromId, ...to], event);
      this.bus.publish(conferenceId, { kind: "text-skip", seq: record.seq });
    }
    return record;
  }

  /** To the audience connected here and back to the sender (with its clientId); nobody else. */
  deliver(conference: Conference, record: MessageRecord): void {
    const fromId = record.from;
    const to = record.to;
    const recipientFrame = encode(toWire({ ...record, clientId: null }));
    const senderFrame = record.clientId ? encode(toWire(record)) : recipientFrame;
    if (to === "all") conference.broadcastExcept(fromId, recipientFrame);
    else
      conference.sendTo(
        to.filter((id) => id !== fromId),
        recipientFrame,
      );
    conference.sendTo([fromId], senderFrame);
  }

  private resolveAudience(conference: Conference, to: Audience): Audience {
    if (to === "all") return "all";
    const unique = [...new Set(to)];
    const unknown = unique.filter((id) => !conference.member(id));
    if (unknown.length > 0)
      throw new RoundtableError("unknown_recipient", `not members of this conference: ${unknown.join(", ")}`);
    return unique;
  }

  async history(conferenceId: string, memberId: string, sinceSeq = 0): Promise<TextMessage[]> {
    const records = await this.store.listVisibleMessages(conferenceId, memberId, {
      afterSeq: sinceSeq,
      limit: LIMITS.historyMax,
    });
    return records.map(toWire);
  }
}

function toWire(record: MessageRecord): TextMessage {
  const message: TextMessage = {
    type: "text",
    id: record.id,
    seq: record.seq,
    from: record.from,
    to: record.to,
    text: record.text,
    sentAt: record.sentAt,
  };
  if (record.clientId) message.clientId = record.clientId;
  return message;
}
