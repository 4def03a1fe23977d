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
//
// The page's only entry point (an ES module, so strict mode throughout). It is
// split in three to keep each file short:
//   board.js         start-up, state, the API client, log in and out, and the
//                    dispatcher's actions on a card (buttons, reject form)
//   board-render.js  words and DOM: how an incident reads and how its card is built
//   board-live.js    the live feed and what it drives: the board's cards in
//                    order, the new-priority alarm, screen-reader announcements
// The modules import each other. Their top levels only define functions and
// constants of their own, so the import cycle is harmless; being the entry
// point, board.js runs after the other two and then starts the page.

import { humanize, str } from "./board-render.js";
import {
  announce,
  connect,
  disconnect,
  dropAlarm,
  onAlarmDismiss,
  onAlarmShow,
  onMute,
  rebuildCard,
  renderAlarm,
  renderBoard,
  renderMute,
  unlockAudio,
} from "./board-live.js";

// ------------------------------------------------------------ constants

const MUTE_KEY = "hotlist-board.muted";
export const DEFAULT_TIME_ZONE = "UTC";
export const RECONNECT_MIN_MS = 1000;
export const RECONNECT_MAX_MS = 30000;

const ACTION_DONE = {
  acknowledge: "Acknowledged",
  confirm: "Confirmed",
  reject: "Rejected",
  close: "Closed",
};

// ---------------------------------------------------------------- state

export const state = {
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
export const el = {};

export function uiOf(id) {
  let ui = state.ui.get(id);
  if (!ui) {
    ui = { rejectOpen: false, reason: "", text: "", error: "", busy: false, focus: null };
    state.ui.set(id, ui);
  }
  return ui;
}

function readMuted() {
  try {
    return window.sessionStorage.getItem(MUTE_KEY) === "1";
  } catch (_) {
    return false;
  }
}

export function writeMuted(muted) {
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

export async function api(method, path, body) {
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

export function setUser(user) {
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
export function sessionEnded() {
  endBoard();
  showLogin("Your session has ended. Log in again.");
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
