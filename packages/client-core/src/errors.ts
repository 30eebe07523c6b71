/** An error the server answered with, carrying its documented code. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly code: string,
    message: string,
    /** HTTP status, or 0 for errors that came over the WebSocket. */
    readonly status = 0,
  ) {
    super(message);
  }
}
