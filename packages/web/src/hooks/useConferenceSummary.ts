import type { ConferenceSummary } from "@roundtable/protocol";
import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.ts";

export interface SummaryState {
  summary: ConferenceSummary | undefined;
  /** The last failure; cleared by the next success. */
  error: unknown;
  loading: boolean;
}

/**
 * The conference as the HTTP API describes it, fetched once or, with `pollMs`, kept fresh. A poll
 * starts only after the previous answer, so a slow server is never asked twice at once.
 */
export function useConferenceSummary(conferenceId: string, pollMs?: number): SummaryState {
  const [state, setState] = useState<SummaryState>({ summary: undefined, error: undefined, loading: true });

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const summary = await api.getConference(conferenceId);
        if (!stopped) setState({ summary, error: undefined, loading: false });
      } catch (error) {
        if (!stopped) setState((s) => ({ ...s, error, loading: false }));
      }
      if (!stopped && pollMs) timer = setTimeout(load, pollMs);
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [conferenceId, pollMs]);

  return state;
}
