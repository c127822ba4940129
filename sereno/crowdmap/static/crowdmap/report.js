/* The report form, better with JavaScript: place autocomplete, "use my location", a map to tap
   (Leaflet loaded only when asked for), and an outbox on the phone (IndexedDB) so that a report
   made without a connection is sent when the connection returns — exactly once, because every
   retry carries the same Idempotency-Key. Without JavaScript the form is a plain POST. */
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  if (!form || !window.fetch || !window.FormData || !window.Promise) return;
  var d = form.dataset;
  var statusBox = document.getElementById("outbox-status");
  var sentBox = document.getElementById("sent-box");
  var locStatus = document.getElementById("location-status");
  var f = form.elements;
  var STORE = "outbox";

  Array.prototype.forEach.call(document.querySelectorAll(".js-only"), function (n) { n.hidden = false; });
  if (navigator.serviceWorker && d.sw) navigator.serviceWorker.register(d.sw).catch(function () {});

  // --- outbox (IndexedDB) -------------------------------------------------------------------
  var dbPromise = null;
  function db() {
    if (!window.indexedDB) return Promise.reject(new Error("no IndexedDB"));
    if (!dbPromise) {
      dbPromise = new Promise(function (ok, fail) {
        var req = indexedDB.open("sereno-outbox", 1);
        req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: "key" }); };
        req.onsuccess = function () { ok(req.result); };
        req.onerror = function () { fail(req.error); };
      });
    }
    return dbPromise;
  }
  function store(mode, action) {
    return db().then(function (conn) {
      return new Promise(function (ok, fail) {
        var tx = conn.transaction(STORE, mode), req = action(tx.objectStore(STORE));
        tx.oncomplete = function () { ok(req && req.result); };
        tx.onerror = tx.onabort = function () { fail(tx.error); };
      });
    });
  }
  var outbox = {
    put: function (item) { return store("readwrite", function (s) { return s.put(item); }); },
    remove: function (key) { return store("readwrite", function (s) { return s["delete"](key); }); },
    all: function () { return store("readonly", function (s) { return s.getAll(); }); }
  };

  function newKey() {
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return "web-" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function say(box, text) { box.textContent = text; box.hidden = !text; }

  function showWaiting() {
    return outbox.all().then(function (items) {
      if (items.length) say(statusBox, d.msgWaiting.replace("%s", items.length));
      else if (statusBox.dataset.kind !== "sent") say(statusBox, "");
      return items.length;
    }, function () { return 0; });
  }

  // One sender at a time in this page; the server's Idempotency-Key check covers the rest
  // (another tab, a retry after a lost answer).
  var flushing = null;
  function flush() {
    if (flushing) return flushing;
    flushing = outbox.all().then(function (items) {
      return items.reduce(function (chain, item) {
        return chain.then(function () { return send(item); });
      }, Promise.resolve());
    }).catch(function () {}).then(function () { flushing = null; return showWaiting(); });
    return flushing;
  }

  // After a server error, try again after 2 s, 4 s, 8 s … up to the 30 s of the regular timer
  // (a busy or restarting server, not a missing connection, which the "online" event covers).
  var retryDelay = 2000, retryTimer = null;
  function retrySoon() {
    if (retryTimer) return;
    retryTimer = setTimeout(function () { retryTimer = null; flush(); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  function send(item) {
    var body = new FormData();
    item.fields.forEach(function (pair) { body.append(pair[0], pair[1]); });
    return fetch(d.api, {
      method: "POST", body: body, credentials: "omit",
      headers: { "Idempotency-Key": item.key, Accept: "application/json" }
    }).then(function (response) {
      if (response.ok) {
        retryDelay = 2000;
        return response.json().then(function (result) {
          return outbox.remove(item.key).then(function () { sent(item, result.reference); });
        });
      }
      if (response.status === 429 || response.status === 408 || response.status >= 500) {
        retrySoon();  // the server answered but could not take it now: try again shortly
        return;
      }
      return outbox.remove(item.key).then(function () { rejected(item); });
    }, function () { /* no connection: it stays in the outbox */ });
  }

  function sent(item, reference) {
    statusBox.dataset.kind = "sent";
    if (item.key === liveKey) {
      form.hidden = true;
      document.getElementById("sent-text").textContent = d.msgSent.replace("%s", reference);
      sentBox.hidden = false;
      sentBox.dataset.reference = reference;
      sentBox.focus();
    } else {
      say(statusBox, d.msgSentQueued.replace("%s", reference));
    }
  }

  // The server refused the report (e.g. a field it does not accept): send the same fields as
  // a plain POST so the errors are shown next to the fields, in the person's language.
  // A report saved earlier and refused now goes back into the form, to be corrected and sent.
  function rejected(item) {
    if (item.key !== liveKey) {
      form.reset();
      Array.prototype.forEach.call(form.querySelectorAll("input[type=checkbox]"), function (c) { c.checked = false; });
      item.fields.forEach(function (pair) {
        var el = form.elements[pair[0]];
        if (!el || typeof pair[1] !== "string") return;
        if (el.length && el[0] && el[0].type === "checkbox") {
          Array.prototype.forEach.call(el, function (c) { if (c.value === pair[1]) c.checked = true; });
        } else if (el.type === "checkbox") el.checked = true;
        else el.value = pair[1];
      });
    }
    liveSubmit = false;
    HTMLFormElement.prototype.submit.call(form);
  }

  // Chrome on Android can send the outbox from the service worker when the connection returns,
  // even with no Sereno page open.
  function askForBackgroundSync() {
    if (!navigator.serviceWorker) return;
    navigator.serviceWorker.ready.then(function (reg) {
      if (reg.sync) return reg.sync.register("sereno-outbox");
    }).catch(function () {});
  }

  // --- submission ---------------------------------------------------------------------------
  function fields(key) {
    f.token.value = key;  // the server's intake key: every retry of this report carries it
    var out = [];
    new FormData(form).forEach(function (value, name) {
      if (value instanceof Blob && !value.size) return;  // no photo chosen
      out.push([name, value]);
    });
    return out;
  }

  var liveSubmit = true, liveKey = null, submitting = false;
  form.addEventListener("submit", function (event) {
    if (!liveSubmit) return;
    if (!form.checkValidity()) {
      if (navigator.onLine) return;  // the server answers with the errors in the page's language
      event.preventDefault();
      form.reportValidity();
      return;
    }
    event.preventDefault();
    if (submitting) return;  // a second tap while the first is on its way is not a new report
    submitting = true;
    var key = newKey();
    var item = { key: key, fields: fields(key), created: Date.now() };
    liveKey = item.key;
    say(statusBox, d.msgSending);
    // Kept on the phone before the first try: if the connection or the page dies mid-way,
    // the report is still there, and its retry carries the same key.
    outbox.put(item).then(flush).then(function () {
      return outbox.all().then(function (items) {
        if (items.some(function (i) { return i.key === item.key; })) {
          say(statusBox, d.msgQueued);
          askForBackgroundSync();
          form.reset();
          clearLocation();
        }
        submitting = false;
      });
    }, function () {
      // No IndexedDB (private mode on some phones): the plain POST still works.
      liveSubmit = false;
      HTMLFormElement.prototype.submit.call(form);
    });
  });

  // The service worker may send a waiting report itself (Background Sync): it says so here.
  if (navigator.serviceWorker) {
    navigator.serviceWorker.addEventListener("message", function (event) {
      var m = event.data || {};
      if (m.type === "sereno-sent" && m.key && m.reference) {
        sent({ key: m.key }, m.reference);
        showWaiting();
      }
    });
  }

  window.addEventListener("online", flush);
  setInterval(function () { if (navigator.onLine) flush(); }, 30000);
  flush();

  // --- location -----------------------------------------------------------------------------
  function setLocation(lat, lon, precision, message) {
    f.latitude.value = lat.toFixed(6);
    f.longitude.value = lon.toFixed(6);
    f.location_precision.value = precision;
    locStatus.textContent = message || d.msgLocated;
    if (marker) marker.setLatLng([lat, lon]);
  }
  function clearLocation() {
    f.latitude.value = f.longitude.value = f.location_precision.value = "";
    locStatus.textContent = "";
  }

  var places = [], timer = null, list = document.getElementById("place-options");
  function label(pl) { return pl.name + ", " + pl.department_name; }
  f.place_name.addEventListener("input", function () {
    var text = f.place_name.value;
    var match = places.filter(function (pl) { return label(pl) === text; })[0];
    if (match) {
      setLocation(match.latitude, match.longitude, "place");
      if (match.department) f.department.value = match.department;
      return;
    }
    if (f.location_precision.value === "place") clearLocation();
    clearTimeout(timer);
    if (text.length < 2) return;
    timer = setTimeout(function () {
      fetch(d.places + "?q=" + encodeURIComponent(text)).then(function (r) { return r.ok ? r.json() : []; })
        .then(function (found) {
          places = found || [];
          list.textContent = "";
          places.forEach(function (pl) {
            var o = document.createElement("option");
            o.value = label(pl);
            list.appendChild(o);
          });
        }, function () {});
    }, 250);
  });

  document.getElementById("use-location").addEventListener("click", function () {
    if (!navigator.geolocation) { locStatus.textContent = d.msgNoLocation; return; }
    locStatus.textContent = d.msgLocating;
    navigator.geolocation.getCurrentPosition(function (pos) {
      setLocation(pos.coords.latitude, pos.coords.longitude, "exact");
    }, function () { locStatus.textContent = d.msgNoLocation; }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
  });

  // Leaflet (~45 KB compressed) is fetched only when the person chooses the map.
  var marker = null, pickMap = null;
  function loadLeaflet() {
    if (window.L) return Promise.resolve();
    return new Promise(function (ok, fail) {
      var css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = d.leafletCss;
      document.head.appendChild(css);
      var js = document.createElement("script");
      js.src = d.leafletJs;
      js.onload = ok;
      js.onerror = fail;
      document.head.appendChild(js);
    });
  }
  document.getElementById("pick-on-map").addEventListener("click", function () {
    var box = document.getElementById("pick-map");
    box.hidden = false;
    loadLeaflet().then(function () {
      if (pickMap) return;
      var lat = parseFloat(f.latitude.value), lon = parseFloat(f.longitude.value);
      pickMap = L.map(box);
      L.tileLayer(d.tiles, { maxZoom: 18, attribution: d.msgAttribution }).addTo(pickMap);
      if (isNaN(lat)) pickMap.fitBounds([[12.9, -89.4], [16.5, -83.1]]);
      else pickMap.setView([lat, lon], 14);
      pickMap.on("click", function (e) {
        if (!marker) marker = L.circleMarker(e.latlng, { radius: 9, color: "#0b5394", weight: 3 }).addTo(pickMap);
        setLocation(e.latlng.lat, e.latlng.lng, "exact");
      });
    }, function () { box.hidden = true; });
  });
})();
