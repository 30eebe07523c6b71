import type { Page } from "playwright-core";

/**
 * The server's HTTP API called from a page inside a namespace (the root namespace cannot reach
 * the namespaces' addresses): `page` must be on the server's origin (e.g. its /healthz).
 */
export type Api = { id: string; hostToken: string };

export async function api<T>(
  page: Page,
  path: string,
  init: { method: string; json?: unknown; form?: Record<string, string>; token?: string },
): Promise<T> {
  return page.evaluate(
    async ({ path, init }) => {
      const headers: Record<string, string> = {};
      let body: BodyInit | undefined;
      if (init.json !== undefined) {
        headers["content-type"] = "application/json";
        body = JSON.stringify(init.json);
      } else if (init.form) {
        const form = new FormData();
        for (const [k, v] of Object.entries(init.form)) form.set(k, v);
        body = form;
      }
      if (init.token) headers.authorization = `Bearer ${init.token}`;
      const response = await fetch(path, { method: init.method, headers, body });
      const text = await response.text();
      if (!response.ok) throw new Error(`${init.method} ${path}: ${response.status} ${text}`);
      return JSON.parse(text);
    },
    { path, init },
  ) as Promise<T>;
}
