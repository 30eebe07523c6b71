import { z } from "zod";

/**
 * Zod probes for eval (`new Function`) when an object schema is created, and the server's CSP
 * forbids eval: the probe fails quietly but Chromium still reports a CSP violation on every page.
 * Jitless mode skips the probe. Schemas are created when @roundtable/protocol is imported, so this
 * module must be imported before anything that imports it (main.tsx imports it first).
 */
z.config({ jitless: true });
