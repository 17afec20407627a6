// TauroBot's service worker.
//
// App shell: stale-while-revalidate. A shell request is answered from the cache at
// once and refreshed from the network in the background (kept alive by
// event.waitUntil); the first request of a file that is not cached yet waits for
// the network. Every network request gives up after 5 seconds.
// Never cached: anything but GET, other origins, /api/*, /metrics, server-sent
// event streams and this script itself (the browser updates it on its own).
// Offline and not cached: navigations get offline.html.
//
// Versions: caches are named after VERSION. A new VERSION installs its complete
// shell, takes over at once (skipWaiting + clients.claim) and deletes every older
// cache; open pages then show "A new version of the app is ready" with a Reload
// button rather than reloading under the user's fingers. A shell file that changes
// on the server without a new VERSION reaches the page on the next load after the
// background refresh, and the page is told so it can offer the same Reload: the
// worker remembers when a cached file last changed and answers a page's question
// "changed since I loaded?" (a broadcast alone can miss a page still loading).

const VERSION = "v1";
const CACHE_PREFIX = "tauro-shell-";
const CACHE = `${CACHE_PREFIX}${VERSION}`;
const NETWORK_TIMEOUT_MS = 5000;
const OFFLINE_PAGE = "/offline.html";
let shellChangedAt = 0; // Date.now() of the last refresh that brought a different file
const SHELL = [
  "/",
  "/login",
  "/status",
  OFFLINE_PAGE,
  "/app.js",
  "/login.js",
  "/status.js",
  "/shell.js",
  "/i18n.js",
  "/offline.js",
  "/i18n/auto.json", // the texts in the browser's language, for the offline page
  "/style.css",
  "/manifest.webmanifest",
  "/icons/icon-192.png",
  "/icons/icon-512.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // cache: "reload" so a new version never installs files from the HTTP cache.
      await cache.addAll(SHELL.map((path) => new Request(path, { cache: "reload" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(CACHE_PREFIX) && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

function neverCached(request, url) {
  return (
    request.method !== "GET" ||
    url.origin !== self.location.origin ||
    url.pathname.startsWith("/api/") ||
    url.pathname === "/metrics" ||
    url.pathname === "/service-worker.js" ||
    (request.headers.get("Accept") || "").includes("text/event-stream")
  );
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (neverCached(event.request, url)) return; // straight to the network, never stored
  event.respondWith(staleWhileRevalidate(event, url));
});

/** fetch() that is aborted after NETWORK_TIMEOUT_MS. */
async function fetchWithTimeout(url) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), NETWORK_TIMEOUT_MS);
  try {
    return await fetch(url, { signal: controller.signal, cache: "no-cache", credentials: "same-origin" });
  } finally {
    clearTimeout(timer);
  }
}

async function staleWhileRevalidate(event, url) {
  const key = url.origin + url.pathname; // the query never selects a different shell file
  const cache = await caches.open(CACHE);
  const cached = await cache.match(key);
  const refresh = revalidate(cache, key, cached);
  if (cached) {
    event.waitUntil(refresh.catch(() => {})); // offline or slow: the cached copy stands
    return cached;
  }
  try {
    return await refresh;
  } catch {
    if (event.request.mode === "navigate") {
      const offline = await cache.match(self.location.origin + OFFLINE_PAGE);
      if (offline) return offline;
    }
    return Response.error();
  }
}

async function revalidate(cache, key, cached) {
  const response = await fetchWithTimeout(key);
  if (response.ok && response.type === "basic") {
    await cache.put(key, response.clone());
    const before = cached && cached.headers.get("ETag");
    if (before && before !== response.headers.get("ETag")) {
      shellChangedAt = Date.now();
      await announceUpdate(key);
    }
  }
  return response;
}

async function announceUpdate(key) {
  for (const client of await self.clients.matchAll({ type: "window" })) {
    client.postMessage({ type: "shell-updated", url: key, changedAt: shellChangedAt });
  }
}

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "shell-status" && event.source) {
    event.source.postMessage({ type: "shell-updated", changedAt: shellChangedAt });
  }
});
