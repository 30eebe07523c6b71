import { LIMITS } from "@roundtable/protocol";

const MB = LIMITS.avatarFileMax / 1024 / 1024;

/** Messages for codes people actually meet, written for them rather than for developers. */
const FRIENDLY: Record<string, string> = {
  invalid_image: "That file is not a picture the server can read. Use a PNG, JPEG, WebP or GIF image.",
  image_too_large: `That picture is larger than ${MB} MB. Please choose a smaller one.`,
  image_too_many_pixels: "That picture has too many pixels. Please choose a smaller one.",
  not_found: "This conference does not exist. Check that the link is complete.",
  conference_full: "This conference has no free seat left.",
  rate_limited: "Too many attempts in a short time. Wait a minute and try again.",
  internal: "Something went wrong on the server. Please try again.",
};

function sentence(message: string): string {
  const trimmed = message.trim();
  if (!trimmed) return "Something went wrong. Please try again.";
  const capitalised = trimmed[0]?.toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}

/** A readable message for anything a request can throw. */
export function describeError(error: unknown): string {
  if (error && typeof error === "object" && "code" in error && typeof error.code === "string") {
    const friendly = FRIENDLY[error.code];
    if (friendly) return friendly;
  }
  // fetch rejects with a TypeError, worded differently by each browser, when the network fails.
  if (error instanceof TypeError && /fetch|network|load failed/i.test(error.message))
    return "The server could not be reached. Check your connection and try again.";
  if (error instanceof Error) return sentence(error.message);
  return "Something went wrong. Please try again.";
}

export function errorCode(error: unknown): string | undefined {
  return error && typeof error === "object" && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined;
}

export function errorStatus(error: unknown): number | undefined {
  return error && typeof error === "object" && "status" in error && typeof error.status === "number"
    ? error.status
    : undefined;
}
