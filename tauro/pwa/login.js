// The login page: a link from the bot's log carries the secret in the #fragment
// (never sent to the server in a URL, so it stays out of logs and history).
import { loadLanguage, tr } from "/i18n.js";
import { startServiceWorker } from "/shell.js";

startServiceWorker();
await loadLanguage();

const form = document.getElementById("login");
const input = document.getElementById("token");
const problem = document.getElementById("problem");

function nextPage() {
  const next = new URLSearchParams(location.search).get("next");
  return next === "status" ? "/status" : "/";
}

async function logIn(token) {
  problem.hidden = true;
  let response;
  try {
    response = await fetch("/api/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token }),
    });
  } catch {
    return showProblem(tr("You are offline: the bot cannot be reached."));
  }
  if (response.status === 204) return location.replace(nextPage());
  showProblem(await failure(response));
}

async function failure(response) {
  if (response.status === 401) return tr("That secret is not right.");
  if (response.status === 429) {
    const wait = response.headers.get("Retry-After") || "?";
    return tr("Too many wrong secrets: wait {seconds} s before the next try.", { seconds: wait });
  }
  return tr("Login failed (HTTP {status}).", { status: response.status });
}

function showProblem(text) {
  problem.textContent = text;
  problem.hidden = false;
  input.focus();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  logIn(input.value.trim());
});

// The link may be opened in a tab already on /login: then only the #fragment
// changes and the page does not reload, so the fragment is read on both.
function logInFromLink() {
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("token");
  if (!fromLink) return;
  history.replaceState(null, "", location.pathname + location.search); // drop the secret from the address bar
  logIn(fromLink);
}

window.addEventListener("hashchange", logInFromLink);
logInFromLink();
