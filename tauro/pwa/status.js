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

const SVG = "http://www.w3.org/2000/svg";
const SLOTS = 60; // minutes shown, the newest on the right
const WIDTH = 120;
const HEIGHT = 40;

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  return element;
}

// One small chart drawn from the samples: bars for counts, a line for latency.
function drawChart(figure, minutes) {
  const key = figure.dataset.key;
  const values = minutes.map((minute) => minute[key]);
  const known = values.filter((value) => value !== null && value !== undefined);
  const top = Math.max(1, ...known);
  const slot = WIDTH / SLOTS;
  const x = (index) => WIDTH - (values.length - index) * slot;
  const y = (value) => HEIGHT - (value / top) * (HEIGHT - 2);
  const svg = figure.querySelector("svg");
  svg.replaceChildren(svgElement("line", { class: "axis", x1: 0, y1: HEIGHT, x2: WIDTH, y2: HEIGHT }));
  if (figure.dataset.kind === "bars") {
    values.forEach((value, index) => {
      if (!value) return;
      const height = HEIGHT - y(value);
      svg.append(svgElement("rect", { class: "bar", x: x(index) + slot * 0.1, y: y(value), width: slot * 0.8, height }));
    });
  } else {
    const points = values.map((value, index) => (value === null || value === undefined) ? null : `${x(index) + slot / 2},${y(value)}`);
    const runs = points.join(" ").split(/\s*null\s*/).filter((run) => run.trim());
    for (const run of runs) {
      const coordinates = run.trim().split(" ");
      if (coordinates.length > 1) svg.append(svgElement("polyline", { class: "line", points: run.trim() }));
      else {
        const [cx, cy] = coordinates[0].split(",");
        svg.append(svgElement("circle", { class: "dot", cx, cy, r: 1 }));
      }
    }
  }
  const last = known.length ? known[known.length - 1] : null;
  const total = known.reduce((sum, value) => sum + value, 0);
  const summary = figure.dataset.kind === "bars" ? `${total} in ${values.length} min` : (last === null ? "–" : `${Math.round(last)} ms`);
  figure.querySelector(".figure").textContent = summary;
  figure.dataset.samples = String(values.length);
  svg.setAttribute("aria-label", `${figure.querySelector("figcaption").firstChild.textContent.trim()}: ${summary}`);
}

async function refreshCharts() {
  const response = await api("/api/status/history");
  if (!response.ok) throw new Error(await reasonOf(response));
  const { minutes } = await response.json();
  for (const figure of document.querySelectorAll("#charts figure")) drawChart(figure, minutes.slice(-SLOTS));
  $("charts-empty").hidden = minutes.length > 0;
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
    await refreshCharts();
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
