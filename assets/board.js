// Dispatch board: live hotlist alerts over server-sent events.
//
// Plain browser JavaScript, no framework or build step. Every piece of server
// data (plates, descriptions, names) is untrusted: the DOM is built with
// createElement and textContent only, never innerHTML. No inline script or
// style, so the page runs under Content-Security-Policy: default-src 'self'.
//
// Nothing secret is stored: the session cookie is HttpOnly, the CSRF token is
// kept in memory only (fetched again from /api/session after a reload), and
// sessionStorage holds just the "mute sound" choice.
"use strict";

(function () {
  // ------------------------------------------------------------ constants

  const MUTE_KEY = "hotlist-board.muted";
  const DEFAULT_TIME_ZONE = "UTC";
  const ALARM_MAX_PRIORITY = 1; // priorities 0 and 1 sound the alarm
  const RECONNECT_MIN_MS = 1000;
  const RECONNECT_MAX_MS = 30000;

  const REASONS = [
    ["misread", "Misread plate (OCR error)"],
    ["wrong_state", "Wrong state or region"],
    ["no_longer_active", "Entry no longer active"],
    ["duplicate", "Duplicate alert"],
    ["other", "Other (describe below)"],
  ];
  const REASON_LABEL = new Map(REASONS);

  const STATE_LABEL = {
    new: "New",
    acknowledged: "Acknowledged",
    confirmed: "Confirmed",
    rejected: "Rejected",
    closed: "Closed",
  };

  const CATEGORY_LABEL = {
    stolen_vehicle: "Stolen vehicle",
    stolen_plate: "Stolen plate",
    wanted_person: "Wanted person",
    missing_person: "Missing person",
    amber_alert: "AMBER alert",
    silver_alert: "Silver alert",
    felony_vehicle: "Felony vehicle",
    sex_offender: "Sex offender registrant",
    gang: "Gang member",
    protection_order: "Protection order",
    terrorist_watch: "Terrorist watch list",
    officer_safety: "Officer safety",
  };

  const MATCH_KIND_LABEL = {
    exact: "Exact match",
    ocr_equivalent: "OCR look-alike",
    fuzzy: "Close match",
    partial: "Partial match",
  };

  const ACTION_DONE = {
    acknowledge: "Acknowledged",
    confirm: "Confirmed",
    reject: "Rejected",
    close: "Closed",
  };

  const ACTION_LABEL = {
    acknowledge: "Acknowledge",
    confirm: "Confirm",
    reject: "Reject",
    close: "Close",
  };

  // ---------------------------------------------------------------- state

  const state = {
    user: null, // {username, organisation, role}
    csrf: null, // in memory only
    timeZone: DEFAULT_TIME_ZONE,
    incidents: new Map(), // id -> Incident
    cards: new Map(), // id -> <article>
    ui: new Map(), // id -> {rejectOpen, reason, text, error, busy}
    alarms: [], // ids of new priority 0/1 incidents not yet acknowledged or dismissed
    staleKey: "",
    source: null, // EventSource
    snapshots: 0, // snapshots received on this login
    reconnectTimer: null,
    reconnectDelay: RECONNECT_MIN_MS,
    muted: readMuted(),
    audio: null, // AudioContext, made on the first user gesture
    idCounter: 0,
  };

  const $ = (id) => document.getElementById(id);
  const el = {};

  // ------------------------------------------------------------- helpers

  function h(tag, attrs, children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [key, value] of Object.entries(attrs)) {
        if (value === null || value === undefined || value === false) continue;
        if (key === "class") node.className = value;
        else if (key === "text") node.textContent = String(value);
        else if (key === "hidden") node.hidden = true;
        else node.setAttribute(key, value === true ? "" : String(value));
      }
    }
    if (children) {
      for (const child of children) {
        if (child === null || child === undefined || child === false) continue;
        node.append(typeof child === "string" ? document.createTextNode(child) : child);
      }
    }
    return node;
  }

  function uid(prefix) {
    state.idCounter += 1;
    return prefix + "-" + state.idCounter;
  }

  function str(value) {
    return value === null || value === undefined ? "" : String(value);
  }

  function humanize(code) {
    const s = str(code).replace(/[_-]+/g, " ").trim();
    return s ? s.charAt(0).toUpperCase() + s.slice(1) : "";
  }

  function categoryLabel(code) {
    return CATEGORY_LABEL[code] || humanize(code) || "Unknown category";
  }

  function stateLabel(code) {
    return STATE_LABEL[code] || humanize(code) || "Unknown";
  }

  function reasonLabel(code) {
    return REASON_LABEL.get(code) || humanize(code);
  }

  function priorityOf(incident) {
    const p = Number(incident.priority);
    return Number.isFinite(p) ? p : 99;
  }

  function priorityWords(p) {
    if (p === 0) return "Priority 0 (most urgent)";
    return "Priority " + p;
  }

  function scoreWords(score) {
    const n = Number(score);
    if (!Number.isFinite(n)) return "";
    const pct = Math.round(Math.max(0, Math.min(1, n)) * 100);
    return pct + "% match";
  }

  function timeMs(value) {
    const t = Date.parse(str(value));
    return Number.isNaN(t) ? -Infinity : t;
  }

  let formatterZone = null;
  let formatter = null;
  function formatTime(value) {
    const t = Date.parse(str(value));
    if (Number.isNaN(t)) return str(value) || "unknown time";
    if (formatterZone !== state.timeZone || !formatter) {
      try {
        formatter = new Intl.DateTimeFormat("en-US", {
          timeZone: state.timeZone,
          year: "numeric",
          month: "short",
          day: "numeric",
          hour: "2-digit",
          minute: "2-digit",
          second: "2-digit",
          hourCycle: "h23",
          timeZoneName: "short",
        });
      } catch (err) {
        console.warn("unknown time zone " + state.timeZone + "; using UTC", err);
        state.timeZone = DEFAULT_TIME_ZONE;
        formatter = new Intl.DateTimeFormat("en-US", {
          timeZone: DEFAULT_TIME_ZONE,
          year: "numeric",
          month: "short",
          day: "numeric",
          hour: "2-digit",
          minute: "2-digit",
          second: "2-digit",
          hourCycle: "h23",
          timeZoneName: "short",
        });
      }
      formatterZone = state.timeZone;
    }
    return formatter.format(new Date(t));
  }

  function timeElement(value) {
    const node = h("time", { text: formatTime(value) });
    if (!Number.isNaN(Date.parse(str(value)))) node.setAttribute("datetime", str(value));
    return node;
  }

  function placeWords(location) {
    if (!location || typeof location !== "object") return "";
    const lat = Number(location.lat);
    const lon = Number(location.lon);
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) return "";
    return lat.toFixed(5) + ", " + lon.toFixed(5);
  }

  // Only http(s) links: an image reference is untrusted text.
  function safeUrl(ref) {
    if (!ref) return null;
    try {
      const url = new URL(String(ref), window.location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  function durationWords(secs) {
    const s = Math.max(0, Number(secs) || 0);
    if (s >= 2 * 86400) return Math.floor(s / 86400) + " days";
    if (s >= 3600) {
      const hours = Math.floor(s / 3600);
      return hours + (hours === 1 ? " hour" : " hours");
    }
    const minutes = Math.max(1, Math.floor(s / 60));
    return minutes + (minutes === 1 ? " minute" : " minutes");
  }

  function readMuted() {
    try {
      return window.sessionStorage.getItem(MUTE_KEY) === "1";
    } catch (_) {
      return false;
    }
  }

  function writeMuted(muted) {
    try {
      window.sessionStorage.setItem(MUTE_KEY, muted ? "1" : "0");
    } catch (_) {
      // Storage may be unavailable (private mode); the choice lasts this page.
    }
  }

  // ------------------------------------------------------------------ API

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
    let response;
    try {
      response = await fetch(path, init);
    } catch (_) {
      throw new HttpError(0, "Cannot reach the server. Check the connection and try again.");
    }
    let data = null;
    const text = await response.text().catch(() => "");
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = null;
      }
    }
    if (!response.ok) {
      const message =
        data && typeof data.error === "string" && data.error
          ? data.error
          : "The server answered " + response.status + (response.statusText ? " " + response.statusText : "");
      throw new HttpError(response.status, message);
    }
    return data;
  }

  // ---------------------------------------------------------- log in/out

  async function resume() {
    try {
      const session = await api("GET", "/api/session");
      startBoard(session);
    } catch (err) {
      if (err.status !== 401) showLoginError(err.message);
      showLogin();
    }
  }

  async function onLogin(event) {
    event.preventDefault();
    unlockAudio();
    const form = el.login;
    const username = form.elements.username.value.trim();
    const password = form.elements.password.value;
    if (!username || !password) {
      showLoginError("Enter your username and password.");
      (username ? form.elements.password : form.elements.username).focus();
      return;
    }
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    hideLoginError();
    try {
      const login = await api("POST", "/api/login", { username, password });
      form.elements.password.value = "";
      let session;
      try {
        session = await api("GET", "/api/session");
      } catch (err) {
        if (err.status !== 401) throw err;
        // Logged in, but the cookie did not stick (blocked cookies?): the
        // live feed cannot work without it.
        throw new HttpError(401, "Logged in, but the browser did not keep the session cookie. Allow cookies for this site.");
      }
      session.csrf_token = session.csrf_token || (login && login.csrf_token);
      startBoard(session);
    } catch (err) {
      form.elements.password.value = "";
      showLoginError(err.message);
      form.elements.password.focus();
    } finally {
      submit.disabled = false;
    }
  }

  async function onLogout() {
    try {
      await api("POST", "/api/logout");
    } catch (err) {
      if (err.status !== 401) console.warn("logout: " + err.message);
    }
    endBoard();
    showLogin();
  }

  function showLogin(message) {
    el.loading.hidden = true;
    el.sessionControls.hidden = true;
    el.boardView.hidden = true;
    el.loginView.hidden = false;
    if (message) showLoginError(message);
    el.login.elements.username.focus();
  }

  function showLoginError(message) {
    el.loginError.textContent = message;
    el.loginError.hidden = false;
  }

  function hideLoginError() {
    el.loginError.textContent = "";
    el.loginError.hidden = true;
  }

  function setUser(user) {
    if (!user) return;
    state.user = {
      username: str(user.username),
      organisation: str(user.organisation),
      role: str(user.role),
    };
    const parts = ["Logged in as " + state.user.username];
    if (state.user.organisation) parts.push(state.user.organisation);
    if (state.user.role) parts.push(humanize(state.user.role));
    el.whoami.textContent = parts.join(" · ");
  }

  function startBoard(session) {
    state.csrf = session.csrf_token || null;
    setUser(session);
    hideLoginError();
    el.loading.hidden = true;
    el.loginView.hidden = true;
    el.sessionControls.hidden = false;
    el.boardView.hidden = false;
    state.snapshots = 0;
    renderBoard();
    el.boardHeading.focus();
    connect();
  }

  function endBoard() {
    disconnect();
    state.user = null;
    state.csrf = null;
    state.incidents.clear();
    state.ui.clear();
    state.alarms = [];
    state.staleKey = "";
    el.whoami.textContent = "";
    el.staleBanner.hidden = true;
    el.connectionBanner.hidden = true;
    renderAlarm();
    renderBoard();
  }

  // The session ended on the server (expired, revoked): back to the login form.
  function sessionEnded() {
    endBoard();
    showLogin("Your session has ended. Log in again.");
  }

  // ------------------------------------------------------- live events

  function connect() {
    disconnect();
    const source = new EventSource("/api/alerts/events");
    state.source = source;
    source.addEventListener("snapshot", (e) => {
      if (source !== state.source) return;
      const data = parseEvent(e);
      if (data) onSnapshot(data);
    });
    source.addEventListener("incident", (e) => {
      if (source !== state.source) return;
      const data = parseEvent(e);
      if (data) onIncident(data);
    });
    source.addEventListener("status", (e) => {
      if (source !== state.source) return;
      const data = parseEvent(e);
      if (data) renderStale(data.stale_lists);
    });
    source.addEventListener("open", () => {
      if (source === state.source) state.reconnectDelay = RECONNECT_MIN_MS;
    });
    source.addEventListener("error", () => {
      if (source !== state.source) return;
      showConnectionLost();
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (an HTTP error such as 401): find out whether
        // the session is still alive before trying again ourselves.
        scheduleReconnect();
      }
    });
  }

  function disconnect() {
    if (state.reconnectTimer) {
      clearTimeout(state.reconnectTimer);
      state.reconnectTimer = null;
    }
    if (state.source) {
      state.source.close();
      state.source = null;
    }
  }

  function scheduleReconnect() {
    if (state.reconnectTimer) return;
    const delay = state.reconnectDelay;
    state.reconnectDelay = Math.min(RECONNECT_MAX_MS, state.reconnectDelay * 2);
    state.reconnectTimer = setTimeout(async () => {
      state.reconnectTimer = null;
      try {
        const session = await api("GET", "/api/session");
        state.csrf = session.csrf_token || state.csrf;
        setUser(session);
        connect();
      } catch (err) {
        if (err.status === 401) sessionEnded();
        else scheduleReconnect();
      }
    }, delay);
  }

  function showConnectionLost() {
    el.connectionBanner.textContent = "Connection lost, reconnecting… The alerts below may be out of date.";
    el.connectionBanner.hidden = false;
  }

  function parseEvent(e) {
    try {
      return JSON.parse(e.data);
    } catch (err) {
      console.warn("ignored an unreadable " + e.type + " event", err);
      return null;
    }
  }

  function onSnapshot(data) {
    const reconnected = state.snapshots > 0;
    state.snapshots += 1;
    el.connectionBanner.hidden = true;
    el.connectionBanner.textContent = "";
    if (typeof data.time_zone === "string" && data.time_zone) state.timeZone = data.time_zone;
    if (data.user) setUser(data.user);

    const before = new Set(state.incidents.keys());
    state.incidents.clear();
    for (const incident of Array.isArray(data.incidents) ? data.incidents : []) {
      if (incident && incident.id) state.incidents.set(String(incident.id), incident);
    }
    for (const id of [...state.ui.keys()]) {
      if (!state.incidents.has(id)) state.ui.delete(id);
    }
    // After a reconnect, urgent alerts that arrived while the feed was down
    // must not slip in silently.
    const missed = [];
    if (reconnected) {
      for (const [id, incident] of state.incidents) {
        if (!before.has(id) && isAlarming(incident)) missed.push(incident);
      }
    }
    state.alarms = state.alarms.filter((id) => {
      const inc = state.incidents.get(id);
      return inc && inc.state === "new";
    });
    renderStale(data.stale_lists);
    renderBoard();
    if (missed.length) {
      for (const incident of missed) raiseAlarm(incident);
    } else if (!reconnected) {
      const n = openIncidents().length;
      announce(n === 1 ? "Board loaded: 1 open alert." : "Board loaded: " + n + " open alerts.", false);
    }
  }

  function onIncident(incident) {
    if (!incident || !incident.id) return;
    const id = String(incident.id);
    const known = state.incidents.has(id);
    state.incidents.set(id, incident);
    if (incident.state !== "new") dropAlarm(id);
    renderBoard();
    if (!known && incident.state !== "closed") {
      if (isAlarming(incident)) raiseAlarm(incident);
      else announce("New alert: " + alertWords(incident) + ".", false);
    }
  }

  function isAlarming(incident) {
    return incident.state === "new" && priorityOf(incident) <= ALARM_MAX_PRIORITY;
  }

  function alertWords(incident) {
    const parts = [priorityWords(priorityOf(incident)), categoryLabel(incident.category), "plate " + str(incident.read_plate)];
    if (incident.camera_id) parts.push("camera " + str(incident.camera_id));
    return parts.join(", ");
  }

  // ---------------------------------------------------------- the alarm

  function raiseAlarm(incident) {
    const id = String(incident.id);
    if (!state.alarms.includes(id)) state.alarms.push(id);
    renderAlarm();
    markAlarmedCards();
    announce("New priority " + priorityOf(incident) + " alert: " + alertWords(incident) + ".", true);
    beep();
  }

  function dropAlarm(id) {
    const i = state.alarms.indexOf(id);
    if (i < 0) return;
    state.alarms.splice(i, 1);
    renderAlarm();
    markAlarmedCards();
  }

  // The banner shows the most urgent pending alarm, newest first among equals.
  function currentAlarm() {
    let best = null;
    for (const id of state.alarms) {
      const inc = state.incidents.get(id);
      if (!inc) continue;
      if (!best || priorityOf(inc) < priorityOf(best) || (priorityOf(inc) === priorityOf(best) && timeMs(inc.captured_at) > timeMs(best.captured_at))) {
        best = inc;
      }
    }
    return best;
  }

  function renderAlarm() {
    state.alarms = state.alarms.filter((id) => {
      const inc = state.incidents.get(id);
      return inc && inc.state === "new";
    });
    const inc = currentAlarm();
    if (!inc) {
      const hadFocus = el.alarmBanner.contains(document.activeElement);
      el.alarmBanner.hidden = true;
      el.alarmText.textContent = "";
      if (hadFocus) el.boardHeading.focus();
      return;
    }
    let text = "NEW PRIORITY " + priorityOf(inc) + " ALERT: " + categoryLabel(inc.category) + ", plate " + str(inc.read_plate);
    if (inc.camera_id) text += " at " + str(inc.camera_id);
    const more = state.alarms.length - 1;
    if (more > 0) text += " (and " + more + " more)";
    el.alarmText.textContent = text;
    el.alarmShow.dataset.id = String(inc.id);
    el.alarmBanner.hidden = false;
  }

  function markAlarmedCards() {
    for (const [id, card] of state.cards) card.classList.toggle("alarmed", state.alarms.includes(id));
  }

  function onAlarmShow() {
    const card = state.cards.get(el.alarmShow.dataset.id || "");
    if (!card) return;
    card.scrollIntoView({ block: "start", behavior: prefersReducedMotion() ? "auto" : "smooth" });
    const button = card.querySelector("button[data-action]");
    (button || card).focus({ preventScroll: true });
  }

  function onAlarmDismiss() {
    state.alarms = [];
    renderAlarm();
    markAlarmedCards();
  }

  function prefersReducedMotion() {
    return window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  }

  // Browsers allow audio only after a user gesture: make (or wake) the
  // AudioContext on one, e.g. the login click.
  function unlockAudio() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    try {
      if (!state.audio) state.audio = new Ctx();
      if (state.audio.state === "suspended") state.audio.resume().catch(() => {});
    } catch (err) {
      console.warn("audio is unavailable", err);
    }
  }

  function beep() {
    if (state.muted) return;
    unlockAudio();
    const ctx = state.audio;
    if (!ctx) return;
    try {
      const start = ctx.currentTime + 0.05;
      for (let i = 0; i < 3; i++) {
        const t = start + i * 0.45;
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.type = "square";
        osc.frequency.setValueAtTime(i % 2 === 0 ? 988 : 784, t);
        gain.gain.setValueAtTime(0.0001, t);
        gain.gain.exponentialRampToValueAtTime(0.25, t + 0.02);
        gain.gain.setValueAtTime(0.25, t + 0.25);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
        osc.connect(gain).connect(ctx.destination);
        osc.start(t);
        osc.stop(t + 0.32);
      }
    } catch (err) {
      console.warn("could not sound the alarm", err);
    }
  }

  function renderMute() {
    el.mute.setAttribute("aria-pressed", state.muted ? "true" : "false");
  }

  function onMute() {
    state.muted = !state.muted;
    writeMuted(state.muted);
    renderMute();
    if (!state.muted) unlockAudio();
    announce(state.muted ? "Alert sound muted." : "Alert sound on.", false);
  }

  // ----------------------------------------------------------- announce

  function announce(text, urgent) {
    const region = urgent ? el.announceUrgent : el.announcePolite;
    // Cleared first, then set in the next frame, so the same words are
    // announced again.
    region.textContent = "";
    window.setTimeout(() => {
      region.textContent = text;
    }, 50);
  }

  // -------------------------------------------------------- stale lists

  function renderStale(lists) {
    const items = Array.isArray(lists) ? lists : [];
    const key = JSON.stringify(items.map((l) => [str(l.list_id), str(l.name), durationWords(l.age_secs)]));
    if (key === state.staleKey) return;
    state.staleKey = key;
    el.staleList.replaceChildren();
    for (const list of items) {
      const id = str(list.list_id);
      const name = str(list.name);
      const label = name && name !== id ? name + " (" + id + ")" : id || name || "unknown";
      el.staleList.append(h("li", { text: "Hotlist " + label + " has not been refreshed for " + durationWords(list.age_secs) }));
    }
    el.staleBanner.hidden = items.length === 0;
  }

  // -------------------------------------------------------------- board

  function openIncidents() {
    const open = [];
    for (const inc of state.incidents.values()) if (inc.state !== "closed") open.push(inc);
    open.sort((a, b) => {
      const p = priorityOf(a) - priorityOf(b);
      if (p !== 0) return p;
      const t = timeMs(b.captured_at) - timeMs(a.captured_at);
      if (t !== 0 && !Number.isNaN(t)) return t;
      return String(a.id) < String(b.id) ? -1 : String(a.id) > String(b.id) ? 1 : 0;
    });
    return open;
  }

  function uiOf(id) {
    let ui = state.ui.get(id);
    if (!ui) {
      ui = { rejectOpen: false, reason: "", text: "", error: "", busy: false, focus: null };
      state.ui.set(id, ui);
    }
    return ui;
  }

  // A key naming a focusable element inside a card, to find its
  // counterpart after the card is rebuilt.
  function focusKeyOf(node) {
    if (!node || !node.dataset) return null;
    if (node.dataset.action) return "[data-action='" + node.dataset.action + "']";
    if (node.name) return "[name='" + node.name + "']";
    if (node.tagName === "A") return "a.image-link";
    return null;
  }

  // Brings the board in line with state.incidents: cards are rebuilt only
  // when their incident changed, moved only when out of order, and keyboard
  // focus stays where it was (or on the nearest sensible element).
  function renderBoard() {
    const active = document.activeElement;
    const activeCard = active && active.closest ? active.closest("article.incident") : null;
    const activeId = activeCard ? activeCard.dataset.id : null;
    const activeKey = activeCard && active !== activeCard ? focusKeyOf(active) : null;

    const open = openIncidents();
    const wanted = new Set(open.map((inc) => String(inc.id)));
    let focusFallbackIndex = -1;

    // Remove the cards of closed or vanished incidents.
    for (const [id, card] of state.cards) {
      if (!wanted.has(id)) {
        if (id === activeId) focusFallbackIndex = Array.prototype.indexOf.call(el.board.children, card);
        card.remove();
        state.cards.delete(id);
        state.ui.delete(id);
      }
    }

    // Build or rebuild changed cards.
    for (const inc of open) {
      const id = String(inc.id);
      const old = state.cards.get(id);
      if (old && old._incident === inc && !old._dirty) continue;
      const card = buildCard(inc);
      if (old) old.replaceWith(card);
      state.cards.set(id, card);
    }

    // Order: move only what is out of place.
    let cursor = el.board.firstElementChild;
    for (const inc of open) {
      const card = state.cards.get(String(inc.id));
      if (card === cursor) {
        cursor = cursor.nextElementSibling;
      } else {
        el.board.insertBefore(card, cursor);
      }
    }

    el.boardEmpty.hidden = open.length > 0;
    el.boardCount.textContent = "(" + open.length + ")";
    markAlarmedCards();

    // Put focus back.
    if (activeId && document.activeElement !== active) {
      const card = state.cards.get(activeId);
      const ui = state.ui.get(activeId);
      const wantedKey = (ui && ui.focus) || activeKey;
      if (ui) ui.focus = null;
      if (card) {
        const target =
          (wantedKey && card.querySelector(wantedKey)) || card.querySelector(".actions button") || card;
        target.focus({ preventScroll: true });
      } else if (active && active.isConnected) {
        active.focus({ preventScroll: true });
      } else {
        const cards = el.board.children;
        const next = cards[Math.min(Math.max(focusFallbackIndex, 0), cards.length - 1)];
        (next || el.boardHeading).focus({ preventScroll: true });
      }
    } else if (active && active.isConnected && document.activeElement !== active) {
      active.focus({ preventScroll: true });
    }
  }

  function rebuildCard(id, focusKey) {
    const ui = uiOf(id);
    if (focusKey) ui.focus = focusKey;
    const card = state.cards.get(id);
    if (card) card._dirty = true;
    renderBoard();
    ui.focus = null;
  }

  function plateElement(className, plate, diff) {
    const marks = new Set(Array.isArray(diff) ? diff.map(Number) : []);
    const node = h("span", { class: "plate " + className });
    const chars = Array.from(str(plate));
    chars.forEach((ch, i) => {
      if (marks.has(i)) node.append(h("mark", { class: "diff", text: ch }));
      else node.append(document.createTextNode(ch));
    });
    return node;
  }

  function diffWords(plate, diff) {
    const chars = Array.from(str(plate));
    const positions = (Array.isArray(diff) ? diff.map(Number) : []).filter((i) => i >= 0 && i < chars.length);
    if (!positions.length) return "no differing characters";
    return (
      "differs at " +
      positions.map((i) => "character " + (i + 1) + " (" + chars[i] + ")").join(", ")
    );
  }

  function fact(dl, term, value) {
    dl.append(h("dt", { text: term }));
    const dd = h("dd");
    if (value instanceof Node) dd.append(value);
    else dd.textContent = str(value) || "not given";
    dl.append(dd);
  }

  function vehicleWords(vehicle) {
    const v = vehicle && typeof vehicle === "object" ? vehicle : {};
    const parts = [
      ["Year", v.year],
      ["Make", v.make],
      ["Model", v.model],
      ["Colour", v.colour],
    ]
      .filter(([, value]) => value !== null && value !== undefined && String(value) !== "")
      .map(([label, value]) => label + " " + value);
    return parts.length ? parts.join(", ") : "not given";
  }

  function buildCard(inc) {
    const id = String(inc.id);
    const ui = uiOf(id);
    const p = priorityOf(inc);
    const titleId = uid("card-title");
    const card = h("article", {
      class: "incident" + (p <= 1 ? " p" + p : ""),
      "data-id": id,
      "data-state": str(inc.state),
      "aria-labelledby": titleId,
      tabindex: "-1",
    });
    card._incident = inc;

    // Heading and badges.
    const head = h("div", { class: "card-head" }, [
      h("h3", { class: "card-title", id: titleId, text: categoryLabel(inc.category) + ": " + str(inc.read_plate) }),
      h("span", { class: "badge" + (p <= 1 ? " badge-p" + p : ""), text: priorityWords(p) }),
      h("span", {
        class: "badge badge-state badge-state-" + str(inc.state).replace(/[^a-z_]/g, ""),
        text: stateLabel(inc.state),
      }),
      inc.historical ? h("span", { class: "badge badge-historical", text: "Historical read (matched after the fact)" }) : null,
    ]);
    card.append(head);

    // Plates: the read above the hotlist entry.
    const readLabelId = uid("plate-read-label");
    const entryLabelId = uid("plate-entry-label");
    const plates = h("div", { class: "plates" }, [
      h("div", { class: "plate-row" }, [
        h("span", { class: "plate-label", id: readLabelId, text: "Read by camera" }),
        plateElement("plate-read", inc.read_plate, inc.read_diff),
        h("span", { class: "sr-only", text: "Read plate " + diffWords(inc.read_plate, inc.read_diff) + "." }),
      ]),
      h("div", { class: "plate-row" }, [
        h("span", { class: "plate-label", id: entryLabelId, text: "Hotlist entry" }),
        plateElement("plate-entry", inc.entry_plate, inc.entry_diff),
        h("span", { class: "sr-only", text: "Hotlist plate " + diffWords(inc.entry_plate, inc.entry_diff) + "." }),
      ]),
      h("p", { class: "match" }, [
        h("span", { class: "match-words", text: str(inc.match_words) || MATCH_KIND_LABEL[inc.match_kind] || humanize(inc.match_kind) }),
        " · ",
        h("span", { class: "match-score", text: scoreWords(inc.score) }),
      ]),
    ]);

    // Facts.
    const facts = h("dl", { class: "facts" });
    fact(facts, "Reason on list", inc.description);
    fact(facts, "Category", categoryLabel(inc.category));
    fact(facts, "Priority", priorityWords(p));
    fact(facts, "List", inc.list_id);
    fact(facts, "NCIC number", inc.nic ? h("span", { class: "code", text: str(inc.nic) }) : "none");
    fact(facts, "Vehicle", vehicleWords(inc.vehicle));
    fact(facts, "Camera", inc.camera_id);
    fact(facts, "Place", placeWords(inc.location) || "not given");
    fact(facts, "Time", inc.captured_at ? timeElement(inc.captured_at) : "not given");
    fact(facts, "Image", imageLink(inc.image_ref, "Open the image of the read"));

    card.append(h("div", { class: "card-body" }, [plates, facts]));

    // Sightings.
    const sightings = Array.isArray(inc.sightings) ? inc.sightings : [];
    if (sightings.length) {
      const list = h("ol");
      sightings.forEach((s, i) => {
        const item = h("li");
        if (i === 0) item.append(h("span", { text: "Original read: " }));
        if (s.moved) item.append(h("span", { class: "moved", text: "Moved to camera " + str(s.camera_id) + ": " }));
        item.append("camera " + str(s.camera_id) + ", ");
        item.append(timeElement(s.captured_at));
        const place = placeWords(s.location);
        if (place) item.append(", at " + place);
        const link = imageLink(s.image_ref, "image");
        if (link instanceof Node) item.append(" (", link, ")");
        list.append(item);
      });
      card.append(
        h("section", { class: "card-section sightings", "aria-label": "Sightings" }, [
          h("h4", { text: sightings.length === 1 ? "Sightings (1)" : "Sightings (" + sightings.length + ")" }),
          list,
        ])
      );
    }

    // History.
    const history = Array.isArray(inc.history) ? inc.history : [];
    if (history.length) {
      const list = h("ol");
      for (const step of history) {
        list.append(h("li", {}, [stateLabel(step.state) + " by " + str(step.by) + ", ", timeElement(step.at)]));
      }
      card.append(
        h("section", { class: "card-section history", "aria-label": "History" }, [h("h4", { text: "History" }), list])
      );
    }

    // Who decided.
    card.append(h("p", { class: "decision", text: decisionWords(inc) }));

    if (ui.error) card.append(h("p", { class: "card-error", id: uid("card-error"), text: ui.error }));

    // Actions by state.
    const actions = h("div", { class: "actions", role: "group", "aria-label": "Actions for " + str(inc.read_plate) });
    const add = (action, extra) => {
      const button = h("button", {
        type: "button",
        class: "btn" + (action === "reject" ? " btn-danger" : action === "acknowledge" || action === "confirm" ? " btn-primary" : ""),
        "data-action": action,
        text: ACTION_LABEL[action],
        ...extra,
      });
      if (ui.busy) button.setAttribute("aria-disabled", "true");
      actions.append(button);
      return button;
    };
    let rejectForm = null;
    switch (inc.state) {
      case "new":
        add("acknowledge");
        break;
      case "acknowledged": {
        add("confirm");
        // The form exists only while open, so hidden buttons never linger.
        const formId = uid("reject-form");
        add("reject", { "aria-expanded": ui.rejectOpen ? "true" : "false", "aria-controls": ui.rejectOpen ? formId : null });
        if (ui.rejectOpen) rejectForm = buildRejectForm(inc, ui, formId);
        break;
      }
      case "confirmed":
      case "rejected":
        add("close");
        break;
      default:
        break;
    }
    if (actions.childElementCount) card.append(actions);
    if (rejectForm) card.append(rejectForm);
    return card;
  }

  function imageLink(ref, text) {
    const url = safeUrl(ref);
    if (url) {
      return h("a", {
        class: "image-link",
        href: url,
        target: "_blank",
        rel: "noopener noreferrer",
        text: text,
      });
    }
    return ref ? "not a web link: " + str(ref) : "none";
  }

  function decisionWords(inc) {
    const history = Array.isArray(inc.history) ? inc.history : [];
    const last = (wanted) => {
      for (let i = history.length - 1; i >= 0; i--) if (history[i] && history[i].state === wanted) return history[i];
      return null;
    };
    let text = "State: " + stateLabel(inc.state);
    if (inc.state === "acknowledged") {
      const step = last("acknowledged");
      if (step) text += " by " + str(step.by);
    }
    if (inc.decided_by) text += ". Decided by " + str(inc.decided_by);
    if (inc.reason) {
      text += ". Reason: " + reasonLabel(inc.reason);
      if (inc.reason_text) text += ": " + str(inc.reason_text);
    }
    if (inc.state === "new") text += ". Not yet acknowledged";
    return text + ".";
  }

  function buildRejectForm(inc, ui, formId) {
    const selectId = uid("reason");
    const textId = uid("reason-text");
    const hintId = uid("reason-hint");
    const select = h("select", { id: selectId, name: "reason", required: true });
    select.append(h("option", { value: "", text: "Choose a reason" }));
    for (const [value, label] of REASONS) select.append(h("option", { value, text: label }));
    select.value = ui.reason;
    const text = h("input", {
      id: textId,
      name: "text",
      type: "text",
      autocomplete: "off",
      "aria-describedby": hintId,
    });
    text.value = ui.text;
    text.required = ui.reason === "other";
    const form = h(
      "form",
      { class: "reject-form", id: formId, "aria-label": "Reject alert for plate " + str(inc.read_plate), novalidate: true },
      [
        h("p", { class: "field" }, [h("label", { for: selectId, text: "Reason" }), select]),
        h("p", { class: "field" }, [
          h("label", { for: textId, text: "Details" }),
          text,
          h("span", { class: "hint", id: hintId, text: "Required when the reason is Other." }),
        ]),
        h("p", {}, [
          h("button", { type: "submit", class: "btn btn-danger", "data-action": "reject-submit", text: "Submit rejection" }),
          " ",
          h("button", { type: "button", class: "btn", "data-action": "reject-cancel", text: "Cancel" }),
        ]),
      ]
    );
    if (ui.busy) for (const button of form.querySelectorAll("button")) button.setAttribute("aria-disabled", "true");
    return form;
  }

  // -------------------------------------------------------------- actions

  function onBoardClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button || !el.board.contains(button)) return;
    const card = button.closest("article.incident");
    if (!card) return;
    const id = card.dataset.id;
    const ui = uiOf(id);
    unlockAudio();
    if (ui.busy) return;
    switch (button.dataset.action) {
      case "acknowledge":
      case "confirm":
      case "close":
        runAction(id, button.dataset.action, {});
        break;
      case "reject":
        ui.rejectOpen = !ui.rejectOpen;
        ui.error = "";
        rebuildCard(id, ui.rejectOpen ? "[name='reason']" : "[data-action='reject']");
        break;
      case "reject-cancel":
        ui.rejectOpen = false;
        rebuildCard(id, "[data-action='reject']");
        break;
      default:
        break; // reject-submit goes through the form's submit event
    }
  }

  function onBoardSubmit(event) {
    const form = event.target.closest("form.reject-form");
    if (!form) return;
    event.preventDefault();
    const card = form.closest("article.incident");
    const id = card.dataset.id;
    const ui = uiOf(id);
    if (ui.busy) return;
    ui.reason = form.elements.reason.value;
    ui.text = form.elements.text.value;
    if (!ui.reason) {
      ui.error = "Choose a reason for the rejection.";
      rebuildCard(id, "[name='reason']");
      return;
    }
    if (ui.reason === "other" && !ui.text.trim()) {
      ui.error = "Describe the reason in Details: it is required when the reason is Other.";
      rebuildCard(id, "[name='text']");
      return;
    }
    runAction(id, "reject", { reason: ui.reason, text: ui.text.trim() });
  }

  // Keeps the form's draft across card rebuilds (new sightings, etc.).
  function onBoardInput(event) {
    const form = event.target.closest("form.reject-form");
    if (!form) return;
    const ui = uiOf(form.closest("article.incident").dataset.id);
    if (event.target.name === "reason") {
      ui.reason = event.target.value;
      form.elements.text.required = ui.reason === "other";
    } else if (event.target.name === "text") {
      ui.text = event.target.value;
    }
  }

  async function runAction(id, action, body) {
    const ui = uiOf(id);
    if (ui.busy) return;
    ui.busy = true;
    ui.error = "";
    // aria-disabled, not disabled: a disabled button would drop keyboard focus.
    const card = state.cards.get(id);
    if (card) {
      for (const button of card.querySelectorAll("button[data-action]")) button.setAttribute("aria-disabled", "true");
      card.setAttribute("aria-busy", "true");
    }
    let result = null;
    let error = null;
    try {
      result = await postAction(id, action, body);
    } catch (err) {
      error = err;
    }
    const current = state.ui.get(id);
    if (!current) return; // the card went away meanwhile
    current.busy = false;
    if (error) {
      if (error.status === 401) {
        sessionEnded();
        return;
      }
      // 409: another dispatcher won. The board keeps the server's state,
      // which the live feed brings; the message stays on the card.
      current.error = error.message;
      announce("Alert for " + plateOf(id) + ": " + error.message, true);
    } else {
      if (action === "reject") {
        current.rejectOpen = false;
        current.reason = "";
        current.text = "";
      }
      const incident = result && result.incident;
      if (incident && incident.id) applyActionResult(incident);
      if (action === "acknowledge") dropAlarm(id);
      announce(ACTION_DONE[action] + " the alert for " + plateOf(id) + ".", false);
    }
    rebuildCard(id, error ? null : firstActionKey(id));
  }

  function plateOf(id) {
    const inc = state.incidents.get(id);
    return inc ? "plate " + str(inc.read_plate) : "this plate";
  }

  function firstActionKey(id) {
    const inc = state.incidents.get(id);
    if (!inc) return null;
    if (inc.state === "acknowledged") return "[data-action='confirm']";
    if (inc.state === "confirmed" || inc.state === "rejected") return "[data-action='close']";
    return null;
  }

  // An action's answer replaces the incident unless the live feed already
  // brought a later version (its history only grows).
  function applyActionResult(incident) {
    const id = String(incident.id);
    const have = state.incidents.get(id);
    const len = (inc) => (Array.isArray(inc && inc.history) ? inc.history.length : 0);
    if (have && len(have) > len(incident)) return;
    state.incidents.set(id, incident);
    if (incident.state !== "new") dropAlarm(id);
  }

  async function postAction(id, action, body) {
    const path = "/api/alerts/" + encodeURIComponent(id) + "/" + action;
    try {
      return await api("POST", path, body);
    } catch (err) {
      // A stale CSRF token (the server rotated it): fetch the current one
      // and try once more.
      if (err.status !== 403) throw err;
      const session = await api("GET", "/api/session");
      if (!session.csrf_token || session.csrf_token === state.csrf) throw err;
      state.csrf = session.csrf_token;
      return api("POST", path, body);
    }
  }

  // ----------------------------------------------------------------- init

  function init() {
    el.login = $("login");
    el.loginView = $("login-view");
    el.loading = $("loading");
    el.loginError = $("login-error");
    el.boardView = $("board-view");
    el.boardHeading = $("board-heading");
    el.boardCount = $("board-count");
    el.boardEmpty = $("board-empty");
    el.board = $("board");
    el.sessionControls = $("session-controls");
    el.whoami = $("whoami");
    el.mute = $("mute");
    el.logout = $("logout");
    el.alarmBanner = $("new-alert-banner");
    el.alarmText = $("new-alert-text");
    el.alarmShow = $("new-alert-show");
    el.alarmDismiss = $("new-alert-dismiss");
    el.connectionBanner = $("connection-banner");
    el.staleBanner = $("stale-banner");
    el.staleList = $("stale-list");
    el.announcePolite = $("announce-polite");
    el.announceUrgent = $("announce-urgent");

    el.login.addEventListener("submit", onLogin);
    el.logout.addEventListener("click", onLogout);
    el.mute.addEventListener("click", onMute);
    el.alarmShow.addEventListener("click", onAlarmShow);
    el.alarmDismiss.addEventListener("click", onAlarmDismiss);
    el.board.addEventListener("click", onBoardClick);
    el.board.addEventListener("submit", onBoardSubmit);
    el.board.addEventListener("input", onBoardInput);
    el.board.addEventListener("change", onBoardInput);
    // Any gesture may unlock audio (after a reload no login click happens).
    document.addEventListener("pointerdown", unlockAudio, { passive: true });
    document.addEventListener("keydown", unlockAudio);

    renderMute();
    resume();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
