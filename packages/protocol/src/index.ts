export * from "./codec.ts";
export * from "./defaultAvatar.ts";
export * from "./errors.ts";
export * from "./http.ts";
export * from "./limits.ts";
export * from "./messages.ts";
