// The training run page: its charts (chart.js), the view controls kept in the URL (mltrack.state), and, while
// the run trains, the live stream that grows the curves and ends with the run's final state.
(function () {
  "use strict";
  const mltrack = window.mltrack;
  const page = mltrack.state.pageData("run-data");
  const root = document.getElementById("run-page");
  if (!page || !root) return;

  const chartsBox = document.getElementById("charts");
  const controls = document.getElementById("chart-controls");
  const resetButton = document.getElementById("reset-zoom");
  const initialRange =
    page.from === null && page.to === null ? null : { from: page.from, to: page.to };

  const group = mltrack.chart.group({
    apiRoot: page.apiRoot,
    axis: page.axis,
    log: page.log,
    range: initialRange,
    onRange: function (range) {
      mltrack.state.set({ from: range ? range.from : null, to: range ? range.to : null });
      resetButton.hidden = range === null;
    },
  });

  function addChart(metric, element) {
    const box = element || chartContainer(metric);
    group.add(box, metric, [{ run: page.run, label: metric }]);
  }

  function chartContainer(metric) {
    const empty = document.getElementById("no-curves");
    if (empty) empty.remove();
    const box = document.createElement("div");
    box.className = "chart";
    box.dataset.metric = metric;
    const title = document.createElement("h3");
    title.textContent = metric;
    box.appendChild(title);
    chartsBox.appendChild(box);
    return box;
  }

  for (const box of chartsBox.querySelectorAll(".chart[data-metric]")) addChart(box.dataset.metric, box);

  // ------------------------------------------------------------ view controls: change in place, keep the URL

  controls.addEventListener("submit", function (event) {
    event.preventDefault(); // the form is for browsers without scripts: here every change applies at once
  });
  controls.querySelector("#apply-view").hidden = true;

  controls.addEventListener("change", function (event) {
    const input = event.target;
    if (input.name === "axis") {
      group.setAxis(input.value);
      mltrack.state.set({ axis: input.value });
    } else if (input.name === "log") {
      group.setLog(input.checked);
      mltrack.state.set({ log: input.checked ? "1" : null });
    } else if (input.name === "metric") {
      if (input.checked) addChart(input.value);
      else removeChart(input.value);
      page.chooseAll = false; // the reader chose: metrics that appear later stay off
      mltrack.state.set({ metric: checkedMetrics() });
    }
  });

  function removeChart(metric) {
    group.remove(metric);
    for (const box of chartsBox.querySelectorAll(".chart[data-metric]")) {
      if (box.dataset.metric === metric) box.remove();
    }
  }

  function checkedMetrics() {
    return Array.from(controls.querySelectorAll("input[name=metric]:checked"), function (input) {
      return input.value;
    });
  }

  resetButton.addEventListener("click", function () {
    group.zoom(null);
  });

  // ------------------------------------------------------------ live: follow the run until it ends

  if (!page.live) {
    root.dataset.live = "false";
    return;
  }

  // "Running for" counts on from what the server measured (the browser's clock may disagree with the server's).
  const rendered = performance.now();
  const runningFor = document.getElementById("run-duration");
  const ticking =
    runningFor && typeof page.runningMs === "number"
      ? window.setInterval(function () {
          runningFor.textContent = durationText(page.runningMs + performance.now() - rendered);
        }, 1000)
      : null;

  // The metrics table follows the live points: count, last, smallest, largest and (when the metric's direction is
  // known) best; it is redrawn at most once a second, and read again from the server when the run ends.
  const summaries = page.summaries;
  let summaryTimer = 0;

  function followSummaries(points) {
    for (const point of points) {
      const metric = point[0];
      const value = typeof point[1] === "number" ? point[1] : null;
      let summary = summaries[metric];
      if (!summary) {
        summary = { count: 0, last: null, best: null, minimum: null, maximum: null, greater_is_better: null };
        summaries[metric] = summary;
      }
      summary.count += 1;
      summary.last = value;
      if (value === null) continue;
      summary.minimum = summary.minimum === null ? value : Math.min(summary.minimum, value);
      summary.maximum = summary.maximum === null ? value : Math.max(summary.maximum, value);
      if (summary.greater_is_better !== null) summary.best = summary.greater_is_better ? summary.maximum : summary.minimum;
    }
    if (!summaryTimer) {
      summaryTimer = window.setTimeout(function () {
        summaryTimer = 0;
        showSummaries(summaries);
      }, 1000);
    }
  }

  // The run ended: its badge, end, duration, model and metric summaries as stored now.
  function showEnd(state) {
    const badge = document.getElementById("run-state");
    badge.className = "badge " + state;
    const dot = badge.querySelector(".live-dot");
    if (dot) dot.remove();
    badge.querySelector(".state-text").textContent = state;
    const runUrl = page.apiRoot + "/v1/entities/" + encodeURIComponent(page.run) + "?with_scores=false";
    getJson(runUrl).then(showEndedRun, function () {});
    getJson(page.apiRoot + "/v1/runs/" + encodeURIComponent(page.run) + "/metrics").then(function (answer) {
      window.clearTimeout(summaryTimer);
      summaryTimer = -1; // live points no longer redraw the table: the stored summaries are final
      showSummaries(answer.metrics);
    }, function () {});
  }

  function showEndedRun(run) {
    if (ticking !== null) window.clearInterval(ticking);
    if (typeof run.end_time === "number") {
      document.getElementById("run-ended").textContent = utcText(run.end_time);
      const label = document.getElementById("run-duration-label");
      if (label && typeof run.start_time === "number") {
        label.textContent = "Duration";
        document.getElementById("run-duration").textContent = durationText(run.end_time - run.start_time);
      }
    }
    const cell = document.getElementById("run-model");
    if (run.for_model) {
      const link = document.createElement("a");
      link.href = page.modelUrl.replace("__id__", encodeURIComponent(run.for_model));
      link.textContent = run.for_model;
      cell.replaceChildren(link);
    } else {
      cell.querySelector(".empty").textContent = "none recorded";
    }
  }

  function showSummaries(summaries) {
    const table = document.querySelector("#summaries table");
    const body = table.querySelector("tbody");
    body.replaceChildren();
    for (const name of Object.keys(summaries).sort()) {
      const summary = summaries[name];
      const row = document.createElement("tr");
      row.dataset.metric = name;
      addCell(row, name, "");
      addCell(row, String(summary.count), "num");
      for (const value of [summary.last, summary.best, summary.minimum, summary.maximum]) {
        addCell(row, numberText(value), "num");
      }
      body.appendChild(row);
    }
    table.hidden = body.children.length === 0;
    const empty = document.getElementById("no-metrics");
    if (empty && !table.hidden) empty.remove();
  }

  function addCell(row, text, className) {
    const cell = document.createElement("td");
    if (className) cell.className = className;
    cell.textContent = text;
    row.appendChild(cell);
  }

  // Like the server's `number` filter: four significant digits.
  function numberText(value) {
    if (value === null || value === undefined) return "";
    if (typeof value !== "number") return String(value);
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  }

  function utcText(milliseconds) {
    return new Date(milliseconds).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  function durationText(milliseconds) {
    const seconds = Math.max(0, Math.floor(milliseconds / 1000));
    const hours = Math.floor(seconds / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    const rest = String(seconds % 60).padStart(2, "0");
    if (hours) return hours + " h " + String(minutes).padStart(2, "0") + " min " + rest + " s";
    if (minutes) return minutes + " min " + rest + " s";
    return seconds % 60 + " s";
  }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (answer) {
      if (!answer.ok) throw new Error(answer.status + " " + answer.statusText);
      return answer.json();
    });
  }

  // With no metric chosen in the URL, a metric that appears while the run trains gets a checkbox and a chart.
  function offerNewMetrics(points) {
    if (!page.chooseAll) return;
    const choice = document.getElementById("metric-choice");
    for (const point of points) {
      const metric = point[0];
      if (controls.querySelector('input[name=metric][value="' + CSS.escape(metric) + '"]') !== null) continue;
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.name = "metric";
      box.value = metric;
      box.checked = group.charts.length < page.maxCharts;
      label.append(box, " " + metric);
      choice.appendChild(label);
      choice.hidden = false;
      if (box.checked) addChart(metric);
    }
  }

  // The stream starts after the points the page was rendered with; points that the charts' first queries already
  // returned are recognised by their x and skipped.
  group.follow({
    run: page.run,
    after: page.after,
    onPoints: function (points) {
      followSummaries(points);
      offerNewMetrics(points);
    },
    onEnd: showEnd,
    onLive: function (open) {
      root.dataset.live = open ? "true" : "false";
    },
  });
})();
