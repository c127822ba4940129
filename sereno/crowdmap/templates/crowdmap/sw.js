{% load static %}/* Sereno's service worker: keeps the report form and its assets on the phone so that the
   form opens without a connection. Reports made offline wait in IndexedDB (see report.js) and
   are sent by the page when the connection returns. Nothing else is cached: no API answers,
   no report pages. */
"use strict";
var CACHE = "sereno-form-v1";
var FORM = "{% url 'crowdmap:report_form' %}";
var ASSETS = ["{% static 'public/site.css' %}", "{% static 'crowdmap/report.js' %}"];

self.addEventListener("install", function (event) {
  // The form and its own assets, so that it opens next time even without a connection.
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll([FORM].concat(ASSETS)); })
    .catch(function () {}).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n !== CACHE; }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function isForm(url) { return url.pathname === FORM; }
function isAsset(url) { return ASSETS.indexOf(url.pathname) !== -1 || url.pathname.indexOf("/static/") === 0; }

self.addEventListener("fetch", function (event) {
  var request = event.request, url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (isForm(url) && request.mode === "navigate") {
    // Network first (a fresh form), the copy on the phone when there is no connection.
    event.respondWith(fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(FORM, copy); });
      }
      return response;
    }).catch(function () {
      return caches.match(FORM).then(function (hit) { return hit || Response.error(); });
    }));
  } else if (isAsset(url) && url.pathname.indexOf("/static/vendor/") !== 0) {
    // Our own small assets: the copy on the phone at once, refreshed in the background.
    event.respondWith(caches.open(CACHE).then(function (cache) {
      return cache.match(request).then(function (hit) {
        var fresh = fetch(request).then(function (response) {
          if (response.ok) cache.put(request, response.clone());
          return response;
        });
        if (hit) { fresh.catch(function () {}); return hit; }
        return fresh;
      });
    }));
  }
});

// Background Sync (Chrome on Android): the reports waiting in the phone's outbox are sent when
// the connection returns even if no Sereno page is open. The page sends them too; both use the
// report's own Idempotency-Key, so the server keeps exactly one.
function outbox(mode, action) {
  return new Promise(function (ok, fail) {
    var req = indexedDB.open("sereno-outbox", 1);
    req.onupgradeneeded = function () { req.result.createObjectStore("outbox", { keyPath: "key" }); };
    req.onerror = function () { fail(req.error); };
    req.onsuccess = function () {
      var tx = req.result.transaction("outbox", mode), r = action(tx.objectStore("outbox"));
      tx.oncomplete = function () { ok(r && r.result); };
      tx.onerror = function () { fail(tx.error); };
    };
  });
}

// An open form page learns that its report went out from here, with the reference to show.
function tellPages(key, reference) {
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (pages) {
    pages.forEach(function (page) { page.postMessage({ type: "sereno-sent", key: key, reference: reference }); });
  });
}

function sendWaiting() {
  return outbox("readonly", function (s) { return s.getAll(); }).then(function (items) {
    return Promise.all(items.map(function (item) {
      var body = new FormData();
      item.fields.forEach(function (pair) { body.append(pair[0], pair[1]); });
      return fetch(FORM, { method: "POST", body: body, credentials: "omit",
        headers: { "Idempotency-Key": item.key, Accept: "application/json" } })
        .then(function (response) {
          // Refused reports stay for the page, which puts them back in the form.
          if (response.ok) {
            return response.json().then(function (result) {
              return outbox("readwrite", function (s) { return s["delete"](item.key); })
                .then(function () { return tellPages(item.key, result.reference); });
            });
          }
          if (response.status >= 500 || response.status === 429) throw new Error("retry later");
        });
    }));
  });
}

self.addEventListener("sync", function (event) {
  if (event.tag === "sereno-outbox") event.waitUntil(sendWaiting());
});
