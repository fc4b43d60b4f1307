// Training curves, drawn with uPlot (vendored): one chart per metric over step, epoch or wall time, a log scale,
// drag-to-zoom that re-queries the server for the zoomed range at full resolution (every chart of a group shares
// the range), and live points from the run's event stream while it trains.
//
// window.mltrack.chart:
//   group(options)                               a set of charts sharing axis, scale and x range (the run page's)
//   overlay(container, runs, metric, options)    several runs' series of one metric in one chart (the diff page's)
//   pointCount(metric)                           points drawn in that metric's chart (-1: no such chart)
//   _internal                                    the pure functions, for tests
// Every text shown comes from the store: it goes into the page with textContent only (uPlot does the same).
(function () {
  "use strict";
  const mltrack = (window.mltrack = window.mltrack || {});

  const AXES = ["step", "epoch", "time"];
  const HEIGHT = 260;
  const COLOURS = ["#2f6fde", "#d97706", "#1a7f37", "#c62828", "#7c3aed", "#0891b2"];
  // A live point from the event stream: [metric, value, epoch, step, timestamp (ms)].
  const METRIC = 0;
  const VALUE = 1;
  const EPOCH = 2;
  const STEP = 3;
  const TIMESTAMP = 4;
  // A drawn series may grow by live points up to this many times its budget before it is re-queried (downsampled).
  const GROWTH = 2;
  const MAX_POINTS = 10000; // the most the series endpoint returns
  const RECONNECT_FIRST_MS = 1000;
  const RECONNECT_LONGEST_MS = 30000;

  const drawn = []; // every chart on the page, for pointCount

  // ---------------------------------------------------------------- pure functions (tested through _internal)

  // The x value of a live point on an axis, or null when the point has none on it. (The server places a point
  // logged without a step at its position among the metric's points; live, such points wait for the next query.)
  function xOf(point, axis) {
    if (axis === "time") return point[TIMESTAMP];
    const value = axis === "epoch" ? point[EPOCH] : point[STEP];
    return value === undefined ? null : value;
  }

  // Adds the live points of `metric` to `series` ({x: [...], y: [...]}, sorted by x) that lie after its last x
  // (at or after it on the epoch axis, where many points share an x) and inside `range` ({from, to} or null).
  // What the series already holds is thereby skipped, whether it came from the server or the stream; points out
  // of order or without a value on the axis wait for the next query of the series. Returns how many were added.
  function mergePoints(series, points, metric, axis, range) {
    let added = 0;
    for (const point of points) {
      if (point[METRIC] !== metric) continue;
      const x = xOf(point, axis);
      if (x === null) continue;
      if (range && ((range.from !== null && x < range.from) || (range.to !== null && x > range.to))) continue;
      const last = series.x.length ? series.x[series.x.length - 1] : null;
      if (last !== null && (x < last || (x === last && axis !== "epoch"))) continue;
      series.x.push(x);
      series.y.push(typeof point[VALUE] === "number" ? point[VALUE] : null); // non-finite values arrive as null
      added += 1;
    }
    return added;
  }

  // The points of a `points` event ({total, points}: the last points.length of the run's `total` points) not
  // received yet, given that the run's first `seen` points were (a stream resumed after a reconnection).
  function unseenPoints(event, seen) {
    const first = event.total - event.points.length;
    return seen <= first ? event.points : event.points.slice(seen - first);
  }

  // A log axis cannot show zero or negative values: they are left out (undefined: the line joins their neighbours,
  // whereas null, a NaN or infinite value, stays a gap), and the caller says how many.
  function logFiltered(ys) {
    let dropped = 0;
    const kept = ys.map(function (y) {
      if (y === null || y === undefined) return y;
      if (y > 0) return y;
      dropped += 1;
      return undefined;
    });
    return { ys: kept, dropped: dropped };
  }

  // The series endpoint's query for a metric on an axis over a range ({from, to}, either may be null).
  // Steps, epochs and times (ms) are whole numbers from 0: the range is widened to whole units and cut at 0.
  function seriesQuery(metric, axis, range, maxPoints) {
    const points = Math.min(MAX_POINTS, Math.max(2, Math.round(maxPoints)));
    const query = { metric: metric, axis: axis, max_points: String(points) };
    if (range && range.from !== null && range.from !== undefined) {
      query.start = String(Math.max(0, Math.floor(range.from)));
    }
    if (range && range.to !== null && range.to !== undefined) query.end = String(Math.max(0, Math.ceil(range.to)));
    return query;
  }

  // The range a drag selected, widened to whole units from 0 (steps, epochs and milliseconds are whole numbers, and
  // the server is asked for whole units): what the chart shows is what was queried, and the URL stays short.
  function wholeRange(from, to) {
    const start = Math.max(0, Math.floor(Math.min(from, to)));
    return { from: start, to: Math.max(start + 1, Math.ceil(Math.max(from, to))) };
  }

  // How many of a chart's series values are drawn (not gaps).
  function countDrawn(data) {
    let count = 0;
    for (let index = 1; index < data.length; index += 1) {
      for (const y of data[index]) if (y !== null && y !== undefined) count += 1;
    }
    return count;
  }

  // The series endpoint's answer as {x, y, total, downsampled}: x in the axis' unit (times in ms), y with nulls for
  // gaps, how many points the range holds and whether fewer were sent.
  function fromSeriesJson(json) {
    return {
      x: json.x || [],
      y: json.y || [],
      total: typeof json.total === "number" ? json.total : (json.x || []).length,
      downsampled: Boolean(json.downsampled),
    };
  }

  // ---------------------------------------------------------------- talking to the server

  function seriesUrl(apiRoot, run, query) {
    return apiRoot + "/v1/runs/" + encodeURIComponent(run) + "/series?" + new URLSearchParams(query).toString();
  }

  async function fetchJson(url) {
    const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const body = await answer.json().catch(function () {
      return {};
    });
    if (!answer.ok) throw new Error(body.message || answer.status + " " + answer.statusText);
    return body;
  }

  // ---------------------------------------------------------------- one chart: a metric, one series per source

  function Chart(group, element, metric, sources) {
    this.group = group;
    this.element = element;
    this.metric = metric;
    this.sources = sources; // [{run, label}]
    this.raw = sources.map(function () {
      return { x: [], y: [] };
    });
    this.pending = null; // live points that arrived while the chart was being (re)loaded
    this.plot = null;
    this.plotKey = "";
    this.request = 0;
    this.loading = null;
    element.classList.add("chart");
    element.dataset.metric = metric;
    this.holder = element.querySelector(".chart-plot") || appendElement(element, "div", "chart-plot");
    this.watchSize();
    this.note = element.querySelector(".chart-note") || appendElement(element, "p", "chart-note muted");
    drawn.push(this);
  }

  Chart.prototype.budget = function () {
    return Math.max(this.holder.clientWidth || this.element.clientWidth || 600, 100);
  };

  // Reads every source's series for the group's axis and range, then draws. Answers to older requests are ignored.
  Chart.prototype.load = function () {
    const chart = this;
    const request = ++chart.request;
    const group = chart.group;
    const query = seriesQuery(chart.metric, group.axis, group.range, chart.budget());
    chart.pending = [];
    chart.loading = Promise.all(
      chart.sources.map(function (source) {
        return fetchJson(seriesUrl(group.apiRoot, source.run, query));
      }),
    ).then(
      function (answers) {
        if (request !== chart.request) return;
        chart.raw = answers.map(fromSeriesJson);
        const late = chart.pending || [];
        chart.pending = null;
        chart.draw();
        if (late.length) chart.append(late);
      },
      function (error) {
        if (request !== chart.request) return;
        chart.pending = null;
        chart.note.textContent = "Could not load " + chart.metric + ": " + error.message;
        chart.element.dataset.drawn = "false";
      },
    );
    return chart.loading;
  };

  // The uPlot data of the raw series on the group's scale, and how many values a log axis left out.
  Chart.prototype.data = function () {
    const log = this.group.log;
    let dropped = 0;
    const tables = this.raw.map(function (series) {
      if (!log) return [series.x, series.y];
      const filtered = logFiltered(series.y);
      dropped += filtered.dropped;
      return [series.x, filtered.ys];
    });
    const data = tables.length === 1 ? tables[0] : window.uPlot.join(tables);
    return { data: data, dropped: dropped };
  };

  Chart.prototype.draw = function () {
    const group = this.group;
    const prepared = this.data();
    const key = group.axis + "|" + group.log;
    if (this.plot === null || this.plotKey !== key) {
      if (this.plot !== null) this.plot.destroy();
      this.plot = new window.uPlot(this.options(), prepared.data, this.holder);
      this.plotKey = key;
    } else {
      this.plot.setData(prepared.data, group.range === null);
    }
    if (group.range !== null) {
      const bounds = this.bounds(prepared.data[0]);
      this.plot.setScale("x", { min: bounds.min, max: bounds.max });
    }
    const notes = [];
    if (prepared.data[0].length === 0) notes.push("No points of " + this.metric + " on the " + group.axis + " axis.");
    const reduced = this.raw.filter(function (series) {
      return series.downsampled;
    });
    if (reduced.length) {
      const total = reduced.reduce(function (sum, series) {
        return sum + series.total;
      }, 0);
      notes.push(
        total.toLocaleString("en") +
          " points downsampled on the server (each bucket's smallest and largest value): zoom in for every point.",
      );
    }
    if (prepared.dropped > 0) {
      notes.push(prepared.dropped + " value(s) ≤ 0 left out: a log scale cannot show them.");
    }
    this.note.textContent = notes.join(" ");
    this.element.dataset.points = String(countDrawn(prepared.data));
    this.element.dataset.drawn = "true";
  };

  // The zoomed range, each open end taken from the data.
  Chart.prototype.bounds = function (xs) {
    const range = this.group.range;
    const first = xs.length ? xs[0] : 0;
    const last = xs.length ? xs[xs.length - 1] : 1;
    return { min: range.from === null ? first : range.from, max: range.to === null ? last : range.to };
  };

  Chart.prototype.options = function () {
    const chart = this;
    const group = chart.group;
    const series = [{ label: group.axis }];
    chart.sources.forEach(function (source, index) {
      series.push({
        label: source.label || source.run,
        stroke: COLOURS[index % COLOURS.length],
        width: 1.5,
        spanGaps: false,
      });
    });
    return {
      width: chart.budget(),
      height: HEIGHT,
      ms: 1, // times are milliseconds since 1970
      tzDate: function (milliseconds) {
        return window.uPlot.tzDate(new Date(milliseconds), "Etc/UTC"); // as every time on the dashboard
      },
      scales: { x: { time: group.axis === "time" }, y: group.log ? { distr: 3, log: 10 } : {} },
      axes: [{ label: group.axis === "time" ? "wall time (UTC)" : group.axis }, {}],
      series: series,
      legend: { show: true },
      cursor: {
        sync: { key: group.syncKey },
        drag: { x: true, y: false, setScale: false },
        bind: {
          dblclick: function () {
            return function () {
              group.zoom(null);
              return null;
            };
          },
        },
      },
      hooks: {
        setSelect: [
          function (plot) {
            const select = plot.select;
            if (select.width < 3) return;
            const range = wholeRange(plot.posToVal(select.left, "x"), plot.posToVal(select.left + select.width, "x"));
            plot.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            group.zoom(range);
          },
        ],
      },
    };
  };

  // Live points of the run (the first source): those of this chart's metric that are new are drawn.
  Chart.prototype.append = function (points) {
    if (this.pending !== null) {
      Array.prototype.push.apply(this.pending, points);
      return;
    }
    const added = mergePoints(this.raw[0], points, this.metric, this.group.axis, this.group.range);
    if (!added) return;
    if (this.raw[0].x.length > GROWTH * this.budget()) this.load(); // downsampled again, instead of growing forever
    else this.draw();
  };

  // The chart follows its box's width (the window's, or the grid's when charts are added or removed).
  Chart.prototype.watchSize = function () {
    if (typeof ResizeObserver === "undefined") return;
    const chart = this;
    let frame = 0;
    chart.sizeWatcher = new ResizeObserver(function () {
      window.cancelAnimationFrame(frame);
      frame = window.requestAnimationFrame(function () {
        const width = chart.budget();
        if (chart.plot !== null && Math.abs(chart.plot.width - width) >= 2) {
          chart.plot.setSize({ width: width, height: HEIGHT });
        }
      });
    });
    chart.sizeWatcher.observe(chart.holder);
  };

  Chart.prototype.destroy = function () {
    this.request += 1;
    if (this.sizeWatcher) this.sizeWatcher.disconnect();
    if (this.plot !== null) this.plot.destroy();
    this.plot = null;
    const index = drawn.indexOf(this);
    if (index >= 0) drawn.splice(index, 1);
  };

  function appendElement(parent, tag, className) {
    const element = document.createElement(tag);
    element.className = className;
    parent.appendChild(element);
    return element;
  }

  // ---------------------------------------------------------------- a group: charts sharing axis, scale, range

  let groups = 0;

  // options: {apiRoot, axis, log, range ({from, to} or null), onRange(range)}
  function Group(options) {
    this.apiRoot = options.apiRoot || "";
    this.axis = AXES.indexOf(options.axis) >= 0 ? options.axis : "step";
    this.log = Boolean(options.log);
    this.range = options.range || null;
    this.onRange = options.onRange || function () {};
    this.charts = [];
    this.syncKey = "mltrack-" + ++groups;
    this.events = null;
  }

  // A chart of `metric` in `element`, one series per source ([{run, label}]); it loads at once.
  Group.prototype.add = function (element, metric, sources) {
    const chart = new Chart(this, element, metric, sources);
    this.charts.push(chart);
    chart.load();
    return chart;
  };

  Group.prototype.remove = function (metric) {
    this.charts = this.charts.filter(function (chart) {
      if (chart.metric !== metric) return true;
      chart.destroy();
      return false;
    });
  };

  Group.prototype.chart = function (metric) {
    return (
      this.charts.find(function (chart) {
        return chart.metric === metric;
      }) || null
    );
  };

  Group.prototype.loadAll = function () {
    return Promise.all(
      this.charts.map(function (chart) {
        return chart.load();
      }),
    );
  };

  // Zooms every chart to `range` ({from, to}; null: everything), re-queried at full resolution for that range.
  Group.prototype.zoom = function (range) {
    if (range === null && this.range === null) return Promise.resolve();
    this.range = range;
    this.onRange(range);
    return this.loadAll();
  };

  // Another axis: its units differ, so the zoom is reset.
  Group.prototype.setAxis = function (axis) {
    if (AXES.indexOf(axis) < 0 || axis === this.axis) return Promise.resolve();
    this.axis = axis;
    this.range = null;
    this.onRange(null);
    return this.loadAll();
  };

  // The log scale is a redraw of what is loaded: nothing to ask the server.
  Group.prototype.setLog = function (log) {
    this.log = Boolean(log);
    this.charts.forEach(function (chart) {
      chart.draw();
    });
  };

  // Follows a training run's event stream: live points go to the charts of their metric; `end` closes it.
  // options: {run, after, onPoints(points), onEnd(state), onLive(open)}; the stream reconnects after errors,
  // waiting longer each time (up to 30 s), and resumes after the last point it received.
  Group.prototype.follow = function (options) {
    const group = this;
    let received = options.after || 0;
    let delay = RECONNECT_FIRST_MS;
    let retry = 0;
    let stopped = false;

    function connect() {
      if (stopped) return;
      const url = group.apiRoot + "/v1/runs/" + encodeURIComponent(options.run) + "/events?after=" + received;
      const source = new EventSource(url);
      group.events = source;
      (options.onLive || function () {})(true);
      source.addEventListener("points", function (message) {
        delay = RECONNECT_FIRST_MS;
        const event = JSON.parse(message.data);
        const fresh = unseenPoints(event, received);
        received = Math.max(received, event.total);
        if (!fresh.length) return;
        if (options.onPoints) options.onPoints(fresh);
        group.charts.forEach(function (chart) {
          chart.append(fresh);
        });
      });
      source.addEventListener("end", function (message) {
        stop();
        const event = JSON.parse(message.data || "{}");
        group.loadAll(); // the final, complete series (ended runs' series are cached on the server)
        (options.onEnd || function () {})(event.state || "FINISHED", event);
      });
      source.addEventListener("error", function () {
        if (stopped) return;
        // Reconnect ourselves (EventSource gives up on HTTP errors), resuming after the last point received.
        source.close();
        window.clearTimeout(retry);
        retry = window.setTimeout(connect, delay);
        delay = Math.min(delay * 2, RECONNECT_LONGEST_MS);
      });
    }

    function stop() {
      stopped = true;
      window.clearTimeout(retry);
      if (group.events) group.events.close();
      group.events = null;
      (options.onLive || function () {})(false);
    }

    connect();
    return { stop: stop };
  };

  // ---------------------------------------------------------------- the public API

  function group(options) {
    return new Group(options || {});
  }

  // Several runs' series of one metric in one chart (the diff page). runs: [{run, label}]; options: {axis, log,
  // apiRoot}. Dragging zooms (re-queried), double-click resets; nothing goes into the URL. Resolves to the group.
  function overlay(container, runs, metric, options) {
    const settings = options || {};
    const shared = new Group({ apiRoot: settings.apiRoot, axis: settings.axis, log: settings.log, range: null });
    const sources = runs.map(function (item) {
      return { run: item.run, label: item.label || item.run };
    });
    const chart = shared.add(container, metric, sources);
    return chart.loading.then(function () {
      return shared;
    });
  }

  function pointCount(metric) {
    let count = -1;
    for (const chart of drawn) {
      if (chart.metric !== metric || chart.plot === null) continue;
      count = Math.max(count, 0) + countDrawn(chart.plot.data);
    }
    return count;
  }

  mltrack.chart = {
    group: group,
    overlay: overlay,
    pointCount: pointCount,
    _internal: {
      xOf: xOf,
      mergePoints: mergePoints,
      unseenPoints: unseenPoints,
      logFiltered: logFiltered,
      seriesQuery: seriesQuery,
      wholeRange: wholeRange,
      countDrawn: countDrawn,
      fromSeriesJson: fromSeriesJson,
    },
  };
})();
