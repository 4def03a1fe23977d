// Dispatch board, part 3 of 3: the live feed and what it drives (board.js is
// the entry point).
//
// Split out of board.js to keep files short. Holds the server-sent event
// connection (reconnects, snapshot, incident and status events, the connection
// and stale-list banners), the board's cards kept in order with keyboard focus
// where it was, the new-priority alarm (banner, sound, mute) and the
// screen-reader announcements.

import {
  api,
  el,
  RECONNECT_MAX_MS,
  RECONNECT_MIN_MS,
  sessionEnded,
  setUser,
  state,
  uiOf,
  writeMuted,
} from "./board.js";
import {
  buildCard,
  categoryLabel,
  durationWords,
  h,
  priorityOf,
  priorityWords,
  str,
  timeMs,
} from "./board-render.js";

// ------------------------------------------------------------ constants

const ALARM_MAX_PRIORITY = 1; // priorities 0 and 1 sound the alarm

// ------------------------------------------------------- live events

export function connect() {
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

export function disconnect() {
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
  // Urgent alerts nobody has acknowledged must not sit silently: on the first
  // snapshot (a login, a reload, a shift change) every one of them alarms;
  // after a reconnect, those that arrived while the feed was down.
  const missed = [];
  for (const [id, incident] of state.incidents) {
    if ((!reconnected || !before.has(id)) && isAlarming(incident)) missed.push(incident);
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
  const was = state.incidents.get(id);
  // New to this board, or closed and now seen again (reopened): announce it.
  const fresh = !was || (was.state === "closed" && incident.state === "new");
  state.incidents.set(id, incident);
  if (incident.state !== "new") dropAlarm(id);
  renderBoard();
  if (fresh && incident.state !== "closed") {
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

export function dropAlarm(id) {
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

export function renderAlarm() {
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

export function onAlarmShow() {
  const card = state.cards.get(el.alarmShow.dataset.id || "");
  if (!card) return;
  card.scrollIntoView({ block: "start", behavior: prefersReducedMotion() ? "auto" : "smooth" });
  const button = card.querySelector("button[data-action]");
  (button || card).focus({ preventScroll: true });
}

export function onAlarmDismiss() {
  state.alarms = [];
  renderAlarm();
  markAlarmedCards();
}

function prefersReducedMotion() {
  return window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
}

// Browsers allow audio only after a user gesture: make (or wake) the
// AudioContext on one, e.g. the login click.
export function unlockAudio() {
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

export function renderMute() {
  el.mute.setAttribute("aria-pressed", state.muted ? "true" : "false");
}

export function onMute() {
  state.muted = !state.muted;
  writeMuted(state.muted);
  renderMute();
  if (!state.muted) unlockAudio();
  announce(state.muted ? "Alert sound muted." : "Alert sound on.", false);
}

// ----------------------------------------------------------- announce

export function announce(text, urgent) {
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
export function renderBoard() {
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

export function rebuildCard(id, focusKey) {
  const ui = uiOf(id);
  if (focusKey) ui.focus = focusKey;
  const card = state.cards.get(id);
  if (card) card._dirty = true;
  renderBoard();
  ui.focus = null;
}
