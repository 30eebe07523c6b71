/**
 * Why voice could not connect, for the member to read:
 * - `blocked`: ICE never found a path to the server: the network blocks it (UDP), and a TURN relay
 *   is needed (`relayed`: one was offered and failed too);
 * - `handshake`: a path was found but the DTLS handshake kept failing (a very lossy network);
 * - `refused`: the server refused this device's answer (`message` says why);
 * - `no_offer`: the server never offered a voice connection;
 * - `engine`: this device could not set up a peer connection (`message` says why).
 */
export type VoiceFailure =
  | { kind: "blocked"; relayed: boolean }
  | { kind: "handshake" }
  | { kind: "refused"; message: string }
  | { kind: "no_offer" }
  | { kind: "engine"; message: string };

/** The failure in plain English, saying what the member can do about it. */
export function describeVoiceFailure(failure: VoiceFailure): string {
  switch (failure.kind) {
    case "blocked":
      return failure.relayed
        ? "Voice cannot get through this network, not even through the relay (TURN) server. Try another network."
        : "This network seems to block voice (UDP) to the server. It needs a TURN relay, which this server does not offer; try another network or ask its administrator.";
    case "handshake":
      return "Voice reached the server but the secure connection kept failing, as on a very lossy network. Try again.";
    case "refused":
      return `The server refused this device's voice connection: ${failure.message}`;
    case "no_offer":
      return "The server did not answer the request for voice. Try again.";
    case "engine":
      return `This browser could not set up voice: ${failure.message}`;
    default: {
      const unreachable: never = failure;
      return unreachable;
    }
  }
}
