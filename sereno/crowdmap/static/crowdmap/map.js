/* The public map: hexagon counts (or snapped points at street zoom) for the visible area and
   the filters, from /api/v1/map; a timeline of counts per day; the view and filters in the
   URL so it can be shared. Strings come translated in data-* attributes. */
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L || !window.fetch) return;
  var d = el.dataset;
  var form = document.getElementById("filters");
  var totalEl = document.getElementById("map-total");
  var scale = document.querySelector("#legend .scale");
  var timeline = document.getElementById("timeline");
  var COLORS = ["#fee391", "#fdae61", "#f46d43", "#d73027", "#7f0000"];
  var HONDURAS = [[12.9, -89.4], [16.5, -83.1]];

  var map = L.map(el, { zoomSnap: 1, minZoom: 5, maxZoom: 18 });
  map.attributionControl.setPrefix("Leaflet");
  L.tileLayer(d.tiles, { maxZoom: 18, attribution: d.msgAttribution }).addTo(map);
  if (d.viewSet) map.setView([+d.lat, +d.lon], +d.zoom);
  else map.fitBounds(HONDURAS);

  var breaks = [1, 2, 3, 4];
  function colorFor(count) {
    var i = 0;
    while (i < breaks.length && count > breaks[i]) i++;
    return COLORS[i];
  }
  function plural(n) { return n === 1 ? d.msgOne : d.msgMany.replace("%s", n); }
  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // Category names in the page's language, from the filter form's labels.
  var categoryNames = {};
  if (form) {
    Array.prototype.forEach.call(form.querySelectorAll("input[name=category]"), function (input) {
      var label = input.closest("label");
      if (label) categoryNames[input.value] = label.textContent.trim();
    });
  }

  function popup(feature) {
    var p = feature.properties, html = "<strong>" + escapeHtml(plural(p.count)) + "</strong>";
    var reports = p.reports || [];
    if (reports.length) {
      html += "<ul class='popup-list'>";
      reports.forEach(function (r) {
        var url = d.reportUrl.replace("REF", encodeURIComponent(r.reference));
        html += "<li><a href='" + url + "'>" + escapeHtml(r.title) + "</a><br><small>" +
          escapeHtml([r.occurred, categoryNames[r.category] || r.category].filter(Boolean).join(" · ")) + "</small></li>";
      });
      html += "</ul>";
      if (p.count > reports.length) html += "<small>" + escapeHtml(d.msgMore.replace("%s", p.count - reports.length)) + "</small>";
    }
    return html;
  }

  var layer = L.geoJSON(null, {
    style: function (f) {
      return { color: "#5a1a00", weight: 1, opacity: 0.6, fillColor: colorFor(f.properties.count), fillOpacity: 0.7 };
    },
    pointToLayer: function (f, latlng) {
      return L.circleMarker(latlng, {
        radius: 7 + Math.min(8, Math.round(Math.log(f.properties.count) * 2)),
        color: "#fff", weight: 2, fillColor: colorFor(f.properties.count), fillOpacity: 0.9
      });
    },
    onEachFeature: function (f, lyr) {
      if (f.geometry.type === "Point") { lyr.bindPopup(popup(f)); return; }
      // A hexagon: its count on hover or tap; a click zooms in on it.
      lyr.bindTooltip(plural(f.properties.count));
      lyr.on("click", function () { map.fitBounds(lyr.getBounds(), { maxZoom: map.getZoom() + 3 }); });
    }
  }).addTo(map);

  function filterParams() {
    var q = new URLSearchParams();
    if (!form) return q;
    new FormData(form).forEach(function (value, key) { if (value !== "") q.append(key, value); });
    return q;
  }

  function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }

  function updateLegend(features) {
    var max = 0;
    features.forEach(function (f) { max = Math.max(max, f.properties.count); });
    breaks = [1, 2, 3, 4].map(function (i) { return Math.max(i, Math.round(Math.pow(Math.max(max, 1), i / 5))); });
    var items = scale.querySelectorAll(".lg"), lo = 1;
    for (var i = 0; i < 5; i++) {
      var hi = i < 4 ? Math.min(breaks[i], max) : max, show = max > 0 && lo <= hi;
      items[i].parentNode.hidden = !show;
      if (!show) continue;
      items[i].textContent = lo === hi ? String(lo) : lo + "–" + hi;
      lo = hi + 1;
    }
    scale.hidden = max === 0;
  }

  function updateUrl() {
    var q = filterParams(), c = map.getCenter();
    q.set("lat", c.lat.toFixed(4));
    q.set("lon", c.lng.toFixed(4));
    q.set("z", map.getZoom());
    history.replaceState(null, "", "?" + q.toString() + location.hash); // keep #main etc.
  }

  var pending = null;
  function load() {
    var b = map.getBounds(), q = filterParams();
    q.set("bbox", [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90),
      clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)].map(function (v) { return v.toFixed(5); }).join(","));
    q.set("zoom", map.getZoom());
    if (pending && pending.abort) pending.abort();
    pending = window.AbortController ? new AbortController() : null;
    el.setAttribute("aria-busy", "true");
    fetch(d.api + "?" + q.toString(), { signal: pending && pending.signal, headers: { Accept: "application/geo+json, application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        layer.clearLayers();
        updateLegend(data.features || []);
        layer.addData(data);
        el.dataset.mode = data.mode || "";
        el.dataset.total = data.total;
        totalEl.textContent = plural(data.total || 0);
        el.removeAttribute("aria-busy");
      })
      .catch(function (err) {
        if (err && err.name === "AbortError") return;
        totalEl.textContent = d.msgError;
        el.removeAttribute("aria-busy");
      });
    updateUrl();
  }

  var SVG = "http://www.w3.org/2000/svg";
  function drawTimeline() {
    if (!timeline) return;
    fetch(d.timeline + "?" + filterParams().toString())
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        var days = data.days || [], max = 1;
        days.forEach(function (day) { max = Math.max(max, day.count); });
        timeline.textContent = "";
        if (!days.length) return;
        var svg = document.createElementNS(SVG, "svg"), H = 60;
        svg.setAttribute("viewBox", "0 0 " + days.length + " " + H);
        svg.setAttribute("preserveAspectRatio", "none");
        svg.setAttribute("role", "img");
        svg.setAttribute("aria-label", document.getElementById("timeline-title").textContent + ": " + plural(data.total || 0));
        svg.setAttribute("class", "bars");
        days.forEach(function (day, i) {
          var h = Math.max(day.count ? 1.5 : 0, (day.count / max) * H);
          var rect = document.createElementNS(SVG, "rect");
          rect.setAttribute("x", i + 0.1);
          rect.setAttribute("width", 0.8);
          rect.setAttribute("y", H - h);
          rect.setAttribute("height", h);
          var title = document.createElementNS(SVG, "title");
          title.textContent = timeline.dataset.msgDay.replace("%(date)s", day.date).replace("%(count)s", day.count);
          rect.appendChild(title);
          svg.appendChild(rect);
        });
        timeline.appendChild(svg);
        var axis = document.createElement("p");
        axis.className = "axis";
        var a = document.createElement("span"), b = document.createElement("span");
        a.textContent = days[0].date;
        b.textContent = days[days.length - 1].date;
        axis.appendChild(a);
        axis.appendChild(b);
        timeline.appendChild(axis);
      })
      .catch(function () { timeline.textContent = ""; });
  }

  map.on("moveend", load);
  if (form) {
    // The list below the map follows the filters too: the same page, asked for with the new
    // filters, gives its list, which replaces this one (no reload; the map keeps its view).
    var listRequest = 0;
    var refreshList = function () {
      var list = document.getElementById("report-list");
      if (!list || !window.DOMParser) return;
      var ticket = ++listRequest;
      fetch("?" + filterParams().toString(), { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
        .then(function (html) {
          if (ticket !== listRequest) return; // an older answer arriving late
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("report-list");
          if (fresh) list.replaceWith(document.importNode(fresh, true));
        })
        .catch(function () { /* the list keeps what it showed; "Apply filters" still works */ });
    };
    var refresh = function () { load(); drawTimeline(); refreshList(); };
    form.addEventListener("change", refresh);
    form.addEventListener("submit", function () {
      // The page reloads with the filters (the list below follows them); keep the view too.
      var c = map.getCenter(), view = { lat: c.lat.toFixed(4), lon: c.lng.toFixed(4), z: map.getZoom() };
      Object.keys(view).forEach(function (name) {
        var input = form.querySelector("input[name='" + name + "']");
        if (!input) {
          input = document.createElement("input");
          input.type = "hidden";
          input.name = name;
          form.appendChild(input);
        }
        input.value = view[name];
      });
    });
  }
  load();
  drawTimeline();
})();
