/* Zone picker (sereno/geo/widgets.py): draw a circle or a polygon on the map; fills the
   form's fields. Without this script the latitude/longitude/radius fields still work. */
(function () {
  "use strict";

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) { return values[key]; });
  }

  function init(root) {
    if (!window.L) return;
    var d = root.dataset;
    var inputs = {
      polygon: root.querySelector("input[name$='_polygon']"),
      lat: root.querySelector("input[name$='_lat']"),
      lon: root.querySelector("input[name$='_lon']"),
      radius: root.querySelector("input[name$='_radius']")
    };
    var tools = root.querySelector(".zone-tools");
    var finish = tools.querySelector("[data-action=finish]");
    var status = root.querySelector(".zone-status");
    var box = root.querySelector(".zone-map");
    var mode = "circle", corners = [], drawn = null, line = null;

    tools.hidden = false;
    box.hidden = false;
    var map = L.map(box);
    L.tileLayer(d.tiles, { maxZoom: 18, attribution: d.msgAttribution }).addTo(map);
    map.fitBounds([[12.9, -89.4], [16.5, -83.1]]);

    function say(text) { status.textContent = text; }
    function radiusKm() {
      var r = parseFloat(inputs.radius.value);
      return isFinite(r) && r > 0 ? r : 2;
    }
    function clearShapes() {
      if (drawn) map.removeLayer(drawn);
      if (line) map.removeLayer(line);
      drawn = line = null;
    }
    function showCircle() {
      var lat = parseFloat(inputs.lat.value), lon = parseFloat(inputs.lon.value);
      clearShapes();
      if (!isFinite(lat) || !isFinite(lon)) return;
      drawn = L.circle([lat, lon], { radius: radiusKm() * 1000, color: "#0b5394" }).addTo(map);
      say(format(d.msgCircle, { km: radiusKm(), lat: lat.toFixed(4), lon: lon.toFixed(4) }));
    }
    function setMode(next) {
      mode = next;
      corners = [];
      tools.querySelectorAll("[data-mode]").forEach(function (b) {
        b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
      });
      finish.hidden = mode !== "polygon";
      say(mode === "polygon" ? d.msgStartPolygon : d.msgStartCircle);
    }
    function closePolygon() {
      if (corners.length < 3) { say(d.msgNeedThree); return; }
      var ring = corners.map(function (c) { return [+c.lng.toFixed(6), +c.lat.toFixed(6)]; });
      ring.push(ring[0]);
      inputs.polygon.value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
      inputs.lat.value = inputs.lon.value = "";
      clearShapes();
      drawn = L.polygon(corners, { color: "#0b5394" }).addTo(map);
      say(format(d.msgPolygon, { n: corners.length }));
      corners = [];
    }

    map.on("click", function (e) {
      if (mode === "circle") {
        inputs.polygon.value = "";
        inputs.lat.value = e.latlng.lat.toFixed(5);
        inputs.lon.value = e.latlng.lng.toFixed(5);
        if (!inputs.radius.value) inputs.radius.value = "2";
        showCircle();
        if (drawn && map.getZoom() < 10) map.fitBounds(drawn.getBounds(), { maxZoom: 13 });
        return;
      }
      if (!corners.length) { clearShapes(); inputs.polygon.value = ""; }
      corners.push(e.latlng);
      if (line) map.removeLayer(line);
      line = L.polyline(corners, { color: "#0b5394", dashArray: "4 4" }).addTo(map);
      say(format(d.msgCorners, { n: corners.length }));
    });
    tools.addEventListener("click", function (e) {
      var button = e.target.closest("button");
      if (!button) return;
      if (button.dataset.mode) setMode(button.dataset.mode);
      else if (button.dataset.action === "finish") closePolygon();
      else if (button.dataset.action === "clear") {
        clearShapes();
        corners = [];
        inputs.polygon.value = inputs.lat.value = inputs.lon.value = "";
        setMode(mode);
      }
    });
    ["lat", "lon", "radius"].forEach(function (k) {
      inputs[k].addEventListener("input", function () {
        if (inputs.lat.value && inputs.lon.value) { inputs.polygon.value = ""; showCircle(); }
      });
    });
    setMode("circle");
    if (inputs.polygon.value) {
      try {
        var ring = JSON.parse(inputs.polygon.value).coordinates[0];
        drawn = L.polygon(ring.map(function (p) { return [p[1], p[0]]; })).addTo(map);
      } catch (err) { inputs.polygon.value = ""; }
    } else {
      showCircle();
    }
  }

  function start() { document.querySelectorAll("[data-zone-picker]").forEach(init); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
