// Diff page: overlay the two models' training curves, one chart per metric both runs logged
// (window.mltrack.chart.overlay of chart.js). The runs and metrics come from #overlay-data (JSON, never executed).
(function () {
  "use strict";
  const data = window.mltrack.state.pageData("overlay-data");
  if (!data || !window.mltrack.chart) return;
  const slots = document.querySelectorAll("#curves .overlay");
  data.metrics.forEach((metric, index) => {
    const slot = slots[index];
    if (slot) window.mltrack.chart.overlay(slot, data.runs, metric, {});
  });
})();
