// What the headcast pages share: the API key the user types (kept in localStorage), fetch
// with it, and the message line. Loaded before each page's own script.
"use strict";

const KEY_STORAGE = "headcast.apiKey";

const $ = (id) => document.getElementById(id);

function authHeaders() {
  const key = $("api-key").value.trim();
  return key ? { "X-API-Key": key } : {};
}

// fetch with the key; throws an Error carrying the service's JSON error message.
async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { ...authHeaders(), ...(options.headers || {}) },
  });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && body.error) message = body.error.message;
    } catch (_) { /* not JSON */ }
    const retry = response.headers.get("Retry-After");
    throw new Error(retry ? `${message} (retry in ${retry} s)` : message);
  }
  return response;
}

// The line under the controls: progress, or an error in red.
function showMessage(text, isError = false) {
  const el = $("message");
  el.textContent = text;
  el.classList.toggle("error", isError);
}

// Fills the key field from the last visit and keeps what the user types; onChange runs after.
function rememberKey(onChange = () => {}) {
  const input = $("api-key");
  input.value = localStorage.getItem(KEY_STORAGE) || "";
  input.addEventListener("change", () => {
    localStorage.setItem(KEY_STORAGE, input.value.trim());
    onChange();
  });
}
