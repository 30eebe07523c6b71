import { ApiError, type Uploader } from "@roundtable/client-core";

/**
 * Posts a multipart body with XMLHttpRequest, because fetch cannot report upload progress and an
 * avatar of a few megabytes on a slow uplink otherwise looks like a frozen form.
 */
export const xhrUploader: Uploader = (url, body, onProgress) =>
  new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    };
    xhr.upload.onload = () => onProgress(1);
    xhr.onload = () => resolve({ status: xhr.status, body: parseBody(xhr.responseText) });
    xhr.onerror = () =>
      reject(
        new ApiError("network", "The server could not be reached. Check your connection and try again."),
      );
    xhr.onabort = () => reject(new ApiError("aborted", "The upload was cancelled."));
    onProgress(0);
    xhr.send(body);
  });

function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
