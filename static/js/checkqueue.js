/* The grid worker's outbox (docs/adr/0010-offline-check-queue.md).
 *
 * Every check and zero report is given a UUID and written to localStorage BEFORE it is sent,
 * so a dropped network, a closed tab or a dead battery loses nothing. The queue is sent in
 * order with fetch(); an item leaves it only when the server answers 200 (already stored) or
 * 201 (stored). A network failure or a 5xx keeps it, and it is retried with a growing delay
 * and at once when the browser comes back online. A 400 is the worker's to fix: the item is
 * kept, marked with the server's message, until they discard it. The server stores a UUID
 * once, so sending an item twice (an answer lost on the way back) is harmless.
 */
(function () {
  "use strict";

  var configNode = document.getElementById("checkqueue-config");
  if (!configNode) return;
  var config = JSON.parse(configNode.textContent);
  var T = JSON.parse(document.getElementById("checkqueue-strings").textContent);
  var csrf = document.getElementById("checkqueue-csrf").value;
  // One queue per user: a phone shared by two workers never sends one's checks as the other's.
  var KEY = "gridcmd.checkqueue." + config.user;
  var MIN_DELAY = 2000;
  var MAX_DELAY = 60000;
  var delay = MIN_DELAY;
  var timer = null;
  var sending = false;

  var outbox = document.getElementById("outbox");
  var countNode = document.getElementById("outbox-count");
  var statusNode = document.getElementById("outbox-status");
  var listNode = document.getElementById("outbox-list");

  function fmt(text, params) {
    return text.replace(/%\((\w+)\)s/g, function (_, name) { return params[name]; });
  }

  function newUuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // RFC 4122 version 4 from getRandomValues (crypto.randomUUID needs a secure context).
    var b = new Uint8Array(16);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(b);
    else for (var i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY)) || []; } catch (e) { return []; }
  }

  function store(queue) {
    localStorage.setItem(KEY, JSON.stringify(queue));
  }

  // Read-modify-write on every change: another tab of the same worker may have sent items.
  function update(id, change) {
    store(load().map(function (item) { return item.id === id ? change(item) : item; }).filter(Boolean));
  }

  function localDate() {
    // The date in Asia/Shanghai whatever the phone's own time zone: en-CA reads YYYY-MM-DD.
    return new Intl.DateTimeFormat("en-CA", {
      timeZone: config.timeZone, year: "numeric", month: "2-digit", day: "2-digit"
    }).format(new Date());
  }

  function enqueue(kind, url, body, label) {
    var item = { id: body.uuid || newUuid(), kind: kind, url: url, body: body, label: label,
                 queuedAt: new Date().toISOString(), error: null };
    var queue = load();
    queue.push(item);
    store(queue); // throws if storage is full or off: the caller then tells the worker
    render();
    delay = MIN_DELAY;
    flush();
    return item;
  }

  function say(text) { statusNode.textContent = text || ""; }

  function schedule(message) {
    clearTimeout(timer);
    say(fmt(message || T.retry, { s: Math.round(delay / 1000) }));
    timer = setTimeout(flush, delay);
    delay = Math.min(delay * 2, MAX_DELAY);
  }

  function flush() {
    if (sending) return;
    clearTimeout(timer);
    var next = load().filter(function (item) { return !item.error; })[0];
    if (!next) { render(); return; }
    sending = true;
    say(T.sending);
    fetch(next.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(next.body)
    }).then(function (response) {
      sending = false;
      if (response.status === 200 || response.status === 201) {
        update(next.id, function () { return null; });
        delay = MIN_DELAY;
        document.dispatchEvent(new CustomEvent("checkqueue:sent", { detail: next }));
        render();
        flush();
      } else if (response.status === 400) {
        return response.json().catch(function () { return {}; }).then(function (errors) {
          update(next.id, function (item) { item.error = errors; return item; });
          render();
          flush();
        });
      } else if (response.status === 401 || response.status === 403) {
        render();
        schedule(T.login);
      } else {
        render();
        schedule();
      }
    }, function () {
      // No network (fetch rejects): keep it, say so, try again later or when back online.
      sending = false;
      render();
      schedule(navigator.onLine === false ? T.offline : T.retry);
    });
  }

  function errorText(errors) {
    var parts = [];
    Object.keys(errors || {}).forEach(function (field) {
      var value = errors[field];
      parts.push(Array.isArray(value) ? value.join(" ") : String(value));
    });
    return parts.join(" ");
  }

  function render() {
    var queue = load();
    countNode.textContent = String(queue.length);
    outbox.hidden = queue.length === 0;
    if (!queue.length) say(T.allSent);
    listNode.textContent = "";
    queue.forEach(function (item) {
      var li = document.createElement("li");
      li.className = item.error ? "is-error" : "is-waiting";
      li.dataset.id = item.id;
      var what = document.createElement("span");
      what.className = "outbox-what";
      what.textContent = (item.kind === "zero" ? T.zeroReport : T.check) + " · " + item.label +
        " · " + new Date(item.queuedAt).toLocaleTimeString([], { timeZone: config.timeZone, hour: "2-digit", minute: "2-digit" });
      li.appendChild(what);
      if (item.error) {
        var why = document.createElement("span");
        why.className = "outbox-error";
        why.textContent = T.error + ": " + errorText(item.error);
        li.appendChild(why);
        var drop = document.createElement("button");
        drop.type = "button";
        drop.textContent = T.discard;
        drop.addEventListener("click", function () {
          update(item.id, function () { return null; });
          render();
        });
        li.appendChild(drop);
      }
      listNode.appendChild(li);
    });
    // Households with a check still in the queue are marked on the grid's list.
    var waiting = {};
    queue.forEach(function (item) { if (item.kind === "check") waiting[item.body.household] = true; });
    document.querySelectorAll("a[data-household]").forEach(function (node) {
      node.classList.toggle("is-waiting", !!waiting[node.dataset.household]);
    });
  }

  // --- The check form ----------------------------------------------------------------------
  var form = document.getElementById("check-form");
  if (form) {
    var flash = document.getElementById("flash");
    form.addEventListener("click", function (event) {
      var button = event.target.closest("button.step");
      if (!button) return;
      var input = document.getElementById(button.dataset.for);
      var value = (parseInt(input.value, 10) || 0) + parseInt(button.dataset.step, 10);
      input.value = String(Math.max(0, Math.min(config.maxCount, value)));
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = { uuid: newUuid(), household: form.dataset.household, checked_at: new Date().toISOString(),
                   method: form.elements.method.value, note: form.elements.note.value.trim() };
      var bad = false;
      form.querySelectorAll("input[type=number]").forEach(function (input) {
        var value = Number(input.value);
        var ok = input.value !== "" && Number.isInteger(value) && value >= 0 && value <= config.maxCount;
        input.classList.toggle("is-invalid", !ok);
        bad = bad || !ok;
        body[input.name] = value;
      });
      flash.hidden = false;
      if (bad) { flash.textContent = fmt(T.range, { max: config.maxCount }); return; }
      try {
        enqueue("check", config.checksUrl, body, form.dataset.label);
      } catch (e) {
        flash.textContent = T.noStorage;
        return;
      }
      flash.textContent = T.saved;
      flash.dataset.uuid = body.uuid;
      form.reset();
      form.hidden = true;
      after.hidden = false;
    });
    var after = document.getElementById("after-submit");
    document.getElementById("check-again").addEventListener("click", function () {
      form.hidden = false;
      after.hidden = true;
      flash.hidden = true;
    });
    document.addEventListener("checkqueue:sent", function (event) {
      if (flash.dataset.uuid === event.detail.id) flash.textContent = T.sent;
    });
  }

  // --- The zero-report button ---------------------------------------------------------------
  var zero = document.getElementById("zero-report");
  if (zero) {
    zero.addEventListener("click", function () {
      var url = config.zeroUrl.replace(config.codePlaceholder, encodeURIComponent(zero.dataset.code));
      try {
        enqueue("zero", url, { date: localDate() }, zero.dataset.label);
      } catch (e) {
        say(T.noStorage);
        return;
      }
      zero.disabled = true;
    });
  }

  // --- Reopened without network (docs/adr/0013-worker-pages-offline.md) -------------------
  // The service worker marks a page it serves from its cache; say so, since the statuses on
  // it are those of when it was last loaded.
  if (document.documentElement.hasAttribute("data-offline-copy") || navigator.onLine === false) {
    var notice = document.createElement("p");
    notice.className = "offline-copy";
    notice.id = "offline-copy";
    notice.setAttribute("role", "status");
    notice.textContent = T.offlineCopy;
    document.querySelector("main").prepend(notice);
  }
  if ("serviceWorker" in navigator && config.serviceWorker) {
    // Without it the page works as before; it only cannot be reopened offline.
    try { navigator.serviceWorker.register(config.serviceWorker).catch(function () {}); } catch (e) { /* ignore */ }
  }

  window.addEventListener("online", function () { delay = MIN_DELAY; flush(); });
  render();
  flush();
})();
