// The app's texts, from the bot's gettext catalogs (/i18n/<lang>.json).
//
// The language is the one chosen in the menu (kept on this device), else the
// browser's Accept-Language (/i18n/auto.json: the server picks the best catalog,
// or BOT_LANGUAGE). Message ids are the English texts: HTML marks them with
// data-i18n (the element's text) and data-i18n-attrs (attribute names), scripts
// with tr("…") and N_("…"). scripts/i18n extracts them all with Babel.

const CHOSEN = "tauro.lang";
let messages = {};
let current = "en";
let names = { en: "English" };

/** Mark a text for extraction; translate it later with tr(). */
export const N_ = (id) => id;

/** The text for ``id`` in the current language, with {name} placeholders filled. */
export function tr(id, params = {}) {
  const text = messages[id] || id;
  return text.replace(/\{(\w+)\}/g, (whole, key) => (key in params ? String(params[key]) : whole));
}

export function currentLanguage() {
  return current;
}

/** The language picked in the menu, or null to follow the browser. */
export function chosenLanguage() {
  try {
    return localStorage.getItem(CHOSEN);
  } catch {
    return null;
  }
}

export function chooseLanguage(code) {
  try {
    localStorage.setItem(CHOSEN, code);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}

/** Load the catalog, then translate the page. English (the ids) when it cannot be had. */
export async function loadLanguage() {
  const chosen = chosenLanguage();
  try {
    const response = await fetch(`/i18n/${chosen || "auto"}.json`, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const catalog = await response.json();
    messages = catalog.messages;
    current = catalog.language;
    names = catalog.languages;
  } catch (error) {
    console.warn("texts not loaded, showing English:", error);
  }
  document.documentElement.lang = current;
  translatePage();
  return current;
}

function collapse(text) {
  return text.replace(/\s+/g, " ").trim();
}

/** Put every marked text of the page in the current language (idempotent). */
export function translatePage(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    if (!element.dataset.i18nId) element.dataset.i18nId = collapse(element.textContent);
    element.textContent = tr(element.dataset.i18nId);
  }
  for (const element of root.querySelectorAll("[data-i18n-attrs]")) {
    for (const name of element.dataset.i18nAttrs.split(/\s+/).filter(Boolean)) {
      const key = `i18nAttr${name.replace(/(^|-)(\w)/g, (_, dash, c) => c.toUpperCase())}`;
      if (!element.dataset[key]) element.dataset[key] = collapse(element.getAttribute(name) || "");
      element.setAttribute(name, tr(element.dataset[key]));
    }
  }
  if (document.title && root === document) {
    const titled = document.querySelector("title[data-i18n]");
    if (titled) document.title = titled.textContent;
  }
}

/** Fill a <select> with the languages that have a catalog; choosing one reloads the page. */
export function languageMenu(select) {
  if (!select) return;
  select.replaceChildren();
  for (const [code, name] of Object.entries(names)) {
    const option = document.createElement("option");
    option.value = code;
    option.textContent = name;
    option.selected = code === current;
    select.append(option);
  }
  select.hidden = false;
  select.addEventListener("change", () => {
    chooseLanguage(select.value);
    location.reload();
  });
}
