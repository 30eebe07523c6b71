import { RoundtableApi } from "@roundtable/client-core";
import { xhrUploader } from "./xhrUploader.ts";

/** The UI is served by the API's own server, so the page's origin is the API's. */
export const api = new RoundtableApi(location.origin, { uploader: xhrUploader });
