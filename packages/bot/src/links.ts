/** Reads the conference id and server origin from an invite link (`/c/:id/join`) or a room link (`/c/:id?token=`). */
export function parseConferenceLink(link: string): { origin: string; conferenceId: string; token?: string } {
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    throw new TypeError(`not a link: ${link}`);
  }
  const match = /^\/c\/([A-Za-z0-9_-]+)(?:\/join|\/host)?\/?$/.exec(url.pathname);
  if (!match?.[1]) throw new TypeError(`not a Roundtable conference link: ${link}`);
  const token = url.searchParams.get("token") ?? undefined;
  return token
    ? { origin: url.origin, conferenceId: match[1], token }
    : { origin: url.origin, conferenceId: match[1] };
}
