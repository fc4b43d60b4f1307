// Leaderboard: the Compare button is enabled when exactly two rows are chosen; the choice is kept in the URL
// (?select=EVAL&select=EVAL) so a shared link shows the same rows chosen. Without this script the form still
// works: the diff page says when the number of chosen rows is not two.
(function () {
  "use strict";
  const form = document.getElementById("compare-form");
  if (!form) return;
  const button = document.getElementById("compare");

  function chosen() {
    return Array.from(form.querySelectorAll('input[name="pick"]:checked')).map((box) => box.value);
  }

  function update() {
    const ids = chosen();
    button.disabled = ids.length !== 2;
    button.title = ids.length === 2 ? "" : "choose two rows (" + ids.length + " chosen)";
    if (window.mltrack && window.mltrack.state) window.mltrack.state.set({ select: ids });
  }

  form.addEventListener("change", update);
  update();
})();
