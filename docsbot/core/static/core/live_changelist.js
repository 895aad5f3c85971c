// Admin change lists of long work (training jobs, pair generation runs, ingest runs): while a row is queued
// or running, re-read the list every few seconds and update the rows in place, so progress moves without a
// reload. Rows are matched by their link to their object, and the action checkbox's cell is never replaced:
// a row the reader has selected for an action stays selected.
function liveChangelist() {
  "use strict";
  const table = document.getElementById("result_list");
  if (!table) return;
  const UNFINISHED = /^(queued|running)\b/i;  // a status choice shows its label: "Running"
  const unfinished = (body) => Array.from(body.querySelectorAll(".field-status, .field-outcome"))
    .some((cell) => UNFINISHED.test(cell.textContent.trim()));

  // A row's link to its change page names its object.
  const key = (row) => { const link = row.querySelector("th a, td a"); return link ? link.getAttribute("href") : null; };

  function update(fresh) {
    const rows = new Map(Array.from(table.tBodies[0].rows, (row) => [key(row), row]));
    for (const row of fresh.rows) {
      const old = rows.get(key(row));
      if (!old) continue;  // a row that came or went: shown at the next reload
      Array.from(row.cells).forEach((cell, i) => {
        if (old.cells[i] && !cell.querySelector("input.action-select")) old.cells[i].replaceWith(document.importNode(cell, true));
      });
    }
  }

  function refresh() {
    fetch(window.location.href, { credentials: "same-origin" }).then((r) => r.text()).then((html) => {
      const fresh = new DOMParser().parseFromString(html, "text/html").querySelector("#result_list tbody");
      if (fresh) update(fresh);
      if (unfinished(table.tBodies[0])) setTimeout(refresh, 3000);
    }).catch(() => setTimeout(refresh, 10000));
  }

  if (unfinished(table.tBodies[0])) setTimeout(refresh, 3000);
}

// The admin puts a list's media in the page's head, before the list.
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", liveChangelist);
else liveChangelist();
