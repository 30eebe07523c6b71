import { isIPv4, isIPv6 } from "node:net";

/** ICE candidate and SDP candidate-line handling for the server's peers; pure string work. */

/** `candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> [name value]...` (RFC 8839). */
const CANDIDATE =
  /^(?:candidate:)?[A-Za-z0-9+/]{1,32} \d{1,3} ([A-Za-z]+) \d{1,10} (\S+) (\d{1,5}) typ (host|srflx|prflx|relay)(?: \S+)*$/;

/** What makes a candidate itself: the same transport, address, port and type in any m-line is one. */
export function candidateKey(line: string): string {
  const [, transport = "", address = "", port = "", type = ""] = CANDIDATE.exec(line) ?? [];
  return `${transport.toLowerCase()} ${address} ${port} ${type}`;
}

/**
 * Whether werift can use a remote candidate: UDP to an IPv4 address. Throws when the line is not a
 * candidate at all. TCP, IPv6 and mDNS (.local) candidates are well formed but skipped: werift listens
 * on UDP over IPv4 only, and would send multicast queries for a .local name; the browser's checks
 * reach our host candidate anyway and werift learns its address from them (peer-reflexive).
 * Host names other than .local are refused: they would make the server resolve names a client chose.
 */
export function usableCandidate(line: string): boolean {
  const match = CANDIDATE.exec(line);
  if (!match) throw new Error("not an ICE candidate line");
  const [, transport = "", address = "", port = ""] = match;
  if (Number(port) > 65535) throw new Error("the candidate's port is out of range");
  if (address.endsWith(".local") || isIPv6(address)) return false;
  if (!isIPv4(address)) throw new Error("the candidate's address must be an IP address");
  return transport.toLowerCase() === "udp" && Number(port) > 0;
}

/**
 * Adds a host candidate for each of `addresses` on the port of each host candidate already in the
 * SDP, each a little less preferred than the one it copies.
 */
export function announceOnSamePort(sdp: string, addresses: readonly string[]): string {
  if (addresses.length === 0) return sdp;
  return sdp
    .split("\r\n")
    .flatMap((line) => {
      const fields = line.split(" ");
      if (!line.startsWith("a=candidate:") || fields[7] !== "host") return [line];
      const [foundation = "", component = "", transport = "", priority = "0", , port = ""] = fields;
      const rest = fields.slice(6).join(" ");
      const copies = addresses.map(
        (address, i) =>
          `${foundation}${i + 1} ${component} ${transport} ${Number(priority) - 1 - i} ${address} ${port} ${rest}`,
      );
      return [line, ...copies];
    })
    .join("\r\n");
}

/**
 * Drops host candidates for addresses the peer does not listen on. werift falls back to every
 * interface's address when its interface filter matches none (as with 127.0.0.1, which it never
 * lists itself), announcing addresses whose packets would go nowhere.
 */
export function keepCandidates(sdp: string, addresses: ReadonlySet<string>): string {
  return sdp
    .split("\r\n")
    .filter((line) => {
      if (!line.startsWith("a=candidate:")) return true;
      const address = line.split(" ")[4];
      return address !== undefined && addresses.has(address);
    })
    .join("\r\n");
}
