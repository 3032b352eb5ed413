/*
 * Calls to Framecast's JSON API from the pages. The API token (admin, read or upload) is kept
 * in localStorage, where the upload page saves it, and sent as a Bearer token so that its
 * holder sees their own unlisted, private and still-processing videos.
 */
const TOKEN_KEY = 'framecast.token';

/** The saved API token, or '' without one. */
export function savedToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

export function saveToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage may be disabled: the token then lasts as long as the page
  }
}

/** `{Authorization}` for the saved (or given) token, or nothing. */
export function authHeaders(token = savedToken()) {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/**
 * A JSON API call. Resolves `{ body }` on success or `{ error: { code, message, retryable }, status }`;
 * never rejects. A saved token the server refuses (401) is dropped for an anonymous retry,
 * so a stale token does not break reading pages (`tokenRejected` says so).
 * @param {string} path
 * @param {{ method?: string, body?: unknown, token?: string }} [options]
 */
export async function apiCall(path, options = {}) {
  const token = options.token ?? savedToken();
  const headers = { accept: 'application/json', ...authHeaders(token) };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: 'no-store',
    });
  } catch (err) {
    return { status: 0, error: { code: 'E_NETWORK', message: `The server could not be reached (${err.message}).`, retryable: true } };
  }
  const body = await response.json().catch(() => null);
  if (response.ok) return { status: response.status, body };
  if (response.status === 401 && token && (options.method ?? 'GET') === 'GET') {
    const anonymous = await apiCall(path, { ...options, token: '' });
    return { ...anonymous, tokenRejected: true };
  }
  return {
    status: response.status,
    error: {
      code: body?.error?.code ?? `HTTP ${response.status}`,
      message: body?.error?.message ?? response.statusText,
      // The server says whether trying again can help; without a body, only a server error can.
      retryable: body?.error?.retryable ?? response.status >= 500,
    },
  };
}
