import { PageShell } from "../components/PageShell.tsx";
import { useDocumentTitle } from "../hooks/useDocumentTitle.ts";

export function NotFoundPage() {
  useDocumentTitle("Not found");
  return (
    <PageShell>
      <section class="card">
        <h1>Nothing here</h1>
        <p class="lead">
          This address is not a Roundtable page. Check the link you were given, or start afresh.
        </p>
        <a class="button button-primary" href="/">
          Create a conference
        </a>
      </section>
    </PageShell>
  );
}
