// View state in the page's query string, so that every view can be bookmarked and shared.
// window.mltrack.state.get(name) / getAll(name) read it; set({name: value | [values] | null}) rewrites it
// in place (history.replaceState: no reload, no new history entry).
(function () {
  "use strict";
  const mltrack = (window.mltrack = window.mltrack || {});

  function params() {
    return new URLSearchParams(window.location.search);
  }

  function applyChanges(search, changes) {
    const updated = new URLSearchParams(search);
    for (const [name, value] of Object.entries(changes)) {
      updated.delete(name);
      if (value === null || value === undefined || value === "") continue;
      for (const item of Array.isArray(value) ? value : [value]) updated.append(name, String(item));
    }
    return updated;
  }

  function set(changes) {
    const updated = applyChanges(window.location.search, changes).toString();
    const url = window.location.pathname + (updated ? "?" + updated : "") + window.location.hash;
    window.history.replaceState(window.history.state, "", url);
    return url;
  }

  // The JSON a page hands its scripts in <script type="application/json" id="...">: never executed.
  function pageData(id) {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  mltrack.state = {
    get: (name) => params().get(name),
    getAll: (name) => params().getAll(name),
    set,
    applyChanges,
    pageData,
  };
})();
