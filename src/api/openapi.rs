//! The OpenAPI 3.0 document of the API, served at `GET /api/openapi.json`
//! to any logged-in user.
//!
//! It exists so clients and the property-based API tests
//! (`scripts/schemathesis.sh`) work from one description of what every
//! route takes and answers, and so that description cannot drift from the
//! routes: it is built from [`routes::all`] (method, path, access, body
//! limit) joined with the documentation table in `openapi_docs.rs`, and a
//! unit test fails when a route has no entry there or an entry names no
//! route. The answers every route of a kind gives are added here: 401, 403
//! and 503 behind a session, 413 with a body, 400, 415 and 422 from the
//! JSON extractor. Errors of the handlers are JSON `{"error": "..."}`
//! ([`super::state::ApiError`]); those of axum's extractors (a path, query
//! or body they cannot parse) are plain text, and documented as such.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use axum::http::Method;
use axum::Json;
use serde_json::{json, Map, Value};

use super::routes;
use super::state::Access;

#[path = "openapi_docs.rs"]
mod docs;
#[path = "openapi_parts.rs"]
mod parts;

use parts::{array, id, name, nullable, r, Doc};

/// The document, built once.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let routes: Vec<_> = routes::all()
            .into_iter()
            .map(|r| (r.method, r.path, r.access, r.body_limit))
            .collect();
        build(&routes, &docs::docs())
    })
}

/// `GET /api/openapi.json`.
pub async fn openapi_json() -> Json<Value> {
    Json(document().clone())
}

/// A route as the table gives it: method, path, access, body limit.
type RouteRow = (Method, &'static str, Access, usize);

/// The document for `routes`, documented by `docs`.
fn build(routes: &[RouteRow], docs: &[((Method, &'static str), Doc)]) -> Value {
    let mut paths = Map::new();
    for (method, path, access, body_limit) in routes {
        let doc = docs.iter().find(|((m, p), _)| m == method && p == path).map(|(_, d)| d);
        let operation = match doc {
            Some(doc) => operation(method, path, *access, *body_limit, doc),
            // Only until the unit test catches it: never panic while serving.
            None => json!({
                "operationId": operation_id(method, path),
                "summary": "undocumented",
                "responses": { "default": { "description": "undocumented" } },
            }),
        };
        let item = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        item[method.as_str().to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "hotlist-matcher API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Matches ALPR plate reads against agency hotlists. Log in at POST /api/login and send \
                the token as `Authorization: Bearer <token>`. Errors are JSON `{\"error\": \"...\"}`, except \
                those of a path, query or body the server cannot parse (plain text). Every search and export \
                needs a purpose and is audited.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "the token of POST /api/login" },
            },
            "schemas": schemas(),
        },
    })
}

/// `post_api_alerts_id_action` for `POST /api/alerts/{id}/{action}`.
fn operation_id(method: &Method, path: &str) -> String {
    let words: Vec<&str> = path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    format!("{}_{}", method.as_str().to_ascii_lowercase(), words.join("_"))
}

/// Who may call a route, in words (`x-access`).
fn access_name(access: Access) -> Value {
    match access {
        Access::Public => json!("public"),
        Access::Session => json!("session"),
        Access::Action(action) => serde_json::to_value(action).expect("actions serialize"),
    }
}

fn operation(method: &Method, path: &str, access: Access, body_limit: usize, doc: &Doc) -> Value {
    let mut errors: BTreeSet<u16> = doc.errors.iter().copied().collect();
    if access != Access::Public {
        errors.extend([401, 403, 503]);
    }
    let mut responses = Map::new();
    let (status, description, content) = &doc.ok;
    let mut ok = json!({ "description": description });
    if let Some((media_type, schema)) = content {
        let mut media = Map::new();
        media.insert(media_type.to_string(), json!({ "schema": schema }));
        ok["content"] = Value::Object(media);
    }
    if let Some(headers) = &doc.ok_headers {
        ok["headers"] = headers.clone();
    }
    responses.insert(status.to_string(), ok);
    let security = if access == Access::Public {
        json!([])
    } else {
        json!([{ "bearer": [] }])
    };
    let mut operation = json!({
        "operationId": operation_id(method, path),
        "summary": doc.summary,
        "tags": [doc.tag],
        "security": security,
        "x-access": access_name(access),
    });
    if !doc.parameters.is_empty() {
        operation["parameters"] = json!(doc.parameters);
    }
    if let Some(body) = &doc.body {
        errors.insert(413);
        if body.is_json() {
            errors.extend([400, 415, 422]);
        }
        let mut content = Map::new();
        for media_type in body.media_types {
            let mut media = json!({ "schema": body.schema });
            if let Some(example) = &body.example {
                media["example"] = example.clone();
            }
            content.insert(media_type.to_string(), media);
        }
        operation["requestBody"] = json!({
            "required": true,
            "description": format!("at most {body_limit} bytes"),
            "content": content,
        });
        operation["x-body-limit"] = json!(body_limit);
    }
    for status in errors {
        responses.insert(status.to_string(), error_response(status, access));
    }
    operation["responses"] = Value::Object(responses);
    operation
}

/// An error answer: the handlers' JSON, or the extractors' plain text.
fn error_response(status: u16, access: Access) -> Value {
    let error = json!({ "schema": r("Error") });
    let text = json!({ "schema": { "type": "string" } });
    let (description, content) = match status {
        400 => (
            "malformed: JSON from the handler, or plain text when the path, query or body cannot be parsed",
            json!({ "application/json": error, "text/plain": text }),
        ),
        401 if access == Access::Public => ("wrong username or password", json!({ "application/json": error })),
        401 => (
            "no session, an unknown one or an expired one",
            json!({ "application/json": error }),
        ),
        403 if access == Access::Public => ("the account has expired", json!({ "application/json": error })),
        403 => (
            "not allowed: the role (or a grant) does not allow it, the policy refuses it (an expired account; \
             an officer's search or export without sworn status or current training), or a cookie session \
             did not echo its CSRF token",
            json!({ "application/json": error }),
        ),
        404 => ("not found", json!({ "application/json": error })),
        409 => ("someone else changed it first", json!({ "application/json": error })),
        413 => (
            "the body is larger than this route takes (plain text when found while reading)",
            json!({ "application/json": error, "text/plain": text }),
        ),
        415 => (
            "the body is not declared application/json",
            json!({ "text/plain": text }),
        ),
        422 => (
            "the JSON body does not have the required shape (plain text), or breaks a rule of the policy \
             (JSON; e.g. an agency outside California marked a California public agency)",
            json!({ "application/json": error, "text/plain": text }),
        ),
        429 => (
            "too many failed logins; try again later",
            json!({ "application/json": error }),
        ),
        503 => (
            "storage or the audit log is unavailable or busy; try again",
            json!({ "application/json": error }),
        ),
        _ => ("error", json!({ "application/json": error })),
    };
    let mut response = json!({ "description": description, "content": content });
    if status == 503 {
        response["headers"] = json!({ "Retry-After": {
            "description": "seconds to wait, when the server is busy",
            "schema": { "type": "integer", "minimum": 0 },
        } });
    }
    response
}

/// An object schema with its required fields.
fn object(required: &[&str], properties: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": properties })
}

/// The shared schemas (`#/components/schemas`).
fn schemas() -> Value {
    let string = || json!({ "type": "string" });
    let enumeration = |names: &[&str]| json!({ "type": "string", "enum": names });
    let purpose = object(
        &["category", "case_number", "details"],
        json!({
            "category": enumeration(&["criminal_investigation", "stolen_vehicle", "missing_person", "amber_alert",
                "officer_safety", "court_order", "compliance_audit"]),
            "case_number": { "type": "string", "pattern": "^[!-~][ -~]{1,38}[!-~]$" },
            "details": { "type": "string", "pattern": r"^\S.{8,998}\S$" },
        }),
    );
    let role = enumeration(&["custodian", "officer", "dispatcher", "agency_feed", "contractor", "ops"]);
    json!({
        "Error": object(&["error"], json!({ "error": string() })),
        "Role": role,
        "Category": enumeration(&["stolen_vehicle", "stolen_plate", "felony_vehicle", "amber", "wanted_person",
            "bolo", "officer_entered", "other"]),
        "Purpose": purpose,
        "Login": object(&["token", "csrf_token", "role", "expires_at"], json!({
            "token": string(), "csrf_token": string(), "role": r("Role"),
            "expires_at": { "type": "string", "format": "date-time" } })),
        "Whoami": object(&["username", "organisation", "role", "csrf_token"], json!({
            "username": string(), "organisation": string(), "role": r("Role"), "csrf_token": string() })),
        "User": object(&["username", "organisation", "role", "disabled", "sworn", "trained_on", "expires_on"], json!({
            "username": string(), "organisation": string(), "role": r("Role"), "disabled": { "type": "boolean" },
            "sworn": { "type": "boolean" }, "trained_on": nullable(json!({ "type": "string", "format": "date" })),
            "expires_on": nullable(json!({ "type": "string", "format": "date" })) })),
        "Agency": object(&["ori", "name", "california_public_agency"], json!({
            "ori": { "type": "string", "pattern": "^(A[LKZRS]|C[AOT]|D[EC]|FL|G[AU]|HI|I[DLNA]|K[SY]|LA|M[EDAINSOTP]|N[EVHJMYCD]|O[HKR]|P[AR]|RI|S[CD]|T[NX]|UT|V[TAI]|W[AVIY])[A-Z0-9]{7}$",
                "description": "NCIC ORI: a US state or territory postal code and 7 letters or digits; a California public agency's starts with CA" },
            "name": name(2, 200),
            "california_public_agency": { "type": "boolean" } })),
        "Alert": object(&["schema", "alert_id", "read", "entry", "match"], json!({
            "schema": { "type": "integer" }, "alert_id": { "type": "string", "format": "uuid" },
            "read": { "type": "object" }, "entry": { "type": "object" }, "match": { "type": "object" },
            "historical": { "type": "boolean" } })),
        "Incident": object(&["id", "state", "list_id"], json!({
            "id": { "type": "string", "format": "uuid" },
            "state": enumeration(&["new", "acknowledged", "confirmed", "rejected", "closed"]),
            "list_id": string() })),
        "Health": object(&["status", "reads_partitions", "unassigned_seconds", "stale_lists", "custodian_exists",
            "sessions"], json!({
            "status": enumeration(&["ok", "degraded", "not_ready"]),
            "reads_partitions": { "type": "integer" }, "unassigned_seconds": { "type": "integer", "minimum": 0 },
            "stale_lists": array(json!({ "type": "object" })), "custodian_exists": { "type": "boolean" },
            "sessions": { "type": "integer", "minimum": 0 } })),
        "ListRegistration": object(&["list_id", "organisation", "category"], json!({
            "list_id": id(), "organisation": string(), "category": r("Category") })),
        // Entry counts only: whether retained reads hit the new entries is
        // for dispatch, never told to the uploader.
        "UploadReport": json!({ "type": "object", "required": ["added", "changed", "removed", "unchanged"],
            "additionalProperties": false, "properties": {
            "added": { "type": "integer", "minimum": 0 }, "changed": { "type": "integer", "minimum": 0 },
            "removed": { "type": "integer", "minimum": 0 }, "unchanged": { "type": "integer", "minimum": 0 } } }),
        "AuditRecord": object(&["seq", "at", "username", "organisation", "action", "query_terms", "client_addr",
            "prev_hash", "hash"], json!({
            "seq": { "type": "integer", "minimum": 0 }, "at": { "type": "string", "format": "date-time" },
            "username": string(), "organisation": string(), "role": nullable(r("Role")), "action": string(),
            "query_terms": array(string()), "purpose": nullable(json!({ "type": "object" })),
            "result_count": nullable(json!({ "type": "integer", "minimum": 0 })), "client_addr": string(),
            "truncated": { "type": "boolean" },
            "prev_hash": { "type": "string", "pattern": "^[0-9a-f]{64}$" },
            "hash": { "type": "string", "pattern": "^[0-9a-f]{64}$" } })),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::api::fakes::Harness;

    /// The upload's answer, as documented, says nothing of historical hits.
    #[test]
    fn the_upload_report_is_entry_counts_only() {
        let report = &document()["components"]["schemas"]["UploadReport"];
        let names: Vec<&String> = report["properties"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["added", "changed", "removed", "unchanged"]);
        assert_eq!(report["additionalProperties"], false);
    }

    #[test]
    fn every_route_is_documented_and_every_entry_names_a_route() {
        let routes = routes::all();
        let docs = docs::docs();
        for route in &routes {
            let documented = docs.iter().any(|((m, p), _)| *m == route.method && *p == route.path);
            assert!(
                documented,
                "{} {} has no entry in openapi_docs.rs",
                route.method, route.path
            );
        }
        let mut seen = HashSet::new();
        for ((method, path), _) in &docs {
            assert!(
                seen.insert((method.clone(), *path)),
                "{method} {path} is documented twice"
            );
            let exists = routes.iter().any(|r| r.method == method && r.path == *path);
            assert!(exists, "{method} {path} is documented but is no route");
        }
    }

    /// Every `$ref` in `value`.
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    out.push(target.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_document_has_the_shape_of_openapi_3_0() {
        let doc = document();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.0."));
        assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut ids = HashSet::new();
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            assert!(path.starts_with('/'), "{path}");
            let templated: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            for (method, op) in item.as_object().unwrap() {
                operations += 1;
                let known = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
                assert!(known.contains(&method.as_str()), "{path}: method {method}");
                let id = op["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_owned()), "operationId {id} twice");
                assert!(op["summary"].is_string(), "{method} {path}");
                let responses = op["responses"].as_object().unwrap();
                assert!(!responses.is_empty(), "{method} {path}");
                for (status, response) in responses {
                    let valid = status == "default" || status.parse::<u16>().is_ok_and(|s| (100..600).contains(&s));
                    assert!(valid, "{method} {path}: status {status}");
                    assert!(response["description"].is_string(), "{method} {path} {status}");
                }
                let declared: BTreeSet<&str> = op["parameters"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| {
                        assert_eq!(p["required"], true, "{method} {path}: path parameters are required");
                        p["name"].as_str().unwrap()
                    })
                    .collect();
                assert_eq!(declared, templated, "{method} {path}: path parameters");
                let security = op["security"].as_array().unwrap();
                match op["x-access"].as_str() {
                    Some("public") => assert!(security.is_empty(), "{method} {path}"),
                    _ => {
                        assert_eq!(security, &[json!({ "bearer": [] })], "{method} {path}");
                        assert!(responses.contains_key("401"), "{method} {path}");
                    }
                }
            }
        }
        assert_eq!(operations, routes::all().len(), "one operation per route");
        let mut targets = Vec::new();
        refs(doc, &mut targets);
        for target in targets {
            let name = target.strip_prefix("#/components/schemas/").expect("a local schema");
            assert!(schemas.contains_key(name), "{target} does not resolve");
        }
    }

    #[test]
    fn public_routes_need_no_token_and_the_upload_is_documented_as_a_file() {
        let doc = document();
        assert_eq!(doc["paths"]["/api/login"]["post"]["security"], json!([]));
        assert_eq!(doc["paths"]["/board"]["get"]["security"], json!([]));
        let upload = &doc["paths"]["/api/hotlists/{list_id}"]["post"];
        let content = upload["requestBody"]["content"].as_object().unwrap();
        assert!(content.contains_key("text/csv") && content.contains_key("application/octet-stream"));
        let query: Vec<&str> = upload["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            query,
            [
                "format",
                "category",
                "reason",
                "covert",
                "dry_run",
                "show",
                "skip_invalid"
            ]
        );
        let events = &doc["paths"]["/api/alerts/events"]["get"]["responses"]["200"]["content"];
        assert!(events.get("text/event-stream").is_some());
    }

    #[tokio::test]
    async fn the_document_is_served_to_a_session_only() {
        let api = Harness::new();
        let (status, _) = api.call("GET", "/api/openapi.json", None, None).await;
        assert_eq!(status, 401, "no session");
        let ops = api.token("ops").await;
        let (status, body) = api.call("GET", "/api/openapi.json", Some(&ops), None).await;
        assert_eq!(status, 200);
        let served: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(&served, document());
    }
}
