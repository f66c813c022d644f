// The pages' one way to talk to the service: relative URLs (the pages work under a path prefix),
// the session cookie, the CSRF token on every change, problem+json errors as ApiError.

let csrf = null;

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.body = body ?? {};
  }
}

export function setCsrf(token) { csrf = token; }

/** `path` relative to the page's /verification/ base ("villages" -> /verification/villages). */
export function url(path) {
  return new URL(path, new URL('verification/', document.baseURI)).href;
}

export async function call(method, path, { json, body, type } = {}) {
  const headers = {};
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf ?? '';
  let payload = body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(json);
  } else if (type) {
    headers['Content-Type'] = type;
  }
  let response;
  try {
    response = await fetch(url(path), { method, headers, body: payload, credentials: 'same-origin' });
  } catch (err) {
    throw new ApiError(0, { detail: 'offline' });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text.slice(0, 200) }; }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    error.retryAfter = Number(response.headers.get('Retry-After') ?? 0);
    throw error;
  }
  return data;
}

export const get = (path) => call('GET', path);

/** An element with children: el('li', {class: 'x', onclick}, 'text', child). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
