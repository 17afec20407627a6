// The chat page: history, sending with a streamed answer, clear, voice.
import { languageMenu, loadLanguage, tr } from "/i18n.js";
import { api, goToLogin, Offline, reasonOf, setState, startServiceWorker, Unauthorized } from "/shell.js";

const $ = (id) => document.getElementById(id);
const list = $("messages");
const text = $("text");
const send = $("send");
const voice = $("voice");
const clear = $("clear");
let busy = false;
let online = false;
let voiceAvailable = false;

startServiceWorker();
await loadLanguage();
languageMenu($("language"));

/**
 * One chat bubble. The user's words and notes are text only (never HTML). An
 * answer shows `html` when given: the server's rendering of the model's
 * Markdown, sanitised there (an allow-list of tags, the model's own HTML as
 * text), parsed here in an inert <template>.
 */
function addMessage(role, content, { pending = false, html = null } = {}) {
  const item = document.createElement("li");
  item.className = `message ${role}`;
  const who = document.createElement("span");
  who.className = "visually-hidden";
  who.textContent = role === "user" ? tr("You said:") : role === "assistant" ? tr("TauroBot said:") : tr("Note:");
  const body = document.createElement(role === "assistant" ? "div" : "p");
  body.className = "content";
  if (role === "assistant") startAnswer(body, content, html);
  else body.textContent = content;
  item.append(who, body);
  if (pending) item.classList.add("pending");
  list.append(item);
  $("empty").hidden = true;
  item.scrollIntoView({ block: "end" });
  return item;
}

// An answer's body: the rendered blocks, then `tail`, the raw text that arrived
// after the last rendering (shown at once, replaced by the next rendering).
function startAnswer(body, markdown, html) {
  body.markdown = markdown;
  body.blocks = [];
  body.tail = document.createElement("span");
  body.tail.className = "tail";
  body.append(body.tail);
  if (html !== null) showRendered(body, html);
  else body.tail.textContent = markdown;
}

/**
 * Show a new rendering without flicker: blocks whose HTML did not change stay
 * in place (a code block being copied, a selection); only the rest is replaced.
 */
function showRendered(body, html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  body.append(body.tail); // out of the last block, which may be replaced
  const fresh = [...template.content.childNodes].filter((node) => !isBlank(node));
  let same = 0;
  while (same < fresh.length && same < body.blocks.length
         && body.blocks[same].source === sourceOf(fresh[same])) same++;
  for (const old of body.blocks.slice(same)) old.node.remove();
  const added = fresh.slice(same).map((node) => ({ source: sourceOf(node), node: withCopyButtons(node) }));
  for (const block of added) body.insertBefore(block.node, body.tail);
  body.blocks = body.blocks.slice(0, same).concat(added);
  body.rendered = html;
  body.tail.textContent = "";
  lastBlockOf(body).append(body.tail);
}

function isBlank(node) {
  return node.nodeType === Node.TEXT_NODE && !node.textContent.trim();
}

function sourceOf(node) {
  return node.nodeType === Node.ELEMENT_NODE ? node.outerHTML : node.textContent;
}

/** Where streamed text continues: the innermost last block (paragraph, item, code). */
function lastBlockOf(body) {
  let block = body.blocks.length ? body.blocks[body.blocks.length - 1].node : body;
  for (;;) {
    const last = block.lastElementChild;
    const inside = last && last !== body.tail
      && (BLOCKS.test(last.nodeName) || (block.nodeName === "PRE" && last.nodeName === "CODE"));
    if (!inside) return block;
    block = last;
  }
}

const BLOCKS = /^(P|H[1-6]|UL|OL|LI|BLOCKQUOTE|DIV|PRE)$/;

/** Each code block in a box with a "Copy" button (copies the code, not the button). */
function withCopyButtons(node) {
  if (node.nodeType !== Node.ELEMENT_NODE) return node;
  const blocks = node.nodeName === "PRE" ? [node] : [...node.querySelectorAll("pre")];
  let outer = node;
  for (const pre of blocks) {
    const box = document.createElement("div");
    box.className = "code";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = tr("Copy");
    button.setAttribute("aria-label", tr("Copy code"));
    button.addEventListener("click", () => copyCode(pre, button));
    if (pre === node) outer = box;
    else pre.replaceWith(box);
    box.append(button, pre);
  }
  return outer;
}

async function copyCode(pre, button) {
  try {
    await navigator.clipboard.writeText(pre.textContent.replace(/\n$/, ""));
    button.textContent = tr("Copied");
  } catch {
    button.textContent = tr("Copy failed");
  }
  setTimeout(() => { button.textContent = tr("Copy"); }, 1500);
}

function addNote(content, kind = "error") {
  const item = addMessage("note", content);
  item.classList.add(kind);
  item.setAttribute("role", "alert");
  return item;
}

function setEnabled(enabled) {
  text.disabled = !enabled;
  send.disabled = !enabled || busy;
  voice.disabled = !enabled;
  clear.disabled = !enabled || busy;
}

function showVoice(on) {
  voice.setAttribute("aria-pressed", String(on));
  voice.textContent = on ? tr("Voice answers: on") : tr("Voice answers: off");
}

// The last messages are kept on this device so the chat still shows them offline.
const SAVED = "tauro.history";
const SAVED_MAX = 50;

function saveHistory() {
  const items = [...list.querySelectorAll(".message.user, .message.assistant")]
    .filter((item) => !item.classList.contains("pending"))
    .slice(-SAVED_MAX)
    .map((item) => {
      const content = item.querySelector(".content");
      return item.classList.contains("user")
        ? { role: "user", content: content.textContent }
        : { role: "assistant", content: content.markdown, html: content.rendered ?? null };
    });
  try {
    localStorage.setItem(SAVED, JSON.stringify(items));
  } catch {
    // storage full or disabled: offline viewing is a convenience only
  }
}

function forgetHistory() {
  localStorage.removeItem(SAVED);
}

function showSaved() {
  if (list.children.length) return;
  let items = [];
  try {
    items = JSON.parse(localStorage.getItem(SAVED) || "[]");
  } catch {
    items = [];
  }
  for (const item of items) addMessage(item.role, item.content, { html: item.html ?? null });
  if (items.length) {
    const note = document.createElement("li");
    note.className = "saved-note";
    note.textContent = tr("Saved on this device; new messages will show once the bot is reachable.");
    list.append(note);
  }
}

async function loadHistory() {
  setState("connecting");
  try {
    const response = await api("/api/history");
    if (!response.ok) throw new Error(await reasonOf(response));
    const data = await response.json();
    list.replaceChildren();
    for (const message of data.messages) {
      addMessage(message.role, message.content, { html: message.html ?? null });
    }
    $("empty").hidden = data.messages.length > 0;
    saveHistory();
    voiceAvailable = data.voice_available;
    voice.hidden = !voiceAvailable;
    showVoice(data.voice);
    online = true;
    setState("ready");
    setEnabled(true);
    text.focus();
  } catch (error) {
    handleFailure(error);
  }
}

function handleFailure(error) {
  if (error instanceof Unauthorized) return goToLogin();
  online = false;
  setEnabled(false);
  if (error instanceof Offline) {
    setState("offline");
    showSaved();
  } else {
    setState("error", String(error.message || error));
  }
}

/** Split a server-sent-events buffer into complete frames; return the unfinished rest. */
function parseFrames(buffer, onFrame) {
  let index;
  while ((index = buffer.indexOf("\n\n")) >= 0) {
    const frame = buffer.slice(0, index);
    buffer = buffer.slice(index + 2);
    let event = "message";
    const data = [];
    for (const line of frame.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trim());
    }
    if (data.length) onFrame(event, JSON.parse(data.join("\n")));
  }
  return buffer;
}

async function sendMessage(message) {
  busy = true;
  setEnabled(true);
  const asked = addMessage("user", message);
  const answer = addMessage("assistant", "", { pending: true });
  answer.asked = { bubble: asked, message };
  const content = answer.querySelector(".content");
  setState("thinking");
  let finished = false;
  try {
    const response = await api("/api/chat", { method: "POST", body: { text: message } });
    if (!response.ok) throw new Error(await reasonOf(response));
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer = parseFrames(buffer + value, (event, data) => {
        finished = onEvent(event, data, answer, content) || finished;
      });
    }
    if (!finished) throw new Offline("the answer stopped before it was complete");
  } catch (error) {
    answer.remove();
    if (error instanceof Unauthorized) return goToLogin();
    if (error instanceof Offline) {
      addNote(tr("The connection was lost; your message may not have been answered. Try again."));
      setState("offline");
    } else {
      addNote(String(error.message || error));
      setState("error", tr("Not sent"));
    }
  } finally {
    busy = false;
    setEnabled(online);
    if (document.getElementById("state").dataset.state === "writing") setState("ready");
    text.focus();
  }
}

/** Handle one streamed event; true once the answer is complete or failed. */
function onEvent(event, data, answer, content) {
  if (event === "delta") {
    content.markdown += data.text;
    content.tail.textContent += data.text;
    setState("writing");
    answer.scrollIntoView({ block: "end" });
  } else if (event === "render") {
    showRendered(content, data.html);
    answer.scrollIntoView({ block: "end" });
  } else if (event === "voice") {
    addAudio(answer, data.url);
    setState("ready");
  } else if (event === "voice_failed") {
    addVoiceFailed(answer, data.message);
    setState("ready");
  } else if (event === "done") {
    content.markdown = data.text;
    if (content.rendered === undefined) content.tail.textContent = data.text;
    answer.classList.remove("pending");
    saveHistory();
    const speaking = voiceAvailable && voice.getAttribute("aria-pressed") === "true";
    setState(speaking ? "writing" : "ready", speaking ? tr("Preparing voice…") : undefined);
    return true;
  } else if (event === "error" && data.kind === "memory_unwritable") {
    keepUnsaved(answer);
    addNote(data.message);
    setState("unsaved");
    return true;
  } else if (event === "error") {
    if (!content.textContent) answer.remove();
    else answer.classList.remove("pending");
    addNote(tr(data.message)); // already translated by the server, except "shutdown"
    setState(data.kind === "llm_unreachable" ? "llm-unreachable" : "error",
             data.kind === "llm_unreachable" ? tr("LLM unreachable") : undefined);
    return true;
  }
  return false;
}

/** The bot could not store the question: it goes back into the box, not into the history. */
function keepUnsaved(answer) {
  const { bubble, message } = answer.asked;
  answer.remove();
  bubble.remove();
  if (!text.value.trim()) {
    text.value = message;
    autoGrow();
  }
}

/** No voice this time: a small line under the answer, not an alert (the text is all there). */
function addVoiceFailed(answer, message) {
  const line = document.createElement("small");
  line.className = "voice-failed";
  line.textContent = `(${message})`;
  answer.append(line);
}

function addAudio(answer, url) {
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.preload = "auto";
  audio.src = url;
  audio.setAttribute("aria-label", tr("Voice answer"));
  answer.append(audio);
  audio.play().catch(() => {}); // autoplay may be refused; the controls stay usable
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const message = text.value.trim();
  if (!message || busy || !online) return;
  text.value = "";
  autoGrow();
  sendMessage(message);
});

text.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});

function autoGrow() {
  text.style.height = "auto";
  text.style.height = `${Math.min(text.scrollHeight, 160)}px`;
}
text.addEventListener("input", autoGrow);

voice.addEventListener("click", async () => {
  const wanted = voice.getAttribute("aria-pressed") !== "true";
  try {
    const response = await api("/api/voice", { method: "POST", body: { enabled: wanted } });
    if (!response.ok) throw new Error(await reasonOf(response));
    showVoice((await response.json()).voice);
  } catch (error) {
    handleFailure(error);
  }
});

clear.addEventListener("click", async () => {
  if (!confirm(tr("Forget this whole conversation? This cannot be undone."))) return;
  try {
    const response = await api("/api/clear", { method: "POST", body: {} });
    if (!response.ok) throw new Error(await reasonOf(response));
    list.replaceChildren();
    forgetHistory();
    $("empty").hidden = false;
    text.focus();
  } catch (error) {
    handleFailure(error);
  }
});

$("logout").addEventListener("click", async () => {
  forgetHistory();
  try {
    await api("/api/logout", { method: "POST", body: {} });
  } finally {
    goToLogin();
  }
});

window.addEventListener("online", () => { if (!online) loadHistory(); });
window.addEventListener("offline", () => {
  online = false;
  setEnabled(false);
  setState("offline");
});

loadHistory();
