import type { ComponentChildren } from "preact";

/** The frame of every page: a quiet header with the way home, then the page. */
export function PageShell({ children }: { children: ComponentChildren }) {
  return (
    <div class="page">
      <header class="page-header">
        <a class="brand" href="/">
          <BrandMark />
          Roundtable
        </a>
      </header>
      <main class="page-main">{children}</main>
    </div>
  );
}

export function BrandMark() {
  return (
    <svg class="brand-mark" width="22" height="22" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <ellipse cx="12" cy="12" rx="6.5" ry="4.5" fill="currentColor" opacity="0.35" />
      <circle cx="12" cy="3.5" r="2" fill="currentColor" />
      <circle cx="12" cy="20.5" r="2" fill="currentColor" />
      <circle cx="3" cy="12" r="2" fill="currentColor" />
      <circle cx="21" cy="12" r="2" fill="currentColor" />
    </svg>
  );
}
