//! What the route table cannot say about a route: its summary, the request
//! it takes and the answer it gives, keyed by (method, path).
//! [`crate::api::openapi`] joins it with [`crate::api::routes::all`]
//! (access, body limit), adds the answers every route of a kind gives (401,
//! 403 and 503 behind a session, 413, 415 and 422 on a JSON body) and the
//! shared schemas.
//!
//! Request schemas are as strict as the handlers, so a fuzzer generates
//! data they accept: the patterns are those of [`crate::access`],
//! [`crate::text`] and [`crate::normalize`]. Rules a schema cannot say (a
//! grantee must be an existing contractor, a rejection needs a reason) are
//! in the descriptions, and the handlers answer 400 to them.

use axum::http::Method;
use serde_json::json;

use super::parts::*;

/// Every route's documentation, keyed by (method, path).
pub fn docs() -> Vec<((Method, &'static str), Doc)> {
    let created = |what| (201, what, None);
    let done = |what| (204, what, None);
    vec![
        (
            (Method::POST, "/api/login"),
            Doc {
                body: json_body(json!({
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": { "username": { "type": "string" }, "password": { "type": "string" } },
                })),
                ok_headers: Some(json!({ "Set-Cookie": {
                    "description": "the session cookie for browsers (Secure, HttpOnly, SameSite=Strict)",
                    "schema": { "type": "string" } } })),
                errors: &[400, 401, 403, 429, 503],
                ..doc(
                    "Log in: a bearer token, and a cookie for browsers",
                    "session",
                    ok_json(200, "logged in", r("Login")),
                )
            },
        ),
        (
            (Method::POST, "/api/logout"),
            Doc {
                errors: &[503],
                ..doc("End this session", "session", done("logged out"))
            },
        ),
        (
            (Method::GET, "/api/session"),
            doc(
                "Who is logged in, and the CSRF token",
                "session",
                ok_json(200, "the session", r("Whoami")),
            ),
        ),
        (
            (Method::GET, "/api/openapi.json"),
            doc(
                "This document",
                "session",
                ok_json(
                    200,
                    "the OpenAPI document",
                    json!({ "type": "object", "required": ["openapi", "paths"] }),
                ),
            ),
        ),
        ((Method::GET, "/board"), asset("The dispatch board page", "text/html")),
        (
            (Method::GET, "/board.js"),
            asset("The board's main script", "text/javascript"),
        ),
        (
            (Method::GET, "/board-render.js"),
            asset("The board's card rendering module", "text/javascript"),
        ),
        (
            (Method::GET, "/board-live.js"),
            asset("The board's live feed module", "text/javascript"),
        ),
        (
            (Method::GET, "/board.css"),
            asset("The board's style sheet", "text/css"),
        ),
        (
            (Method::GET, "/favicon.ico"),
            doc("No icon", "board", done("no content")),
        ),
        (
            (Method::GET, "/api/alerts/events"),
            Doc {
                errors: &[503],
                ..doc(
                    "The live board: server-sent events `snapshot`, `incident` and `status` until the session ends",
                    "board",
                    (
                        200,
                        "an endless event stream",
                        Some(("text/event-stream", json!({ "type": "string" }))),
                    ),
                )
            },
        ),
        (
            (Method::POST, "/api/alerts/{id}/{action}"),
            Doc {
                parameters: vec![
                    path("id", json!({ "type": "string", "format": "uuid" }), "the alert"),
                    path(
                        "action",
                        json!({ "type": "string", "enum": ["acknowledge", "confirm", "reject", "close"] }),
                        "the decision; others answer 404",
                    ),
                ],
                body: json_body(json!({
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "reason": nullable(json!({ "type": "string",
                            "enum": ["misread", "wrong_state", "no_longer_active", "duplicate", "other"],
                            "description": "required to reject" })),
                        "text": nullable(json!({ "type": "string" })),
                    },
                })),
                errors: &[400, 404, 409, 503],
                ..doc(
                    "Acknowledge, confirm, reject or close an alert",
                    "board",
                    ok_json(
                        200,
                        "the decision applied",
                        json!({ "type": "object", "required": ["incident"],
                            "properties": { "incident": nullable(r("Incident")) } }),
                    ),
                )
            },
        ),
        (
            (Method::GET, "/api/health"),
            doc(
                "The health of this instance",
                "operations",
                ok_json(200, "health", r("Health")),
            ),
        ),
        (
            (Method::GET, "/metrics"),
            doc(
                "Prometheus metrics",
                "operations",
                (
                    200,
                    "metrics in the Prometheus text format",
                    Some(("text/plain", json!({ "type": "string" }))),
                ),
            ),
        ),
        (
            (Method::GET, "/api/users"),
            doc("Every user", "users", ok_json(200, "the users", array(r("User")))),
        ),
        (
            (Method::POST, "/api/users"),
            Doc {
                body: json_body(json!({
                    "type": "object",
                    "required": ["username", "organisation", "role", "password"],
                    "properties": {
                        "username": username(),
                        "organisation": name(2, 100),
                        "role": r("Role"),
                        "password": password(),
                        "sworn": { "type": "boolean", "default": false,
                            "description": "a sworn officer; an officer searches and exports only if sworn" },
                        "trained_on": nullable(json!({ "type": "string", "format": "date",
                            "description": "the day of the last ALPR training (not in the future); an officer's \
                                must be within access.training_valid_days to search or export" })),
                        "expires_on": nullable(json!({ "type": "string", "format": "date",
                            "description": "the last day (UTC) the account may log in or be used" })),
                    },
                })),
                errors: &[400, 409, 503],
                ..doc("Add a user (an existing name is a conflict)", "users", created("saved"))
            },
        ),
        (
            (Method::PUT, "/api/users/{username}"),
            Doc {
                parameters: vec![path("username", username(), "the user")],
                body: json_body(json!({
                    "type": "object",
                    "required": ["organisation", "role", "password"],
                    "properties": {
                        "organisation": name(2, 100),
                        "role": r("Role"),
                        "password": password(),
                        "enable": { "type": "boolean", "description": "re-enables a disabled user" },
                        "sworn": { "type": "boolean", "description": "absent keeps it" },
                        "trained_on": { "type": "string", "format": "date",
                            "description": "the day of the last ALPR training, not in the future; absent keeps it" },
                        "expires_on": { "type": "string", "format": "date",
                            "description": "the last day (UTC) the account may be used; absent keeps it" },
                    },
                })),
                errors: &[400, 404, 503],
                ..doc(
                    "Change a user's organisation, role and password; their sessions end",
                    "users",
                    done("changed"),
                )
            },
        ),
        (
            (Method::DELETE, "/api/users/{username}"),
            Doc {
                parameters: vec![path("username", username(), "the user")],
                errors: &[400, 404, 503],
                ..doc("Disable a user and end their sessions", "users", done("disabled"))
            },
        ),
        (
            (Method::POST, "/api/grants"),
            Doc {
                body: json_body(json!({
                    "type": "object",
                    "required": ["grantee", "document_ref", "scope", "expires_at"],
                    "properties": {
                        "grantee": username(),
                        "document_ref": name(3, 200),
                        "scope": { "type": "array", "minItems": 1,
                            "items": { "type": "string", "enum": ["health", "metrics", "search_reads"] } },
                        "expires_at": { "type": "string", "format": "date-time",
                            "description": "in the future, within 30 days" },
                    },
                })),
                errors: &[400, 503],
                ..doc(
                    "Grant the contractor actions until a date, on a signed document",
                    "users",
                    ok_json(
                        201,
                        "granted",
                        json!({ "type": "object", "required": ["id"],
                            "properties": { "id": { "type": "string", "format": "uuid" } } }),
                    ),
                )
            },
        ),
        (
            (Method::DELETE, "/api/grants/{id}"),
            Doc {
                parameters: vec![path("id", json!({ "type": "string" }), "the grant")],
                errors: &[400, 404, 503],
                ..doc("Revoke a grant", "users", done("revoked"))
            },
        ),
        (
            (Method::POST, "/api/search/alerts"),
            Doc {
                body: json_body(search(None)),
                errors: &[400, 503],
                ..doc(
                    "The alerts on a plate (30 days at most), with a purpose",
                    "search",
                    ok_json(200, "the alerts", array(r("Alert"))),
                )
            },
        ),
        (
            (Method::POST, "/api/search/reads"),
            Doc {
                body: json_body(search(None)),
                errors: &[400, 503],
                ..doc(
                    "The reads of a plate (30 days at most), with a purpose",
                    "search",
                    ok_json(
                        200,
                        "the reads, as the cameras sent them",
                        array(json!({ "type": "object" })),
                    ),
                )
            },
        ),
        (
            (Method::GET, "/api/agencies"),
            doc(
                "The agencies data may be shared with",
                "sharing",
                ok_json(200, "the agencies", array(r("Agency"))),
            ),
        ),
        (
            (Method::POST, "/api/agencies"),
            Doc {
                body: json_body(r("Agency")),
                errors: &[400, 503],
                ..doc("Register an agency", "sharing", created("registered"))
            },
        ),
        (
            (Method::POST, "/api/exports"),
            Doc {
                body: json_body(search(Some((
                    "agency_ori",
                    json!({ "type": "string", "pattern": "^[A-Z0-9]{9}$" }),
                )))),
                errors: &[400, 503],
                ..doc(
                    "Share the alerts on a plate with a registered California public agency",
                    "sharing",
                    ok_json(
                        200,
                        "the export",
                        json!({ "type": "object", "required": ["agency", "alerts"],
                            "properties": { "agency": r("Agency"), "alerts": array(r("Alert")) } }),
                    ),
                )
            },
        ),
        (
            (Method::POST, "/api/hotlists/{list_id}"),
            Doc {
                parameters: vec![
                    path(
                        "list_id",
                        example(id(), "openapi-example"),
                        "the list the file replaces",
                    ),
                    query(
                        "format",
                        true,
                        json!({ "type": "string", "example": "csv",
                            "enum": ["csv", "delimited", "fixed", "fixed-width", "ncic", "jsonl", "json-lines"] }),
                        "the file's format (csv for the example body)",
                    ),
                    query(
                        "category",
                        false,
                        r("Category"),
                        "the entries' category where the file gives none",
                    ),
                    query(
                        "reason",
                        true,
                        example(
                            json!({ "type": "string", "pattern": r"^\S.*\S$", "minLength": 5 }),
                            "weekly refresh",
                        ),
                        "why the list is replaced (audited)",
                    ),
                    query(
                        "covert",
                        false,
                        json!({ "type": "boolean" }),
                        "sets the list's covert flag; absent keeps it",
                    ),
                    query(
                        "dry_run",
                        false,
                        json!({ "type": "boolean", "default": false }),
                        "answer what the upload would add, change and remove; write nothing",
                    ),
                    query(
                        "show",
                        false,
                        json!({ "type": "integer", "minimum": 0, "maximum": 1000, "default": 10 }),
                        "with dry_run: rows of each kind in the answer",
                    ),
                    query(
                        "skip_invalid",
                        false,
                        json!({ "type": "boolean", "default": false }),
                        "apply the good rows and list the bad ones, up to hotlist.max_invalid_percent of the file",
                    ),
                ],
                body: Some(Body {
                    media_types: &["text/csv", "application/octet-stream"],
                    schema: json!({ "type": "string", "format": "binary" }),
                    example: Some(json!(EXAMPLE_CSV)),
                }),
                // 409: another upload of the list fenced this one; nothing applied.
                errors: &[400, 409, 503],
                ..doc(
                    "Replace a hotlist with a file, validated whole first",
                    "hotlists",
                    ok_json(
                        200,
                        "replaced",
                        json!({ "type": "object", "required": ["list"],
                            "properties": { "list": { "type": "string" }, "report": r("UploadReport"),
                                "dry_run": { "type": "boolean" },
                                "preview": { "type": "object", "description": "with dry_run: counts, and the first rows added, changed and removed" },
                                "skipped": { "type": "array", "items": { "type": "string" },
                                    "description": "with skip_invalid: every bad row skipped" } } }),
                    ),
                )
            },
        ),
        (
            (Method::GET, "/api/hotlists"),
            doc(
                "The lists the caller manages (the custodian: every list): owner, category, entries, last refresh, stale, covert",
                "hotlists",
                ok_json(
                    200,
                    "the lists",
                    array(json!({ "type": "object",
                        "required": ["list_id", "owner", "category", "entries", "refreshed_at", "stale", "covert"],
                        "properties": { "list_id": { "type": "string" }, "owner": { "type": "string" },
                            "category": { "type": "string" }, "entries": { "type": "integer", "minimum": 0 },
                            "refreshed_at": { "type": "string", "format": "date-time", "nullable": true },
                            "stale": { "type": "boolean" }, "covert": { "type": "boolean" } } })),
                ),
            ),
        ),
        (
            (Method::DELETE, "/api/hotlists/{list_id}"),
            Doc {
                parameters: vec![
                    path("list_id", id(), "the list to remove"),
                    query(
                        "reason",
                        true,
                        example(
                            json!({ "type": "string", "pattern": r"^\S.*\S$", "minLength": 5 }),
                            "list retired by the agency",
                        ),
                        "why the list is removed (audited)",
                    ),
                ],
                errors: &[400, 404, 503],
                ..doc(
                    "Remove a whole list: tombstones for its entries and its list record",
                    "hotlists",
                    ok_json(
                        200,
                        "removed",
                        json!({ "type": "object", "required": ["list", "removed"],
                            "properties": { "list": { "type": "string" }, "removed": { "type": "integer", "minimum": 0 } } }),
                    ),
                )
            },
        ),
        (
            (Method::GET, "/api/lists"),
            doc(
                "The register of hotlists: who may upload each, in which category",
                "hotlists",
                ok_json(200, "the registered lists", array(r("ListRegistration"))),
            ),
        ),
        (
            (Method::PUT, "/api/lists/{list_id}"),
            Doc {
                parameters: vec![path("list_id", id(), "the list")],
                body: json_body(json!({
                    "type": "object",
                    "required": ["organisation", "category"],
                    "properties": { "organisation": name(2, 100), "category": r("Category") },
                })),
                errors: &[400, 503],
                ..doc(
                    "Register a list to an organisation and a category, or move it",
                    "hotlists",
                    done("registered"),
                )
            },
        ),
        (
            (Method::DELETE, "/api/lists/{list_id}"),
            Doc {
                parameters: vec![path("list_id", id(), "the list")],
                errors: &[400, 404, 503],
                ..doc(
                    "Remove a list from the register (its entries stay)",
                    "hotlists",
                    done("removed"),
                )
            },
        ),
        (
            (Method::GET, "/api/sharing"),
            Doc {
                errors: &[503],
                ..doc(
                    "The sharing register: every export and refused export",
                    "sharing",
                    ok_json(200, "the register", array(r("AuditRecord"))),
                )
            },
        ),
        (
            (Method::GET, "/api/audit/verify"),
            Doc {
                errors: &[503],
                ..doc(
                    "Whether the audit chain is intact",
                    "audit",
                    ok_json(
                        200,
                        "the verdict",
                        json!({ "type": "object", "required": ["intact", "records"], "properties": {
                            "intact": { "type": "boolean" }, "records": { "type": "integer", "minimum": 0 },
                            "problem": { "type": "string" } } }),
                    ),
                )
            },
        ),
        (
            (Method::GET, "/api/audit/report"),
            Doc {
                parameters: vec![
                    query(
                        "from",
                        true,
                        json!({ "type": "string", "format": "date-time" }),
                        "start of the period",
                    ),
                    query(
                        "to",
                        true,
                        json!({ "type": "string", "format": "date-time" }),
                        "end of the period",
                    ),
                ],
                errors: &[400, 503],
                ..doc(
                    "The audit records of a period",
                    "audit",
                    ok_json(200, "the records", array(r("AuditRecord"))),
                )
            },
        ),
    ]
}
