// What every page of the app shares: the service worker, the state badge, API calls.

/** Register the service worker; show the banner when a new app version is in control. */
export function startServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  const hadController = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    // The first install is not an update: nothing on screen came from an old version.
    if (hadController) showUpdateBanner();
  });
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data && event.data.type === "shell-updated") showUpdateBanner();
  });
  navigator.serviceWorker
    .register("/service-worker.js", { scope: "/", updateViaCache: "none" })
    .catch((error) => console.warn("service worker not registered:", error));
}

function showUpdateBanner() {
  const banner = document.getElementById("update");
  if (!banner) return;
  banner.hidden = false;
  document.getElementById("reload")?.addEventListener("click", () => location.reload(), { once: true });
}

const STATE_TEXT = {
  connecting: "Connecting…",
  ready: "Ready",
  thinking: "Thinking…",
  writing: "Writing…",
  offline: "Offline",
  "llm-unreachable": "LLM unreachable",
  error: "Error",
};

/** Show one of the named states in the header badge (also read by screen readers). */
export function setState(state, text) {
  const badge = document.getElementById("state");
  if (!badge) return;
  badge.dataset.state = state;
  badge.textContent = text || STATE_TEXT[state] || state;
  document.body.dataset.state = state;
}

export class Offline extends Error {}
export class Unauthorized extends Error {}

/** fetch() for the JSON API: Offline when the server cannot be reached, Unauthorized on 401. */
export async function api(path, { method = "GET", body, signal } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      signal,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new Offline(String(error));
  }
  if (response.status === 401) throw new Unauthorized("log in first");
  return response;
}

/** The reason a JSON error response gives, for showing to the user. */
export async function reasonOf(response) {
  try {
    const data = await response.json();
    return data.error || `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

export function goToLogin(next) {
  const target = next ? `/login?next=${encodeURIComponent(next)}` : "/login";
  location.replace(target);
}
