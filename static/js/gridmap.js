/* The grid page's map: the children's boundaries, coloured by category; a click opens the
 * child's page. The FeatureCollection is embedded in the page (json_script), so the map
 * needs no second request; tiles are drawn only when the deployment configures a tile URL,
 * because many sites have no outside internet. */
(function () {
  "use strict";
  var el = document.getElementById("grid-map");
  var source = document.getElementById("grid-features");
  if (!el || !source || !window.L) return;

  var data = JSON.parse(source.textContent);
  // Keep in step with the .cat-* colours in app.css (the legend).
  var COLOURS = { border: "#c62828", non_border: "#1565c0", unit: "#2e7d32" };
  var detailUrl = el.dataset.detailUrl;
  var placeholder = el.dataset.codePlaceholder;

  var map = L.map(el, { zoomSnap: 0.25, scrollWheelZoom: false, tap: true });
  map.attributionControl.setPrefix(false);
  if (el.dataset.tileUrl) {
    L.tileLayer(el.dataset.tileUrl, {
      attribution: el.dataset.tileAttribution || "",
      maxZoom: 18,
    }).addTo(map);
  } else {
    el.classList.add("no-tiles");
  }

  function style(feature) {
    var colour = COLOURS[feature.properties.category] || "#555";
    return {
      color: colour,
      weight: 2,
      opacity: 0.9,
      fillColor: colour,
      fillOpacity: 0.22,
      // Codes are letters, digits and "-", so they make safe class names (tests find shapes by them).
      className: "grid-shape grid-code-" + feature.properties.code,
    };
  }

  var layer = L.geoJSON(data, {
    style: style,
    onEachFeature: function (feature, featureLayer) {
      var props = feature.properties;
      featureLayer.bindTooltip(props.name, {
        permanent: data.features.length <= 30,
        direction: "center",
        className: "grid-label",
      });
      featureLayer.on("click", function () {
        window.location.href = detailUrl.replace(placeholder, encodeURIComponent(props.code));
      });
      featureLayer.on("mouseover", function () {
        featureLayer.setStyle({ weight: 4, fillOpacity: 0.4 });
      });
      featureLayer.on("mouseout", function () {
        layer.resetStyle(featureLayer);
      });
    },
  }).addTo(map);

  var bounds = layer.getBounds();
  function fit() {
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [16, 16] });
  }
  fit();
  // The map's height follows the viewport (CSS), so refit when a phone turns round.
  window.addEventListener("resize", function () {
    map.invalidateSize();
    fit();
  });
})();
