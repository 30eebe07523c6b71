import { useEffect, useState } from "preact/hooks";
import { storedHostToken, storeHostToken } from "../lib/storage.ts";

function fromHash(): string | undefined {
  const raw = location.hash.replace(/^#/, "");
  if (!raw) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * The host key: from the link's fragment (kept out of server logs that way), else the one this
 * browser remembers. Pasting another host link into the same tab only changes the fragment, which
 * reloads nothing, so the key follows `hashchange`.
 */
export function useHostToken(conferenceId: string): string | undefined {
  const read = () => {
    const token = fromHash();
    if (token) storeHostToken(conferenceId, token);
    return token ?? storedHostToken(conferenceId);
  };
  const [token, setToken] = useState(read);
  useEffect(() => {
    const onHashChange = () => setToken(read());
    window.addEventListener("hashchange", onHashChange);
    return () => window.removeEventListener("hashchange", onHashChange);
  }, [conferenceId]);
  return token;
}
