// REST calls to the server this page came from, with the token when one was given. Every error
// reply is {"detail": "..."}: an ApiError carries that text, for the page to show as it is.
import { getToken } from "./token";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(detail);
    this.name = "ApiError";
  }
}

/** Fired on window when the server refuses the token: the page asks for it again. */
export const UNAUTHORIZED = "velocitas:unauthorized";

type Query = Record<string, string | number | boolean | null | undefined | string[]>;

export function queryString(query?: Query): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === null || value === undefined || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => params.append(key, v));
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

function headers(extra?: Record<string, string>): Record<string, string> {
  const token = getToken();
  return { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...extra };
}

async function reply<T>(response: Response): Promise<T> {
  if (response.status === 204) return undefined as T; // a DELETE's empty reply
  if (response.ok) return (await response.json()) as T;
  let detail = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && typeof body.detail === "string") detail = body.detail;
  } catch {
    // not JSON: keep the status line
  }
  if (response.status === 401) window.dispatchEvent(new Event(UNAUTHORIZED));
  throw new ApiError(response.status, detail);
}

async function call<T>(method: string, path: string, query?: Query, body?: unknown,
                       signal?: AbortSignal, extra?: Record<string, string>): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path + queryString(query), {
      method,
      headers: headers({ ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...extra }),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(0, "the server cannot be reached: is velocitas still running?");
  }
  return reply<T>(response);
}

export const api = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) =>
    call<T>("GET", path, query, undefined, signal),
  post: <T>(path: string, body?: unknown, query?: Query, extra?: Record<string, string>) =>
    call<T>("POST", path, query, body, undefined, extra),
  put: <T>(path: string, body?: unknown) => call<T>("PUT", path, undefined, body),
  del: <T>(path: string) => call<T>("DELETE", path),
  /** A multipart upload (the server accepts it because it comes from its own page). ``signal``
   * stops it: the request is aborted and the promise rejects with an AbortError. */
  async upload<T>(path: string, form: FormData, onProgress?: (fraction: number) => void,
    signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const request = new XMLHttpRequest();
      const aborted = () => reject(new DOMException("the upload was cancelled", "AbortError"));
      if (signal?.aborted) {
        aborted();
        return;
      }
      signal?.addEventListener("abort", () => request.abort(), { once: true });
      request.onabort = aborted;
      request.open("POST", path);
      const token = getToken();
      if (token) request.setRequestHeader("Authorization", `Bearer ${token}`);
      request.upload.onprogress = (event) => {
        if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
      };
      request.onerror = () => reject(new ApiError(0, "the upload failed: the server cannot be reached"));
      request.onload = () => {
        let body: { detail?: string } | T | null = null;
        try {
          body = JSON.parse(request.responseText);
        } catch {
          body = null;
        }
        if (request.status >= 200 && request.status < 300) resolve(body as T);
        else {
          const detail = body && typeof (body as { detail?: string }).detail === "string"
            ? (body as { detail: string }).detail : `${request.status} ${request.statusText}`;
          reject(new ApiError(request.status, detail));
        }
      };
      request.send(form);
    });
  },
};

/** ws:// or wss:// URL of a socket on this server, with the token (browsers cannot set headers
 * on a WebSocket, so the server takes it as ?token=). */
export function socketUrl(path: string, query?: Query, base: Location = window.location): string {
  const scheme = base.protocol === "https:" ? "wss:" : "ws:";
  const token = getToken();
  return `${scheme}//${base.host}${path}${queryString({ ...query, token: token ?? undefined })}`;
}

/** True for the rejection of a call or upload that was stopped on purpose (an AbortSignal). */
export function isAbort(error: unknown): boolean {
  return (error as Error | null)?.name === "AbortError";
}

/** What to show a person for a failed call: the server's detail, else the error's message. */
export function errorText(error: unknown): string {
  return error instanceof ApiError ? error.detail : (error as Error).message;
}
