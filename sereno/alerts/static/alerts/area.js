// The alert page's map: the alert's zones over the configured tiles (no other requests).
(function () {
  "use strict";
  var el = document.getElementById("alert-map");
  var data = document.getElementById("alert-area");
  if (!el || !data || !window.L) return;
  var map = window.L.map(el, { zoomSnap: 1, minZoom: 5, maxZoom: 18 });
  map.attributionControl.setPrefix("Leaflet");
  window.L.tileLayer(el.getAttribute("data-tiles"), {
    maxZoom: 18, attribution: el.getAttribute("data-msg-attribution")
  }).addTo(map);
  var layer = window.L.geoJSON(JSON.parse(data.textContent), {
    style: { color: "#a4161a", weight: 2, fillOpacity: 0.15 }
  }).addTo(map);
  map.fitBounds(layer.getBounds(), { maxZoom: 14, padding: [12, 12] });
})();
