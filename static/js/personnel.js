/* The grid page's map colouring switch: category (gridmap.js's default) or staffing
 * (fully staffed / short / no template). It sets data-colouring on the map, asks gridmap.js
 * to redraw, and swaps the legends. Without scripts the switch stays hidden. */
(function () {
  "use strict";
  var map = document.getElementById("grid-map");
  var control = document.getElementById("map-colouring");
  if (!map || !control) return;
  var staffingLegend = document.querySelector(".staffing-legend");
  var categoryLegend = document.querySelector(".map-section .legend:not(.staffing-legend)");

  function apply(value) {
    map.dataset.colouring = value;
    map.dispatchEvent(new CustomEvent("gridmap:restyle"));
    if (staffingLegend) staffingLegend.hidden = value !== "staffing";
    if (categoryLegend) categoryLegend.hidden = value === "staffing";
  }

  control.hidden = false;
  control.addEventListener("change", function (event) {
    if (event.target.name === "map-colouring") apply(event.target.value);
  });
  // A browser restoring the form after "back" may restore the staffing choice.
  var checked = control.querySelector("input:checked");
  if (checked && checked.value !== "category") apply(checked.value);
})();
