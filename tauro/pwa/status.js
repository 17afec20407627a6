// The status page: polls /api/status and shows it; the same numbers are at /metrics.
import { api, goToLogin, Offline, reasonOf, setState, startServiceWorker, Unauthorized } from "/shell.js";

const POLL_MS = 2000;
const $ = (id) => document.getElementById(id);

startServiceWorker();

function cell(row, value, header = false) {
  const element = document.createElement(header ? "th" : "td");
  if (header) element.scope = "row";
  element.textContent = value === null || value === undefined ? "–" : String(value);
  row.append(element);
}

function seconds(value) {
  if (value === null || value === undefined) return "–";
  return value < 1 ? `${Math.round(value * 1000)} ms` : `${value.toFixed(2)} s`;
}

function renderActors(actors) {
  const body = $("actors").tBodies[0];
  body.replaceChildren();
  for (const actor of actors) {
    const row = body.insertRow();
    row.dataset.actor = actor.name;
    cell(row, actor.name, true);
    cell(row, actor.state);
    cell(row, actor.restarts);
    cell(row, actor.mailbox_depth);
    cell(row, actor.handled);
  }
}

function renderLatency(llm) {
  const body = $("llm").tBodies[0];
  body.replaceChildren();
  for (const [label, values] of [["First token", llm.first_token], ["Whole answer", llm.total]]) {
    const row = body.insertRow();
    cell(row, label, true);
    for (const key of ["p50", "p95", "p99", "max"]) cell(row, seconds(values[key]));
  }
  renderCounters("llm-counters", llm.counters);
}

function shown(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number" && !Number.isInteger(value)) return value.toFixed(2);
  return String(value);
}

function renderCounters(id, values) {
  const list = $(id);
  list.replaceChildren();
  const entries = Object.entries(values);
  if (!entries.length) entries.push(["not_running", null]);
  for (const [key, value] of entries) {
    const term = document.createElement("dt");
    term.textContent = key.replaceAll("_", " ");
    const detail = document.createElement("dd");
    detail.dataset.key = key;
    detail.textContent = shown(value);
    list.append(term, detail);
  }
}

async function refresh() {
  try {
    const response = await api("/api/status");
    if (!response.ok) throw new Error(await reasonOf(response));
    const report = await response.json();
    renderActors(report.actors);
    renderLatency(report.llm);
    renderCounters("memory", report.memory);
    renderCounters("voice", report.voice);
    renderCounters("web", report.web);
    $("uptime").textContent = `Up ${Math.round(report.uptime_s)} s.`;
    setState("ready", "Live");
  } catch (error) {
    if (error instanceof Unauthorized) return goToLogin("status");
    if (error instanceof Offline) setState("offline");
    else setState("error", String(error.message || error));
  }
}

refresh();
setInterval(refresh, POLL_MS);
