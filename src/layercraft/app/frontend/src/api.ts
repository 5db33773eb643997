// A thin fetch wrapper: every failure becomes an ApiError carrying the server's own message.
// Every request that changes something carries STUDIO_HEADER: the server refuses changes without it,
// which keeps other web pages (which cannot set it without a CORS preflight) from using the studio.

export const STUDIO_HEADER = { "X-Layercraft-Studio": "1" };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function parse<T>(response: Response): Promise<T> {
  if (response.ok) {
    return (await response.json()) as T;
  }
  let code = "http_error";
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body?.error?.message) {
      code = body.error.code;
      message = body.error.message;
    }
  } catch {
    // not JSON: keep the status line
  }
  throw new ApiError(response.status, code, message);
}

async function send<T>(method: string, url: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      keepalive: method === "PUT", // an autosave still lands when the page is being closed
      headers: body === undefined ? { ...STUDIO_HEADER } : { ...STUDIO_HEADER, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, "network", `the studio server cannot be reached (${String(err)})`);
  }
  return parse<T>(response);
}

export const api = {
  get: <T>(url: string) => send<T>("GET", url),
  post: <T>(url: string, body: unknown = {}) => send<T>("POST", url, body),
  put: <T>(url: string, body: unknown) => send<T>("PUT", url, body),
  async upload<T>(url: string, file: File, fields: Record<string, string> = {}): Promise<T> {
    const form = new FormData();
    form.append("file", file, file.name);
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    let response: Response;
    try {
      response = await fetch(url, { method: "POST", body: form, headers: { ...STUDIO_HEADER } });
    } catch (err) {
      throw new ApiError(0, "network", `the studio server cannot be reached (${String(err)})`);
    }
    return parse<T>(response);
  },
  async uploadForm<T>(url: string, form: FormData): Promise<T> {
    let response: Response;
    try {
      response = await fetch(url, { method: "POST", body: form, headers: { ...STUDIO_HEADER } });
    } catch (err) {
      throw new ApiError(0, "network", `the studio server cannot be reached (${String(err)})`);
    }
    return parse<T>(response);
  },
};
