/* docsbot chat widget: <script src="https://HOST/widget.js" data-key="WIDGET_KEY" async></script>
 *
 * Options (data attributes): data-key (required), data-title, data-color, data-position
 * (bottom-right | bottom-left | top-right | top-left), data-mode (launcher | inline),
 * data-target (CSS selector of the inline container), data-placeholder, data-docs-base (the address your
 * uploaded documentation is published at: a source's file path, "guide/install.md", is linked under it; without
 * it such a source is shown as text).
 *
 * Safety: model and document text never reach innerHTML. Answers are parsed by the small
 * Markdown renderer below, which builds DOM nodes with textContent; links are kept only for
 * http(s)/mailto URLs, images become plain links (nothing remote loads by itself).
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector('script[data-key][src*="widget.js"]');
  if (!script || script.__docsbotStarted) return;
  script.__docsbotStarted = true;

  var KEY = script.getAttribute("data-key") || "";
  var API = new URL(script.src, document.baseURI).origin;
  var TITLE = script.getAttribute("data-title") || "Ask the docs";
  var MODE = script.getAttribute("data-mode") === "inline" ? "inline" : "launcher";
  var POSITION = /^(top|bottom)-(left|right)$/.test(script.getAttribute("data-position") || "")
    ? script.getAttribute("data-position") : "bottom-right";
  var COLOR = safeColor(script.getAttribute("data-color")) || "#2563eb";
  var PLACEHOLDER = script.getAttribute("data-placeholder") || "Ask a question…";
  var ABSOLUTE = /^(https?:|mailto:)/i;
  var DOCS_BASE = ABSOLUTE.test(script.getAttribute("data-docs-base") || "") ? script.getAttribute("data-docs-base") : "";
  var STORE = "docsbot:" + KEY;

  function safeColor(value) {
    if (!value) return "";
    value = value.trim();
    return /^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}|(rgb|hsl)a?\([0-9.,%\s]+\))$/.test(value) ? value : "";
  }

  // --- safe Markdown -------------------------------------------------------------------
  function safeUrl(raw) {
    if (!raw) return null;
    var cleaned = String(raw).replace(/[\u0000-\u0020\u007f-\u009f]/g, "");
    // A relative address (an uploaded file's path, "uploading-docs.md") resolves against data-docs-base, never
    // against the page that embeds the widget, where it would open a 404; without a base it is not a link.
    if (!ABSOLUTE.test(cleaned) && !DOCS_BASE) return null;
    var url;
    try { url = new URL(cleaned, DOCS_BASE || undefined); } catch (e) { return null; }
    return ["http:", "https:", "mailto:"].indexOf(url.protocol) >= 0 ? url.href : null;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) for (var name in attrs) if (attrs[name] != null) node.setAttribute(name, attrs[name]);
    if (text != null) node.textContent = text;
    return node;
  }

  function link(label, href) {
    var url = safeUrl(href);
    if (!url) return document.createTextNode(label);
    var a = el("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow" });
    a.textContent = label;
    return a;
  }

  var INLINE = /(`+)([\s\S]*?)\1|!\[([^\]]*)\]\(\s*([^)\s]*)(?:\s+"[^"]*")?\s*\)|\[([^\]]+)\]\(\s*([^)\s]*)(?:\s+"[^"]*")?\s*\)|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|\b_([^_\s][^_]*)_\b/g;

  function renderInline(text, parent) {
    var last = 0, m;
    INLINE.lastIndex = 0;
    var matches = [];
    while ((m = INLINE.exec(text))) { matches.push([m.index, INLINE.lastIndex, m]); if (m[0] === "") INLINE.lastIndex++; }
    matches.forEach(function (entry) {
      var m = entry[2];
      if (entry[0] > last) parent.appendChild(document.createTextNode(text.slice(last, entry[0])));
      if (m[1] !== undefined) parent.appendChild(el("code", null, m[2]));
      else if (m[3] !== undefined) parent.appendChild(link("🖼 " + (m[3] || "image"), m[4])); // never an <img>
      else if (m[5] !== undefined) parent.appendChild(link(m[5], m[6]));
      else if (m[7] !== undefined || m[8] !== undefined) renderInline(m[7] || m[8], parent.appendChild(el("strong")));
      else renderInline(m[9] || m[10], parent.appendChild(el("em")));
      last = entry[1];
    });
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
    return parent;
  }

  function renderMarkdown(source) {
    var fragment = document.createDocumentFragment();
    var lines = String(source || "").replace(/\r\n?/g, "\n").split("\n");
    var i = 0, paragraph = [];
    function flush() {
      if (paragraph.length) fragment.appendChild(renderInline(paragraph.join(" "), el("p")));
      paragraph = [];
    }
    while (i < lines.length) {
      var line = lines[i], m;
      if (/^\s*```/.test(line)) {
        flush();
        var code = [];
        for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) code.push(lines[i]);
        i++;
        fragment.appendChild(el("pre")).appendChild(el("code", null, code.join("\n")));
      } else if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
        flush();
        fragment.appendChild(renderInline(m[2], el("h" + Math.min(6, m[1].length + 2))));
        i++;
      } else if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
        flush();
        var ordered = /^\s*\d/.test(line);
        var list = el(ordered ? "ol" : "ul");
        while (i < lines.length && (m = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(lines[i])) && /^\s*\d/.test(lines[i]) === ordered) {
          list.appendChild(renderInline(m[2], el("li")));
          i++;
        }
        fragment.appendChild(list);
      } else if (/^\s*>/.test(line)) {
        flush();
        var quoted = [];
        while (i < lines.length && /^\s*>/.test(lines[i])) quoted.push(lines[i++].replace(/^\s*>\s?/, ""));
        fragment.appendChild(el("blockquote")).appendChild(renderMarkdown(quoted.join("\n")));
      } else if (!line.trim()) {
        flush();
        i++;
      } else {
        paragraph.push(line.trim());
        i++;
      }
    }
    flush();
    return fragment;
  }

  // --- state ---------------------------------------------------------------------------
  function load() {
    try { return JSON.parse(localStorage.getItem(STORE)) || {}; } catch (e) { return {}; }
  }
  function save(state) {
    try { localStorage.setItem(STORE, JSON.stringify({ conversation_id: state.conversation_id, log: state.log.slice(-40) })); } catch (e) { /* storage full or blocked */ }
  }
  var state = load();
  state.log = Array.isArray(state.log) ? state.log : [];

  // --- DOM -------------------------------------------------------------------------------
  var CSS = [
    ":host{all:initial;--c:" + COLOR + ";font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#111}",
    "*{box-sizing:border-box}",
    ".launcher{position:fixed;z-index:2147483000;width:56px;height:56px;border-radius:50%;border:0;background:var(--c);color:#fff;font-size:24px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".panel{display:flex;flex-direction:column;background:#fff;border:1px solid #d0d4da;border-radius:12px;overflow:hidden}",
    ".floating{position:fixed;z-index:2147483001;width:min(380px,calc(100vw - 32px));height:min(560px,calc(100vh - 110px));box-shadow:0 8px 30px rgba(0,0,0,.25)}",
    ".inline{width:100%;height:100%;min-height:420px}",
    ".panel[hidden]{display:none}",
    ".bottom-right{right:20px;bottom:20px}.bottom-left{left:20px;bottom:20px}.top-right{right:20px;top:20px}.top-left{left:20px;top:20px}",
    ".floating.bottom-right,.floating.bottom-left{bottom:88px}.floating.top-right,.floating.top-left{top:88px}",
    "header{display:flex;align-items:center;justify-content:space-between;padding:10px 14px;background:var(--c);color:#fff}",
    "h2{font-size:15px;margin:0}",
    "button{font:inherit;cursor:pointer}",
    ".close{background:transparent;border:0;color:#fff;font-size:20px;line-height:1}",
    ".restart{background:transparent;border:1px solid rgba(255,255,255,.7);border-radius:6px;color:#fff;font-size:12px;padding:2px 8px;margin-left:auto;margin-right:8px}",
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:10px}",
    ".msg{max-width:90%;padding:8px 11px;border-radius:10px;word-wrap:break-word;overflow-wrap:anywhere}",
    ".user{align-self:flex-end;background:var(--c);color:#fff}",
    ".assistant{align-self:flex-start;background:#f1f3f5}",
    ".msg p{margin:0 0 6px}.msg p:last-child{margin:0}.msg pre{background:#e6e8eb;padding:6px;overflow-x:auto}",
    ".msg a{color:#1d4ed8}.error{background:#fdecea;color:#8a1c1c}",
    ".sources{margin-top:6px;font-size:12px}.sources ul{margin:2px 0 0;padding-left:18px}",
    ".feedback{display:flex;gap:6px;margin-top:6px;align-items:center}",
    ".feedback button{background:#fff;border:1px solid #c5cad1;border-radius:6px;padding:2px 8px}",
    ".feedback button[aria-pressed=true]{background:var(--c);color:#fff;border-color:var(--c)}",
    ".feedback input{flex:1;min-width:0;font:inherit;padding:2px 6px}",
    "form{display:flex;gap:6px;padding:10px;border-top:1px solid #e3e6ea}",
    "textarea{flex:1;resize:none;font:inherit;padding:6px 8px;border:1px solid #c5cad1;border-radius:8px;height:40px}",
    ".send{background:var(--c);color:#fff;border:0;border-radius:8px;padding:0 14px}",
    ":focus-visible{outline:2px solid #f59e0b;outline-offset:2px}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}"
  ].join("\n");

  var host = el("div", { "data-docsbot": "" });
  var root = host.attachShadow({ mode: "open" });
  root.appendChild(el("style", null, CSS));

  var panelId = "docsbot-panel";
  var panel = el("section", { "class": "panel " + (MODE === "inline" ? "inline" : "floating " + POSITION),
                              id: panelId, role: "dialog", "aria-label": TITLE });
  var header = el("header");
  header.appendChild(el("h2", null, TITLE));
  var closeButton = el("button", { type: "button", "class": "close", "aria-label": "Close chat" }, "×");
  // A new topic starts a new conversation: the answers before it no longer follow the reader around.
  var restartButton = el("button", { type: "button", "class": "restart", "aria-label": "Start a new conversation" },
                         "New chat");
  header.appendChild(restartButton);
  if (MODE !== "inline") header.appendChild(closeButton);
  var log = el("div", { "class": "log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  var form = el("form");
  var inputId = "docsbot-input";
  form.appendChild(el("label", { "for": inputId, "class": "sr" }, "Your question"));
  var input = el("textarea", { id: inputId, placeholder: PLACEHOLDER, rows: "1", maxlength: "2000" });
  var send = el("button", { type: "submit", "class": "send", "aria-label": "Send question" }, "Send");
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(form);

  var launcher = el("button", { type: "button", "class": "launcher " + POSITION, "aria-label": "Open docs chat",
                                "aria-expanded": "false", "aria-controls": panelId }, "?");

  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? "Close docs chat" : "Open docs chat");
    if (open) { input.focus(); log.scrollTop = log.scrollHeight; } else launcher.focus();
  }

  // --- rendering messages ------------------------------------------------------------------
  function renderSources(entry, parent) {
    var sources = entry.sources;
    if (!sources || !sources.length) return;
    var box = el("div", { "class": "sources" });
    box.appendChild(el("strong", null, "Sources"));
    var list = el("ul");
    sources.forEach(function (s) {
      var label = (s.title || "Untitled") + (s.section ? " — " + s.section : "");
      var a = list.appendChild(el("li")).appendChild(link(label, s.url));
      if (entry.message_id && a.tagName === "A") {
        // Which sources users open is one of the figures an A/B test of adapter versions compares.
        a.addEventListener("click", function () { postSourceClick(entry, s.index); });
        a.addEventListener("auxclick", function (event) { if (event.button === 1) postSourceClick(entry, s.index); });
      }
    });
    box.appendChild(list);
    parent.appendChild(box);
  }

  function renderFeedback(entry, parent) {
    if (!entry.message_id) return;
    var bar = el("div", { "class": "feedback", role: "group", "aria-label": "Was this answer helpful?" });
    var up = el("button", { type: "button", "aria-label": "Helpful", "aria-pressed": String(entry.rating === "up") }, "👍");
    var down = el("button", { type: "button", "aria-label": "Not helpful", "aria-pressed": String(entry.rating === "down") }, "👎");
    function vote(rating) {
      entry.rating = rating;
      up.setAttribute("aria-pressed", String(rating === "up"));
      down.setAttribute("aria-pressed", String(rating === "down"));
      save(state);
      postFeedback(entry, rating, "");
      if (rating === "down" && !bar.querySelector("input")) {
        var comment = el("input", { type: "text", "aria-label": "What was wrong? (optional)", placeholder: "What was wrong? (optional)", maxlength: "2000" });
        var submit = el("button", { type: "button", "aria-label": "Send comment" }, "Send");
        submit.addEventListener("click", function () {
          postFeedback(entry, "down", comment.value);
          var thanks = el("span", { role: "status", tabindex: "-1" }, "Thanks for the feedback.");
          bar.replaceChild(thanks, comment);
          submit.remove();
          thanks.focus();  // keep focus inside the panel so Esc still reaches it
        });
        bar.appendChild(comment);
        bar.appendChild(submit);
        comment.focus();
      }
    }
    up.addEventListener("click", function () { vote("up"); });
    down.addEventListener("click", function () { vote("down"); });
    bar.appendChild(up);
    bar.appendChild(down);
    parent.appendChild(bar);
  }

  function renderEntry(entry, node) {
    node = node || log.appendChild(el("div"));
    node.className = "msg " + entry.role + (entry.error ? " error" : "");
    node.textContent = "";
    if (entry.role === "user" || entry.error) node.textContent = entry.text;
    else node.appendChild(renderMarkdown(entry.text));
    if (entry.role === "assistant" && entry.done) {
      renderSources(entry, node);
      renderFeedback(entry, node);
    }
    log.scrollTop = log.scrollHeight;
    return node;
  }

  // --- network -----------------------------------------------------------------------------
  function endpoint(path) { return API + path + "?key=" + encodeURIComponent(KEY); }

  function postFeedback(entry, rating, comment) {
    return fetch(endpoint("/api/v1/chat/messages/" + entry.message_id + "/feedback"), {
      method: "POST", credentials: "omit", mode: "cors",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ rating: rating, comment: comment, conversation_id: state.conversation_id })
    }).catch(function () { /* feedback is best effort */ });
  }

  function postSourceClick(entry, index) {
    // keepalive: the request outlives a page the link replaces.
    return fetch(endpoint("/api/v1/chat/messages/" + entry.message_id + "/source-click"), {
      method: "POST", credentials: "omit", mode: "cors", keepalive: true,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ index: index, conversation_id: state.conversation_id })
    }).catch(function () { /* best effort */ });
  }

  function parseEvents(buffer, onEvent) {
    var frames = buffer.split("\n\n");
    var rest = frames.pop();
    frames.forEach(function (frame) {
      var name = "message", data = [];
      frame.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) name = line.slice(6).trim();
        else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
      });
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    });
    return rest;
  }

  function ask(question, retried) {
    var entry = { role: "assistant", text: "", done: false };
    var node = renderEntry(entry);
    log.setAttribute("aria-busy", "true");
    send.disabled = true;
    var scheduled = false;
    function redraw() {
      if (scheduled) return;
      scheduled = true;
      requestAnimationFrame(function () { scheduled = false; renderEntry(entry, node); });
    }
    function finish() {
      log.removeAttribute("aria-busy");
      send.disabled = false;
      entry.done = true;
      renderEntry(entry, node);
      state.log.push(entry);
      save(state);
    }
    return fetch(endpoint("/api/v1/chat"), {
      method: "POST", credentials: "omit", mode: "cors",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question: question, conversation_id: state.conversation_id || undefined })
    }).then(function (response) {
      if (response.status === 404 && state.conversation_id && !retried) {
        state.conversation_id = null;  // the stored conversation is gone: start a new one
        node.remove();
        return ask(question, true);
      }
      if (!response.ok) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          entry.error = true;
          entry.text = body.detail || ("Request failed (" + response.status + ")");
          finish();
        });
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function onEvent(name, data) {
        if (name === "token") { entry.text += data.text; redraw(); }
        else if (name === "done" || name === "error") {
          entry.text = data.answer || data.detail || entry.text;
          entry.error = name === "error";
          entry.sources = data.sources || [];
          entry.message_id = data.message_id;
          if (data.conversation_id) state.conversation_id = data.conversation_id;
        }
      }
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) { parseEvents(buffer + "\n\n", onEvent); finish(); return; }
          buffer = parseEvents(buffer + decoder.decode(chunk.value, { stream: true }), onEvent);
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      entry.error = true;
      entry.text = "Could not reach the docs assistant. Please try again.";
      finish();
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var question = input.value.trim();
    if (!question || send.disabled) return;
    input.value = "";
    var entry = { role: "user", text: question };
    state.log.push(entry);
    renderEntry(entry);
    ask(question);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && MODE !== "inline" && !panel.hidden) { event.preventDefault(); setOpen(false); }
  });
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  restartButton.addEventListener("click", function () {
    if (send.disabled) return;  // an answer is still coming: it belongs to this conversation
    state.conversation_id = null;
    state.log = [];
    save(state);
    log.replaceChildren();
    input.focus();
  });

  state.log.forEach(function (entry) { entry.done = true; renderEntry(entry); });

  function mount() {
    if (MODE === "inline") {
      var target = document.querySelector(script.getAttribute("data-target") || "");
      (target || document.body).appendChild(host);
    } else {
      panel.hidden = true;
      root.appendChild(launcher);
      document.body.appendChild(host);
    }
    root.appendChild(panel);
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  window.DocsbotWidget = { renderMarkdown: renderMarkdown, safeUrl: safeUrl, open: function () { setOpen(true); } };
})();
