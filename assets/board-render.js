// Dispatch board, part 2 of 3: words and DOM (board.js is the entry point).
//
// Split out of board.js to keep files short. Turns an incident into what the
// dispatcher reads: labels, times, places, and the card itself (plates with
// their differing characters marked, facts, sightings, history, decision,
// action buttons, reject form). Server data is untrusted: everything goes in
// through createElement and textContent, never innerHTML.

import { DEFAULT_TIME_ZONE, state, uiOf } from "./board.js";

// --------------------------------------------------------------- labels

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

const ACTION_LABEL = {
  acknowledge: "Acknowledge",
  confirm: "Confirm",
  reject: "Reject",
  close: "Close",
};

// ------------------------------------------------------------- helpers

export function h(tag, attrs, children) {
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

export function str(value) {
  return value === null || value === undefined ? "" : String(value);
}

export function humanize(code) {
  const s = str(code).replace(/[_-]+/g, " ").trim();
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : "";
}

export function categoryLabel(code) {
  return CATEGORY_LABEL[code] || humanize(code) || "Unknown category";
}

function stateLabel(code) {
  return STATE_LABEL[code] || humanize(code) || "Unknown";
}

function reasonLabel(code) {
  return REASON_LABEL.get(code) || humanize(code);
}

export function priorityOf(incident) {
  const p = Number(incident.priority);
  return Number.isFinite(p) ? p : 99;
}

export function priorityWords(p) {
  if (p === 0) return "Priority 0 (most urgent)";
  return "Priority " + p;
}

function scoreWords(probability) {
  const n = Number(probability);
  if (!Number.isFinite(n)) return "";
  const pct = Math.round(Math.max(0, Math.min(1, n)) * 100);
  return pct + "% likely this vehicle";
}

// Why a possible match is one, in a dispatcher's words.
function possibleMatchWords(inc) {
  const why = inc.region_mismatch
    ? "the camera read another state than the list's"
    : "the read fits this entry and other plates about as well";
  return "Possible match: " + why + ". Verify the image and the plate before anything.";
}

export function timeMs(value) {
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

export function durationWords(secs) {
  const s = Math.max(0, Number(secs) || 0);
  if (s >= 2 * 86400) return Math.floor(s / 86400) + " days";
  if (s >= 3600) {
    const hours = Math.floor(s / 3600);
    return hours + (hours === 1 ? " hour" : " hours");
  }
  const minutes = Math.max(1, Math.floor(s / 60));
  return minutes + (minutes === 1 ? " minute" : " minutes");
}

// ---------------------------------------------------------------- cards

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

export function buildCard(inc) {
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
      h("span", { class: "match-score", text: scoreWords(inc.probability ?? inc.score) }),
    ]),
    inc.tier === "possible_match"
      ? h("p", {
          class: "possible-match",
          role: "note",
          text: possibleMatchWords(inc),
        })
      : null,
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
