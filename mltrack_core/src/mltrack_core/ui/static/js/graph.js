// Directed graphs as SVG: the model page's column DAG and network layout, the lineage page's graph.
//
// window.mltrack.graph.draw(container, data) lays out {nodes, edges} with dagre (vendored, global `dagre`) and
// draws them. A node is {id, label, sub?, class?, href?, name?}; an edge {source, target, label?, title?}.
// Every text is stored data, so hostile: it goes in with textContent only, and links only use the URLs the server
// put in the page data (paths on this server). Large networks collapse by name prefix: data.collapse =
// {separator, depth, expanded} groups nodes whose names share their first `depth` segments into one vertex
// ("stage3_unit2 (12 ops)"); clicking a group opens it one level deeper. The depth and the opened groups live in
// the URL (collapse=N, expand=PREFIX...). Pages with a [data-graph="<id of a JSON page data block>"] element are
// drawn on load. The pure steps (grouping, merging edges, the layout's input) are on mltrack.graph._internal.
(function () {
  "use strict";
  const scope = typeof window !== "undefined" ? window : globalThis;
  const mltrack = (scope.mltrack = scope.mltrack || {});
  const SVG = "http://www.w3.org/2000/svg";
  const GROUP = "group/"; // group vertices' ids: no entity id holds "/" (only operators, with entity ids, are grouped)
  const MAX_LABEL = 42;
  const MAX_SUB = 48;
  const MAX_EDGE_LABELS = 400; // more labelled edges than this: labels go in tooltips (layout stays fast)
  let drawings = 0;

  // ---------------------------------------------------------------- pure functions

  // The group of `name` at `depth`: its first `depth` segments, or null when it has no more segments.
  // (The same rule as mltrack_core.ui.pages.model.prefix_of on the server.)
  function prefixOf(name, separator, depth) {
    if (!separator || !(depth > 0)) return null;
    const segments = String(name).split(separator);
    if (segments.length <= depth) return null;
    return segments.slice(0, depth).join(separator) || null;
  }

  // The group `name` is drawn in, given the opened groups: an opened group shows its members one level deeper.
  function groupKey(name, separator, depth, expanded) {
    let level = depth;
    let key = prefixOf(name, separator, level);
    while (key !== null && expanded.has(key)) {
      level += 1;
      key = prefixOf(name, separator, level);
    }
    return key;
  }

  function countedSummary(values, shown) {
    const counts = new Map();
    for (const value of values) if (value) counts.set(value, (counts.get(value) || 0) + 1);
    const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const parts = sorted.slice(0, shown).map(([value, count]) => (count > 1 ? value + "×" + count : value));
    if (sorted.length > shown) parts.push("+" + (sorted.length - shown));
    return parts.join(" ");
  }

  function groupVertex(key, members, unit) {
    const last = [...members].reverse().find((member) => member.shape);
    const operators = countedSummary(
      members.map((member) => member.operator),
      2,
    );
    return {
      id: GROUP + key,
      label: key + " (" + members.length + " " + unit + ")",
      sub: [operators, last ? "→ " + last.shape : ""].filter(Boolean).join(" "),
      class: "group",
      prefix: key,
      members: members.length,
      group: true,
    };
  }

  // Nodes collapsed by name prefix. options: {separator, depth, expanded: [prefix...], unit}.
  // Returns {nodes: the vertices to draw (a group where it has 2+ members, at its first member's place),
  //          drawnOf: Map(node id -> id of the vertex it is drawn as)}.
  function groupNodes(nodes, options) {
    const separator = options && options.separator;
    const depth = (options && options.depth) || 0;
    const expanded = new Set((options && options.expanded) || []);
    const unit = (options && options.unit) || "ops";
    const keyOf = new Map();
    const members = new Map();
    for (const node of nodes) {
      const key = separator && depth > 0 ? groupKey(node.name ?? node.label, separator, depth, expanded) : null;
      keyOf.set(node.id, key);
      if (key === null) continue;
      if (!members.has(key)) members.set(key, []);
      members.get(key).push(node);
    }
    const drawn = [];
    const drawnOf = new Map();
    const placed = new Set();
    for (const node of nodes) {
      const key = keyOf.get(node.id);
      const group = key === null ? null : members.get(key);
      if (!group || group.length === 1) {
        drawn.push(node);
        drawnOf.set(node.id, node.id);
        continue;
      }
      drawnOf.set(node.id, GROUP + key);
      if (placed.has(key)) continue;
      placed.add(key);
      drawn.push(groupVertex(key, group, unit));
    }
    return { nodes: drawn, drawnOf };
  }

  // Edges between the drawn vertices: endpoints mapped by drawnOf, edges inside a vertex dropped, parallel edges
  // with the same label merged into one that counts them.
  function mergeEdges(edges, drawnOf) {
    const merged = new Map();
    for (const edge of edges) {
      const source = drawnOf ? drawnOf.get(edge.source) : edge.source;
      const target = drawnOf ? drawnOf.get(edge.target) : edge.target;
      if (source === undefined || target === undefined || source === target) continue;
      const label = edge.label || "";
      const key = JSON.stringify([source, target, label]);
      const seen = merged.get(key);
      if (seen) {
        seen.count += 1;
        continue;
      }
      const drawn = { source, target, label, count: 1 };
      if (edge.title) drawn.title = edge.title;
      merged.set(key, drawn);
    }
    return [...merged.values()];
  }

  function shortened(text, limit) {
    const shown = text == null ? "" : String(text);
    return shown.length <= limit ? shown : shown.slice(0, limit - 1) + "…";
  }

  // A vertex's box, from its (shortened) text: about 7 px a character of the label, 6 of the second line.
  function nodeSize(node) {
    const label = shortened(node.label, MAX_LABEL);
    const sub = shortened(node.sub, MAX_SUB);
    const width = Math.max(56, Math.ceil(Math.max(label.length * 7.2, sub.length * 6.2)) + 20);
    return { width, height: sub ? 40 : 26 };
  }

  // The layout's input: the graph's options, the vertices with their sizes, the edges (named: a multigraph).
  // Vertices are keyed by position ("n0", "n1", ...), not by id: graphlib keeps them in plain objects, where an id
  // such as "__proto__" (a valid entity id) would not be an ordinary key.
  function buildLayoutInput(nodes, edges, options) {
    const labelled = edges.filter((edge) => edge.label).length;
    const edgeLabels = labelled > 0 && labelled <= ((options && options.maxEdgeLabels) || MAX_EDGE_LABELS);
    const keyOf = new Map(nodes.map((node, index) => [node.id, "n" + index]));
    return {
      graph: {
        rankdir: (options && options.rankdir) || "TB",
        nodesep: 18,
        ranksep: edgeLabels ? 46 : 34,
        edgesep: 8,
        marginx: 12,
        marginy: 12,
      },
      nodes: nodes.map((node, index) => ({ key: "n" + index, id: node.id, ...nodeSize(node) })),
      edges: edges
        .filter((edge) => keyOf.has(edge.source) && keyOf.has(edge.target))
        .map((edge, index) => {
          const label = edgeLabels ? shortened(edge.label, 28) : "";
          return {
            v: keyOf.get(edge.source),
            w: keyOf.get(edge.target),
            name: "e" + index,
            edge,
            label,
            width: label ? label.length * 6.2 + 6 : 0,
            height: label ? 14 : 0,
            labelpos: "c",
          };
        }),
      edgeLabels,
    };
  }

  // Only a path on this server (what url_for gives): never another scheme or host.
  function safeHref(href) {
    return typeof href === "string" && href.startsWith("/") && !href.startsWith("//") && !href.includes("\\")
      ? href
      : null;
  }

  // ---------------------------------------------------------------- layout (dagre) and drawing

  function layout(input) {
    const graph = new dagre.graphlib.Graph({ multigraph: true });
    graph.setGraph({ ...input.graph });
    graph.setDefaultEdgeLabel(() => ({}));
    for (const node of input.nodes) graph.setNode(node.key, { width: node.width, height: node.height });
    for (const edge of input.edges) {
      graph.setEdge(
        edge.v,
        edge.w,
        { width: edge.width, height: edge.height, labelpos: edge.labelpos, label: edge.label },
        edge.name,
      );
    }
    dagre.layout(graph);
    const size = graph.graph();
    return {
      width: Math.ceil(size.width || 0),
      height: Math.ceil(size.height || 0),
      node: (key) => graph.node(key),
      edge: (edge) => graph.edge(edge.v, edge.w, edge.name),
    };
  }

  function element(name, attributes, parent) {
    const created = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes || {})) created.setAttribute(key, String(value));
    if (parent) parent.appendChild(created);
    return created;
  }

  function text(parent, content, attributes) {
    const created = element("text", attributes, parent);
    created.textContent = content;
    return created;
  }

  function pathThrough(points) {
    if (!points || points.length === 0) return "";
    let d = "M" + points[0].x + "," + points[0].y;
    if (points.length === 2) return d + " L" + points[1].x + "," + points[1].y;
    for (let index = 1; index < points.length - 1; index += 1) {
      const point = points[index];
      const next = points[index + 1];
      const endX = index === points.length - 2 ? next.x : (point.x + next.x) / 2;
      const endY = index === points.length - 2 ? next.y : (point.y + next.y) / 2;
      d += " Q" + point.x + "," + point.y + " " + endX + "," + endY;
    }
    return d;
  }

  const CLASS_NAME = /^[a-z][a-z0-9-]*$/;

  function drawNode(parent, node, box, onGroup) {
    const group = element("g", {
      class: "node",
      transform: "translate(" + (box.x - box.width / 2) + "," + (box.y - box.height / 2) + ")",
    });
    for (const name of String(node.class || "").split(/\s+/)) if (CLASS_NAME.test(name)) group.classList.add(name);
    group.setAttribute("data-id", node.id);
    const title = element("title", {}, group);
    title.textContent = [node.label, node.sub].filter(Boolean).join("\n");
    let body = group;
    if (node.group) {
      group.setAttribute("data-prefix", node.prefix);
      group.setAttribute("data-members", node.members);
      group.setAttribute("tabindex", "0");
      group.setAttribute("role", "button");
      group.addEventListener("click", () => onGroup(node.prefix));
      group.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          onGroup(node.prefix);
        }
      });
    } else {
      const href = safeHref(node.href);
      if (href) body = element("a", { href }, group);
    }
    element("rect", { width: box.width, height: box.height, rx: 5, ry: 5 }, body);
    const middle = box.width / 2;
    if (node.sub) {
      text(body, shortened(node.label, MAX_LABEL), { x: middle, y: 16, "text-anchor": "middle" });
      text(body, shortened(node.sub, MAX_SUB), { x: middle, y: 31, "text-anchor": "middle", class: "sub" });
    } else {
      text(body, shortened(node.label, MAX_LABEL), { x: middle, y: 17, "text-anchor": "middle" });
    }
    parent.appendChild(group);
  }

  function drawEdge(parent, edge, route, marker, withLabel) {
    const group = element("g", { class: "edge" }, parent);
    group.setAttribute("data-source", edge.source);
    group.setAttribute("data-target", edge.target);
    if (edge.label || edge.title || edge.count > 1) {
      const title = element("title", {}, group);
      const counted = edge.count > 1 ? " (" + edge.count + " edges)" : "";
      title.textContent = [edge.label, edge.title].filter(Boolean).join(": ") + counted;
    }
    element("path", { d: pathThrough(route.points), "marker-end": "url(#" + marker + ")" }, group);
    if (withLabel && route.label && route.x !== undefined) {
      text(group, route.label, { x: route.x, y: route.y + 4, "text-anchor": "middle" });
    }
  }

  // Lays out and draws `data` into `container` (replacing what it held). Returns the SVG element.
  function render(container, data, view) {
    const grouped = groupNodes(data.nodes || [], view.collapse);
    const edges = mergeEdges(data.edges || [], grouped.drawnOf);
    const input = buildLayoutInput(grouped.nodes, edges, { rankdir: data.rankdir });
    const placed = layout(input);
    drawings += 1;
    const marker = "mltrack-arrow-" + drawings;
    const svg = element("svg", { width: placed.width, height: placed.height, class: "graph-svg" });
    svg.setAttribute("viewBox", "0 0 " + placed.width + " " + placed.height);
    const definitions = element("defs", {}, svg);
    const arrow = element(
      "marker",
      { id: marker, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" },
      definitions,
    );
    element("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }, arrow);
    const edgeLayer = element("g", { class: "edges" }, svg);
    for (const edge of input.edges) {
      drawEdge(edgeLayer, edge.edge, { ...placed.edge(edge), label: edge.label }, marker, input.edgeLabels);
    }
    const nodeLayer = element("g", { class: "nodes" }, svg);
    grouped.nodes.forEach((node, index) => {
      drawNode(nodeLayer, node, placed.node(input.nodes[index].key), view.onGroup);
    });
    svg.setAttribute("data-nodes", String(grouped.nodes.length));
    svg.setAttribute("data-edges", String(edges.length));
    const fitted = fitsToWidth(view.fit, placed, container.clientWidth, 0.8 * window.innerHeight);
    fitTo(svg, placed, fitted);
    svg.setAttribute("data-fitted", String(fitted));
    container.replaceChildren(svg);
    svg.setAttribute("data-drawn", "true");
    container.setAttribute("data-drawn", "true");
    container.setAttribute("data-nodes", String(grouped.nodes.length));
    return svg;
  }

  // Whether to shrink a graph to its box: asked for ("width") or not ("actual"); by default when it is wider than
  // the box by at most 2.5 times and, shrunk, no taller than `tallest` (a larger one is scrolled and dragged).
  function fitsToWidth(choice, size, available, tallest) {
    if (choice === "width") return true;
    if (choice === "actual" || !available) return false;
    const scale = available / size.width;
    return scale < 1 && scale >= 0.4 && size.height * scale <= tallest;
  }

  function fitTo(svg, size, fit) {
    if (fit) {
      svg.setAttribute("width", "100%");
      svg.removeAttribute("height");
      svg.style.maxHeight = "80vh";
    } else {
      svg.setAttribute("width", String(size.width));
      svg.setAttribute("height", String(size.height));
      svg.style.maxHeight = "";
    }
  }

  // Drag with the mouse to scroll a graph larger than its box (the box scrolls too).
  function pannable(container) {
    let start = null;
    container.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 || event.target.closest("a, [role=button]")) return;
      start = { x: event.clientX, y: event.clientY, left: container.scrollLeft, top: container.scrollTop };
      container.classList.add("panning");
    });
    container.addEventListener("pointermove", (event) => {
      if (!start) return;
      container.scrollLeft = start.left - (event.clientX - start.x);
      container.scrollTop = start.top - (event.clientY - start.y);
    });
    const stop = () => {
      start = null;
      container.classList.remove("panning");
    };
    container.addEventListener("pointerup", stop);
    container.addEventListener("pointerleave", stop);
  }

  function message(container, words) {
    const paragraph = document.createElement("p");
    paragraph.className = "empty";
    paragraph.textContent = words;
    container.replaceChildren(paragraph);
  }

  // Draws `data` in `container` and wires the page's controls ([data-graph-control] in the same card).
  function draw(container, data) {
    if (typeof dagre === "undefined") {
      message(container, "The graph library (dagre) did not load; the table below lists the same vertices.");
      return null;
    }
    const collapse = data.collapse || null;
    const state = {
      depth: collapse ? collapse.depth : 0,
      expanded: collapse ? [...(collapse.expanded || [])] : [],
      fit: mltrack.state.get("fit"), // "width", "actual" or null (automatic)
    };
    const card = container.closest(".card") || document;
    const control = (name) => card.querySelector('[data-graph-control="' + name + '"]');
    const reset = control("reset");
    const fit = control("fit");
    let svg = null;

    function redraw() {
      if (!data.nodes || data.nodes.length === 0) {
        message(container, "Nothing to draw.");
        container.setAttribute("data-drawn", "true");
        container.setAttribute("data-nodes", "0");
        return;
      }
      svg = render(container, data, {
        collapse: collapse ? { separator: collapse.separator, depth: state.depth, expanded: state.expanded } : null,
        fit: state.fit,
        onGroup: (prefix) => {
          if (!state.expanded.includes(prefix)) state.expanded.push(prefix);
          mltrack.state.set({ expand: state.expanded });
          redraw();
        },
      });
      if (reset) reset.hidden = state.expanded.length === 0;
    }

    const depthChoice = control("collapse");
    if (depthChoice && collapse) {
      depthChoice.addEventListener("change", () => {
        state.depth = Number.parseInt(depthChoice.value, 10) || 0;
        state.expanded = [];
        mltrack.state.set({ collapse: String(state.depth), expand: null });
        redraw();
      });
    }
    if (reset) {
      reset.addEventListener("click", () => {
        state.expanded = [];
        mltrack.state.set({ expand: null });
        redraw();
      });
    }
    const fitted = () => svg !== null && svg.getAttribute("data-fitted") === "true";
    const label = () => {
      if (fit) fit.textContent = fitted() ? "Actual size" : "Fit to width";
    };
    if (fit) {
      fit.hidden = false;
      fit.addEventListener("click", () => {
        state.fit = fitted() ? "actual" : "width";
        mltrack.state.set({ fit: state.fit });
        if (svg) redraw();
        label();
      });
    }
    pannable(container);
    redraw();
    label();
    if (svg) bringIntoView(container, svg.querySelector("g.node.root"));
    return svg;
  }

  // Scrolls the container so that `node` (the lineage graph's root) is in the middle of what is shown.
  function bringIntoView(container, node) {
    if (!node) return;
    const box = container.getBoundingClientRect();
    const shown = node.getBoundingClientRect();
    container.scrollLeft += shown.left + shown.width / 2 - (box.left + container.clientWidth / 2);
    container.scrollTop += shown.top + shown.height / 2 - (box.top + container.clientHeight / 2);
  }

  function drawAll() {
    for (const container of document.querySelectorAll("[data-graph]")) {
      const data = mltrack.state.pageData(container.getAttribute("data-graph"));
      if (data) draw(container, data);
    }
  }

  mltrack.graph = {
    draw,
    drawAll,
    _internal: { prefixOf, groupKey, groupNodes, mergeEdges, nodeSize, buildLayoutInput, safeHref, shortened, fitsToWidth },
  };

  if (typeof document !== "undefined") {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
    else drawAll();
  }
})();
