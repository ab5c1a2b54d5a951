/* The grid worker's pages, reopened offline (docs/adr/0013-worker-pages-offline.md).
 *
 * Served at /work/sw.js by screening.worker_views.worker_service_worker, which puts
 * `"use strict"; var CONFIG = {...};` in front of this file: the cache version, the static
 * URL prefix and the worker pages' static files under the names static() gives them
 * (hashed when DEBUG is off).
 *
 * Pages under the scope go to the network first; if it has not answered within TIMEOUT,
 * or fails, the copy kept from the last good answer is shown, marked so the page says it is
 * a copy. Static files are served from the cache first. Nothing else is touched: no POST,
 * nothing under /api/, so the check queue always talks to the server itself.
 */

var PREFIX = "gridcmd-work-";
var CACHE = PREFIX + CONFIG.version;
var TIMEOUT = 4000;
var SCOPE = new URL(self.registration.scope).pathname;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE)
      .then(function (cache) { return cache.addAll(CONFIG.assets); })
      .then(function () { return self.skipWaiting(); })
  );
});

// A new deployment has a new version: its cache replaces the old ones, pages included
// (they refer to the old static file names).
self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (names) {
        return Promise.all(names.filter(function (name) {
          return name.indexOf(PREFIX) === 0 && name !== CACHE;
        }).map(function (name) { return caches.delete(name); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.indexOf("/api/") === 0) return;
  if (request.mode === "navigate" && url.pathname.indexOf(SCOPE) === 0) {
    event.respondWith(page(event));
  } else if (url.pathname.indexOf(CONFIG.staticUrl) === 0) {
    event.respondWith(asset(event));
  }
});

function page(event) {
  var request = event.request;
  var network = fetch(request);
  // Kept even when it answers after the timeout; cloned at once, before the page reads it.
  // Status 200 only: a redirect to the login page, a 404 or a 500 is never kept.
  event.waitUntil(network.then(function (response) {
    if (response.status !== 200 || response.type !== "basic") return;
    var copy = response.clone();
    return caches.open(CACHE).then(function (cache) { return cache.put(request, copy); });
  }).catch(function () {}));
  var late = new Promise(function (resolve, reject) { setTimeout(reject, TIMEOUT); });
  return Promise.race([network, late]).catch(function () {
    // The pages' Vary (Cookie, Accept-Language) is ignored: the cache is this browser's
    // own, for one user at a time, and the login page clears it (see the ADR).
    return caches.match(request, { cacheName: CACHE, ignoreVary: true }).then(function (kept) {
      return kept ? marked(kept) : network; // nothing kept: wait for the network after all
    });
  });
}

// The page cannot see how it was delivered, so the copy says it on its <html> element;
// static/js/checkqueue.js then shows the offline notice.
function marked(response) {
  return response.text().then(function (html) {
    var headers = new Headers(response.headers);
    headers.delete("Content-Length");
    return new Response(html.replace("<html", "<html data-offline-copy"), {
      status: response.status, statusText: response.statusText, headers: headers
    });
  });
}

function asset(event) {
  var request = event.request;
  return caches.open(CACHE).then(function (cache) {
    return cache.match(request).then(function (kept) {
      return kept || fetch(request).then(function (response) {
        if (response.status === 200) event.waitUntil(cache.put(request, response.clone()));
        return response;
      });
    });
  });
}
