/** Input limits shared by server validation and client-side checks, so both give the same answer. */
export const LIMITS = {
  conferenceTitleMax: 120,
  memberNameMax: 64,
  textMax: 2000,
  /** Bytes. A WebSocket frame above this closes the connection with `CLOSE_CODES.messageTooBig`. */
  wsMessageMax: 64 * 1024,
  /** Bytes of the uploaded avatar file. */
  avatarFileMax: 5 * 1024 * 1024,
  /** Recipients named in one message. */
  recipientsMax: 256,
  /** Messages returned when a member (re)opens the room. */
  historyMax: 200,
  /** Characters of an SDP answer; a real audio answer with 8 slots is about 6,000. */
  sdpMax: 32_000,
  /** Characters of one ICE candidate line. */
  candidateMax: 512,
} as const;
