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
  // The staffing colouring (issue 3): each feature's "staffing" property, chosen by
  // data-colouring="staffing" on the map; personnel.js switches it (see personnel.css).
  var STAFFING_COLOURS = { ok: "#2e7d32", short: "#c62828", none: "#9e9e9e" };
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
    var colour =
      el.dataset.colouring === "staffing"
        ? STAFFING_COLOURS[feature.properties.staffing] || STAFFING_COLOURS.none
        : COLOURS[feature.properties.category] || "#555";
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

  // Redraw with the current colouring when asked (personnel.js fires this).
  el.addEventListener("gridmap:restyle", function () {
    layer.resetStyle();
  });

  var bounds = layer.getBounds();
  var PADDING = 16;
  function fit() {
    // A map momentarily smaller than its padding (a collapsed container during a resize,
    // e.g. a full-page screenshot) would get a NaN zoom from fitBounds and break Leaflet.
    var size = map.getSize();
    if (!bounds.isValid() || size.x <= 2 * PADDING || size.y <= 2 * PADDING) return;
    map.fitBounds(bounds, { padding: [PADDING, PADDING] });
  }
  fit();
  // The map's height follows the viewport (CSS), so refit when a phone turns round.
  window.addEventListener("resize", function () {
    map.invalidateSize();
    fit();
  });
})();
