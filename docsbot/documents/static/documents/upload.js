// Upload page: one card per upload with a byte-upload bar, an ingestion bar and a per-document list.
// Everything from documents is written with textContent, never as markup.
(function () {
  "use strict";
  const script = document.getElementById("upload-script");
  const form = document.getElementById("upload-form");
  if (!form) return;
  const statusUrl = (id) => script.dataset.statusUrl.replace(/0\.json$/, id + ".json");
  const resyncUrl = (id) => script.dataset.resyncUrl.replace("/0/", "/" + id + "/");
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function card(label) {
    const box = el("div", undefined, "upload-card");
    const title = el("strong", label);
    const upText = el("div", "uploading…");
    const upBar = el("div", undefined, "bar"); upBar.appendChild(el("div"));
    const inText = el("div", "waiting for a worker…");
    const inBar = el("div", undefined, "bar"); inBar.appendChild(el("div"));
    const table = el("table", undefined, "docs");
    box.append(title, upText, upBar, inText, inBar, table);
    document.getElementById("uploads").prepend(box);
    return { box, upText, upBar: upBar.firstChild, inText, inBar: inBar.firstChild, table };
  }

  function render(view, run) {
    const pct = Math.round((run.progress || 0) * 100);
    view.inBar.style.width = (run.status === "succeeded" ? 100 : pct) + "%";
    let text = "ingestion " + run.status + (run.phase ? " (" + run.phase + ")" : "") + ": " + run.processed + "/" + run.total;
    if (run.status === "succeeded") {
      const s = run.summary;
      text = "done: " + s.documents + " indexed" + (s.updated ? " (" + s.updated + " replacing the earlier text of their path)" : "") + ", " + s.unchanged + " unchanged, " + s.duplicates + " duplicates, " +
        s.removed + " removed, " + s.failed.length + " failed in " + s.seconds + " s";
    }
    if (run.error) text += " — " + run.error;
    view.inText.textContent = text;
    view.table.replaceChildren();
    for (const item of run.items || []) {
      const row = el("tr");
      row.append(el("td", item.path), el("td", item.status, "st-" + item.status),
                 el("td", item.chunks == null ? "" : item.chunks + " chunks"), el("td", item.error || item.note || ""));
      view.table.appendChild(row);
    }
  }

  // "Recent ingestions": every door's runs (a CLI ingest, an API upload too), refreshed every few seconds
  // while one is queued or running, and now and then otherwise.
  const runsBody = document.getElementById("recent-runs");
  let runsTimer = null;
  const unfinished = (status) => status === "queued" || status === "running";

  function renderRuns(runs) {
    runsBody.replaceChildren();
    if (!runs.length) {
      const cell = el("td", "none yet");
      cell.colSpan = 6;
      runsBody.appendChild(el("tr")).appendChild(cell);
    }
    for (const run of runs) {
      const row = el("tr");
      row.dataset.status = run.status;
      row.append(el("td", String(run.id)), el("td", run.team), el("td", run.origin), el("td", run.outcome),
                 el("td", run.processed + "/" + run.total), el("td", run.created));
      runsBody.appendChild(row);
    }
  }

  function refreshRuns() {
    clearTimeout(runsTimer);
    fetch(script.dataset.runsUrl, { credentials: "same-origin" }).then((r) => r.json()).then((body) => {
      renderRuns(body.runs);
      runsTimer = setTimeout(refreshRuns, body.runs.some((run) => unfinished(run.status)) ? 2000 : 15000);
    }).catch(() => { runsTimer = setTimeout(refreshRuns, 15000); });
  }
  runsTimer = setTimeout(refreshRuns, 2000);

  function poll(view, id) {
    fetch(statusUrl(id), { credentials: "same-origin" }).then((r) => r.json()).then((run) => {
      render(view, run);
      if (unfinished(run.status)) setTimeout(() => poll(view, id), 1000);
      else refreshRuns();
    }).catch(() => setTimeout(() => poll(view, id), 3000));
  }

  function send(url, data, label) {
    const view = card(label);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      const pct = Math.round((e.loaded / e.total) * 100);
      view.upBar.style.width = pct + "%";
      view.upText.textContent = "uploaded " + pct + "%";
    };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = { error: "HTTP " + xhr.status }; }
      view.upBar.style.width = "100%";
      if (xhr.status !== 202) { view.upText.textContent = "rejected: " + (body.error || xhr.status); return; }
      view.upText.textContent = "uploaded";
      render(view, body);
      poll(view, body.id);
      refreshRuns();
    };
    xhr.onerror = () => { view.upText.textContent = "upload failed: network error"; };
    xhr.send(data);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const files = document.getElementById("files").files;
    if (!files.length) { window.alert("Choose one or more files or archives first."); return; }
    const names = Array.from(files).map((f) => f.name).join(", ");
    send(form.action, new FormData(form), names);
    form.reset();
  });
  document.getElementById("resync").addEventListener("click", () => {
    const team = document.getElementById("team");
    const name = team.options[team.selectedIndex].text;
    if (!window.confirm("Ingest " + name + "'s last upload again? If that upload was a sync upload, every " +
                        "document not in it is removed.")) return;
    send(resyncUrl(team.value), new FormData(), "re-sync " + team.options[team.selectedIndex].text);
  });
})();
