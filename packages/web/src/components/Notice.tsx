import type { ComponentChildren } from "preact";
import { Icon } from "./Icon.tsx";

/** A message in the flow of a page. Errors are announced at once; other notices politely. */
export function Notice({
  kind,
  children,
  testId,
}: {
  kind: "error" | "info" | "success";
  children: ComponentChildren;
  testId?: string;
}) {
  return (
    <div
      class={`notice notice-${kind}`}
      role={kind === "error" ? "alert" : "status"}
      data-testid={testId ?? `notice-${kind}`}
    >
      <Icon name={kind === "success" ? "check" : "alert"} />
      <div>{children}</div>
    </div>
  );
}
