export type Route =
  | { page: "home" }
  | { page: "join"; conferenceId: string }
  | { page: "host"; conferenceId: string }
  | { page: "room"; conferenceId: string }
  | { page: "not-found" };

const CONFERENCE_PATH = /^\/c\/([A-Za-z0-9_-]{1,64})(\/join|\/host)?\/?$/;

/** The server answers index.html for exactly these paths; anything else reaching the app is a stray link. */
export function parseRoute(pathname: string): Route {
  if (pathname === "/" || pathname === "") return { page: "home" };
  const match = CONFERENCE_PATH.exec(pathname);
  const conferenceId = match?.[1];
  if (!conferenceId) return { page: "not-found" };
  if (match[2] === "/join") return { page: "join", conferenceId };
  if (match[2] === "/host") return { page: "host", conferenceId };
  return { page: "room", conferenceId };
}

export const joinPath = (conferenceId: string) => `/c/${conferenceId}/join`;
export const joinUrl = (conferenceId: string) => new URL(joinPath(conferenceId), location.origin).toString();
