// What every page of the app shares: the service worker, the state badge, API calls.
import { currentLanguage, N_, tr } from "/i18n.js";

/** Register the service worker; show the banner when a new app version is in control. */
export function startServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  let controlled = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    // The first install is not an update: nothing on screen came from an old version.
    if (controlled) showUpdateBanner();
    controlled = true;
  });
  navigator.serviceWorker.addEventListener("message", (event) => {
    const data = event.data || {};
    // Only a change after this page started loading means the page shows old files.
    if (data.type === "shell-updated" && data.changedAt >= performance.timeOrigin) {
      showUpdateBanner();
    }
  });
  navigator.serviceWorker
    .register("/service-worker.js", { scope: "/", updateViaCache: "none" })
    .catch((error) => console.warn("service worker not registered:", error));
  navigator.serviceWorker.ready.then((registration) => {
    registration.active?.postMessage({ type: "shell-status" });
  });
}

function showUpdateBanner() {
  const banner = document.getElementById("update");
  if (!banner) return;
  banner.hidden = false;
  document.getElementById("reload")?.addEventListener("click", () => location.reload(), { once: true });
}

const STATE_TEXT = {
  connecting: N_("Connecting…"),
  ready: N_("Ready"),
  thinking: N_("Thinking…"),
  writing: N_("Writing…"),
  offline: N_("Offline"),
  "llm-unreachable": N_("LLM unreachable"),
  unsaved: N_("Cannot save"),
  error: N_("Error"),
};

// The longer explanation under the header, for the states that need one.
const NOTICE_TEXT = {
  offline: N_("You are offline, or the bot cannot be reached. Sending is possible again as soon as it is back."),
  "llm-unreachable": N_("The bot is running, but its language model server does not answer. Try again in a while."),
  unsaved: N_("The bot cannot save messages right now (its disk is full or failing), so it does not answer. Your question stays in the box until it can be stored."),
};

/** Show one of the named states in the header badge (also read by screen readers). */
export function setState(state, text) {
  const badge = document.getElementById("state");
  if (!badge) return;
  badge.dataset.state = state;
  badge.textContent = text || (state in STATE_TEXT ? tr(STATE_TEXT[state]) : state);
  document.body.dataset.state = state;
  const notice = document.getElementById("notice");
  if (notice) {
    notice.hidden = !(state in NOTICE_TEXT);
    notice.textContent = state in NOTICE_TEXT ? tr(NOTICE_TEXT[state]) : "";
  }
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
      // The language of the texts the server writes (notices in an answer's stream).
      headers: {
        "Accept-Language": currentLanguage(),
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
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
