import { useEffect } from "preact/hooks";

export function useDocumentTitle(title: string | undefined): void {
  useEffect(() => {
    document.title = title ? `${title} · Roundtable` : "Roundtable";
  }, [title]);
}
