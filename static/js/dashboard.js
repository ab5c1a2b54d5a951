/* The commander's dashboard: the trend chart (vendored ECharts), the map of the children
 * coloured by the figure the commander picks (Leaflet), and the sortable children table.
 * Everything it draws is embedded in the page (json_script), so it makes no requests. */
(function () {
  "use strict";

  function readJson(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  // --- Trend chart -----------------------------------------------------------------------
  // A colour that means the figure: red for red codes, amber for yellow codes, and so on.
  var COLOURS = {
    households_checked: "#1565c0",
    persons_present: "#2e7d32",
    samples_taken: "#00838f",
    returnees: "#6a1b9a",
    returnees_risk_area: "#ad1457",
    yellow_codes: "#f9a825",
    red_codes: "#c62828",
    fever: "#ef6c00",
  };
  var SPARE_COLOURS = ["#5d4037", "#455a64", "#827717", "#4527a0"];

  function drawTrend() {
    var el = document.getElementById("trend-chart");
    var trend = readJson("trend-data");
    if (!el || !trend || !window.echarts) return;
    var spare = 0;
    var selected = {};
    var series = trend.series.map(function (s) {
      selected[s.label] = s.selected;
      // A metric added to METRICS later gets a colour of its own too.
      var colour = COLOURS[s.name] || SPARE_COLOURS[spare++ % SPARE_COLOURS.length];
      if (s.volume) {
        return {
          name: s.label,
          type: s.name === "households_checked" ? "bar" : "line",
          yAxisIndex: 0,
          data: s.data,
          barMaxWidth: 28,
          symbolSize: 4,
          itemStyle: { color: colour, opacity: s.name === "households_checked" ? 0.35 : 1 },
          lineStyle: { width: 1.5, type: "dashed" },
          z: 1,
        };
      }
      return {
        name: s.label,
        type: "line",
        yAxisIndex: 1,
        data: s.data,
        symbolSize: 6,
        lineStyle: { width: s.risk ? 2.5 : 2 },
        itemStyle: { color: colour },
        z: 3,
      };
    });
    var narrow = el.clientWidth < 560;
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    // Axis names sit above their axes, pushed inwards so a long one is not clipped.
    var axisName = { fontSize: 11, color: "#5b6775" };
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis", confine: true },
      legend: {
        type: narrow ? "scroll" : "plain",
        top: 0,
        selected: selected,
        itemWidth: 18,
        itemHeight: 10,
        textStyle: { fontSize: narrow ? 11 : 12 },
      },
      grid: { left: 8, right: 8, top: narrow ? 60 : 64, bottom: 4, containLabel: true },
      xAxis: {
        type: "category",
        // MM-DD is enough on an axis of two weeks; the tooltip shows the full date.
        data: trend.days,
        axisLabel: {
          formatter: function (value) {
            return value.slice(5);
          },
          hideOverlap: true,
        },
      },
      yAxis: [
        {
          type: "value",
          minInterval: 1,
          name: trend.axes[0],
          nameTextStyle: Object.assign({ align: "left" }, axisName),
          splitLine: { show: false },
        },
        {
          type: "value",
          minInterval: 1,
          name: trend.axes[1],
          nameTextStyle: Object.assign({ align: "right" }, axisName),
        },
      ],
      series: series,
    });
    window.addEventListener("resize", function () {
      chart.resize();
    });
  }

  // --- Map ---------------------------------------------------------------------------------
  var GREY = "#bdbdbd";

  function scales(features, text) {
    // One colour rule per pickable figure: each returns {colour, label} for a feature, and
    // the legend lists the classes in order.
    var max = {};
    features.forEach(function (f) {
      Object.keys(f.properties).forEach(function (key) {
        var v = f.properties[key];
        if (typeof v === "number") max[key] = Math.max(max[key] || 0, v);
      });
    });

    var coverage = {
      classes: [
        { colour: "#d73027", label: "< 50%", test: function (v) { return v < 50; } },
        { colour: "#fc8d59", label: "50–80%", test: function (v) { return v < 80; } },
        { colour: "#91cf60", label: "80–95%", test: function (v) { return v < 95; } },
        { colour: "#1a9850", label: "≥ 95%", test: function () { return true; } },
      ],
      none: { colour: GREY, label: text.noHouseholds },
      value: function (p) {
        return p.households_total ? p.coverage : null;
      },
    };

    var reporting = {
      classes: [
        { colour: "#1a9850", label: text.allReported, test: function (v) { return v === 0; } },
        { colour: "#fdae61", label: text.someMissing, test: function (v, p) { return v < p.leaves_expected; } },
        { colour: "#d73027", label: text.noneReported, test: function () { return true; } },
      ],
      none: { colour: GREY, label: text.noLeaves },
      value: function (p) {
        return p.leaves_expected ? p.leaves_missing : null;
      },
    };

    function counts(name) {
      // Zero, then up to three equal steps up to the largest child: counts differ by
      // orders of magnitude between a city's counties and a village's hamlets. With fewer
      // steps the darker colours are used, so a single fever case still stands out.
      var top = max[name] || 0;
      var colours = ["#fcbba1", "#fb6a4a", "#a50f15"];
      var steps = [];
      var step = Math.max(1, Math.ceil(top / 3));
      for (var low = 1; low <= top; low += step) {
        steps.push([low, Math.min(low + step - 1, top)]);
      }
      colours = colours.slice(colours.length - steps.length);
      var classes = [{ colour: "#f0f0f0", label: "0", test: function (v) { return v === 0; } }];
      steps.forEach(function (range, i) {
        classes.push({
          colour: colours[i],
          label: range[0] === range[1] ? String(range[0]) : range[0] + "–" + range[1],
          test: function (v) { return v <= range[1]; },
        });
      });
      return { classes: classes, none: null, value: function (p) { return p[name]; } };
    }

    return function (name) {
      if (name === "coverage") return coverage;
      if (name === "leaves_missing") return reporting;
      return counts(name);
    };
  }

  function classify(scale, props) {
    var v = scale.value(props);
    if (v === null || v === undefined) return scale.none || scale.classes[0];
    for (var i = 0; i < scale.classes.length; i++) {
      if (scale.classes[i].test(v, props)) return scale.classes[i];
    }
    return scale.classes[scale.classes.length - 1];
  }

  function drawMap() {
    var el = document.getElementById("dash-map");
    var data = readJson("dash-features");
    var text = readJson("dash-text");
    var picker = document.getElementById("map-metric");
    var legend = document.getElementById("map-legend");
    if (!el || !data || !window.L) return;

    var scaleFor = scales(data.features, text);
    var map = L.map(el, { zoomSnap: 0.25, scrollWheelZoom: false, tap: true });
    map.attributionControl.setPrefix(false);
    if (el.dataset.tileUrl) {
      L.tileLayer(el.dataset.tileUrl, { attribution: el.dataset.tileAttribution || "", maxZoom: 18 }).addTo(map);
    } else {
      el.classList.add("no-tiles");
    }

    var current = picker ? picker.value : "coverage";

    function describe(props) {
      var scale = scaleFor(current);
      var v = scale.value(props);
      var shown;
      if (v === null || v === undefined) shown = (scale.none || {}).label || "—";
      else if (current === "coverage") shown = v + "%";
      else shown = String(v);
      return props.name + ": " + shown;
    }

    function style(feature) {
      var cls = classify(scaleFor(current), feature.properties);
      return {
        color: "#455a64",
        weight: 1.5,
        opacity: 0.9,
        fillColor: cls.colour,
        fillOpacity: 0.75,
        className: "grid-shape grid-code-" + feature.properties.code,
      };
    }

    var layer = L.geoJSON(data, {
      style: style,
      onEachFeature: function (feature, featureLayer) {
        featureLayer.bindTooltip(describe(feature.properties), {
          permanent: data.features.length <= 30,
          direction: "center",
          className: "grid-label",
        });
        featureLayer.on("click", function () {
          window.location.href = feature.properties.url + window.location.search;
        });
        featureLayer.on("mouseover", function () {
          featureLayer.setStyle({ weight: 3.5 });
        });
        featureLayer.on("mouseout", function () {
          layer.resetStyle(featureLayer);
        });
      },
    });
    // Set the view before the shapes and their permanent labels go on the map: a label
    // placed on a map without a view has no position (NaN).
    var bounds = layer.getBounds();
    function fit() {
      // A map with no size (hidden, or mid-layout) has no zoom that fits: try again later.
      if (!bounds.isValid() || el.clientWidth === 0 || el.clientHeight === 0) return false;
      // Room around the shapes for the labels of those at the edge.
      map.fitBounds(bounds, { padding: [36, 36] });
      return true;
    }
    if (!fit()) map.setView(bounds.isValid() ? bounds.getCenter() : [0, 0], 8);
    layer.addTo(map);

    function drawLegend() {
      var scale = scaleFor(current);
      var items = scale.classes.slice();
      if (scale.none) items.push(scale.none);
      legend.innerHTML = "";
      items.forEach(function (cls) {
        var li = document.createElement("li");
        var swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.background = cls.colour;
        swatch.style.borderColor = "#455a64";
        li.appendChild(swatch);
        li.appendChild(document.createTextNode(cls.label));
        legend.appendChild(li);
      });
    }

    function recolour() {
      current = picker.value;
      layer.setStyle(style);
      layer.eachLayer(function (featureLayer) {
        featureLayer.setTooltipContent(describe(featureLayer.feature.properties));
      });
      drawLegend();
      el.dataset.metric = current;
    }

    if (picker) picker.addEventListener("change", recolour);
    drawLegend();
    el.dataset.metric = current;

    window.addEventListener("resize", function () {
      map.invalidateSize();
      fit();
    });
  }

  // --- Sortable table ------------------------------------------------------------------------
  function sortableTable() {
    var table = document.getElementById("children-table");
    if (!table) return;
    var body = table.tBodies[0];
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);

    headers.forEach(function (th, column) {
      var button = th.querySelector("button");
      if (!button) return;
      button.addEventListener("click", function () {
        var numeric = th.dataset.type === "num";
        // First click: numbers largest first (what a commander looks for), names A-Z.
        var current = th.getAttribute("aria-sort");
        var ascending = current ? current !== "ascending" : !numeric;
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[column].dataset.value;
          var y = b.cells[column].dataset.value;
          var order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
          if (order === 0) order = a.dataset.code.localeCompare(b.dataset.code);
          return ascending ? order : -order;
        });
        rows.forEach(function (row) {
          body.appendChild(row);
        });
        headers.forEach(function (other) {
          other.removeAttribute("aria-sort");
        });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      });
    });

    // The whole row drills down, not just the name (a bigger target on a phone).
    body.addEventListener("click", function (event) {
      if (event.target.closest("a")) return;
      var row = event.target.closest("tr");
      if (row && row.dataset.href) window.location.href = row.dataset.href;
    });
  }

  drawTrend();
  drawMap();
  sortableTable();
})();
