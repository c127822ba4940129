/* The desk's keyboard shortcuts and the small location map. No inline script (CSP). */
(function () {
  "use strict";

  function typing(event) {
    var t = event.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }

  // --- queue: j / k move, Enter opens, x selects ---
  var current = -1;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll(".queue-row")); }
  function move(step) {
    var all = rows();
    if (!all.length) return;
    if (current >= 0 && all[current]) all[current].classList.remove("current");
    current = Math.max(0, Math.min(all.length - 1, current + step));
    var row = all[current];
    row.classList.add("current");
    var link = row.querySelector(".row-link");
    if (link) link.focus();
    row.scrollIntoView({ block: "nearest" });
  }
  function queueKey(event) {
    var all = rows();
    if (event.key === "j") { move(1); return true; }
    if (event.key === "k") { move(current < 0 ? 1 : -1); return true; }
    if (event.key === "Enter" && current >= 0 && all[current]) {
      window.location.href = all[current].getAttribute("data-href");
      return true;
    }
    if (event.key === "x" && current >= 0 && all[current]) {
      var box = all[current].querySelector("input[type=checkbox]");
      if (box) box.checked = !box.checked;
      return true;
    }
    return false;
  }

  // --- detail: v / p / r / e press the buttons that carry data-key; u goes back ---
  function detailKey(event) {
    if (event.key === "u") {
      window.location.href = document.querySelector(".desk-nav a").href;
      return true;
    }
    var button = document.querySelector('button[data-key="' + event.key + '"]');
    if (!button) return false;
    if (button.classList.contains("needs-reason")) {
      var reason = document.getElementById("reason");
      if (reason && !reason.value.trim()) {
        reason.focus();
        reason.setAttribute("aria-invalid", "true");
        return true;
      }
    }
    button.click();
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    var desk = document.querySelector(".desk");
    if (!desk) return;
    var page = desk.getAttribute("data-page");
    var handled = page === "queue" ? queueKey(event) : page === "detail" ? detailKey(event) : false;
    if (handled) event.preventDefault();
  });
  // After htmx swaps the queue the old highlight is gone.
  document.addEventListener("htmx:afterSwap", function () { current = -1; });

  // --- map: exact point and public point; coordinates stay readable without tiles ---
  function initMap() {
    var el = document.getElementById("map");
    if (!el || !window.L || el.getAttribute("data-ready")) return;
    el.setAttribute("data-ready", "1");
    var lat = parseFloat(el.getAttribute("data-lat"));
    var lon = parseFloat(el.getAttribute("data-lon"));
    var map = window.L.map(el, { attributionControl: true }).setView([lat, lon], 15);
    window.L.tileLayer(el.getAttribute("data-tiles"), {
      maxZoom: 19, attribution: "© OpenStreetMap"
    }).addTo(map);
    window.L.circleMarker([lat, lon], { radius: 8, color: "#a4161a", weight: 3, fillOpacity: 0.6 })
      .addTo(map).bindTooltip(el.getAttribute("data-label-exact"));
    var plat = el.getAttribute("data-public-lat");
    if (plat) {
      var ppoint = [parseFloat(plat), parseFloat(el.getAttribute("data-public-lon"))];
      window.L.circleMarker(ppoint, { radius: 6, color: "#0b5cad", weight: 2, fillOpacity: 0.3 })
        .addTo(map).bindTooltip(el.getAttribute("data-label-public"));
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initMap);
  else initMap();
})();
