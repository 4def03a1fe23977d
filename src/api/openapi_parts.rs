//! The vocabulary of the route documentation in `openapi_docs.rs`: what a
//! route's entry holds ([`Doc`], [`Body`], [`Answer`]) and the schema
//! builders the entries share (references, identifiers, names, plates,
//! searches), kept apart so the table itself reads as a table.

use serde_json::{json, Value};

/// The success status, what it means, and its content (media type and
/// schema; none for an empty body).
pub type Answer = (u16, &'static str, Option<(&'static str, Value)>);

/// The documentation of one route.
pub struct Doc {
    pub summary: &'static str,
    pub tag: &'static str,
    /// OpenAPI parameter objects (path and query).
    pub parameters: Vec<Value>,
    pub body: Option<Body>,
    pub ok: Answer,
    /// Headers of the success answer (an OpenAPI headers object).
    pub ok_headers: Option<Value>,
    /// The errors this route gives beyond those of its kind (400, 404, 409,
    /// 429, 503 where they apply).
    pub errors: &'static [u16],
}

/// A request body: its media types with one schema, and an example.
pub struct Body {
    pub media_types: &'static [&'static str],
    pub schema: Value,
    pub example: Option<Value>,
}

impl Body {
    /// Read by axum's `Json` extractor, which also answers 400, 415 and 422.
    pub fn is_json(&self) -> bool {
        self.media_types == ["application/json"]
    }
}

/// A JSON request body.
pub(super) fn json_body(schema: Value) -> Option<Body> {
    Some(Body {
        media_types: &["application/json"],
        schema,
        example: None,
    })
}

/// A `$ref` to a shared schema.
pub fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

pub(super) fn path(name: &str, schema: Value, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": schema, "description": description })
}

pub(super) fn query(name: &str, required: bool, schema: Value, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": required, "schema": schema, "description": description })
}

/// `schema` with an example value.
pub(super) fn example(mut schema: Value, value: &str) -> Value {
    schema["example"] = json!(value);
    schema
}

pub(super) fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

/// `schema`, also allowing `null` (OpenAPI 3.0 style: a `$ref` takes no
/// siblings, so a reference is wrapped in `allOf`).
pub(super) fn nullable(mut schema: Value) -> Value {
    if schema.get("$ref").is_some() {
        schema = json!({ "allOf": [schema] });
    }
    schema["nullable"] = json!(true);
    schema
}

/// Characters [`crate::text::is_invisible`] refuses (those of the basic
/// multilingual plane; the tag block beyond it is refused too).
pub(super) const INVISIBLE: &str = concat!(
    r"\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e",
    r"\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb",
);

/// A display name as [`crate::text::check_name`] takes it: `min` (at
/// least 2) to `max` visible characters, no whitespace at either end.
pub(super) fn name(min: usize, max: usize) -> Value {
    let edge = format!(r"[^\s{INVISIBLE}]");
    let pattern = format!(r"^{edge}[^{INVISIBLE}]{{{},{}}}{edge}$", min - 2, max - 2);
    json!({ "type": "string", "pattern": pattern, "minLength": min, "maxLength": max })
}

/// An identifier as [`crate::text::check_id`] takes it.
pub(super) fn id() -> Value {
    json!({ "type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$" })
}

pub(super) fn username() -> Value {
    json!({ "type": "string", "pattern": "^[a-z0-9._-]{3,64}$" })
}

/// A new password as [`crate::access::auth::check_password`] takes it.
pub(super) fn password() -> Value {
    json!({ "type": "string", "minLength": 12, "maxLength": 256, "example": "correct horse battery",
        "description": "12 to 256 characters once trimmed, at least 5 different ones" })
}

/// A plate: up to 10 letters and digits once separators are removed. The
/// pattern is the canonical form; separators, full-width forms and
/// Latin-looking Cyrillic and Greek letters are accepted too.
pub(super) fn plate() -> Value {
    json!({ "type": "string", "pattern": "^[A-Za-z0-9]([A-Za-z0-9 -]{0,8}[A-Za-z0-9])?$",
        "description": "canonical form shown; separators and look-alike letters are also accepted" })
}

/// Search and export bodies: the plate and the required purpose.
pub(super) fn search(extra: Option<(&str, Value)>) -> Value {
    let mut schema = json!({
        "type": "object",
        "required": ["plate", "purpose"],
        "properties": { "plate": plate(), "purpose": r("Purpose") },
    });
    if let Some((field, value)) = extra {
        schema["required"].as_array_mut().expect("array").push(json!(field));
        schema["properties"][field] = value;
    }
    schema
}

/// A static asset of the board.
pub(super) fn asset(summary: &'static str, media_type: &'static str) -> Doc {
    doc(
        summary,
        "board",
        (200, "the asset", Some((media_type, json!({ "type": "string" })))),
    )
}

/// A route with no parameters, body or route-specific errors.
pub(super) fn doc(summary: &'static str, tag: &'static str, ok: Answer) -> Doc {
    Doc {
        summary,
        tag,
        parameters: Vec::new(),
        body: None,
        ok,
        ok_headers: None,
        errors: &[],
    }
}

pub(super) fn ok_json(status: u16, what: &'static str, schema: Value) -> Answer {
    (status, what, Some(("application/json", schema)))
}

/// The example upload: one entry, on the list the example names.
pub(super) const EXAMPLE_CSV: &str = concat!(
    "entry_id,list_id,plate,region,category,priority,description\n",
    "OA-1,openapi-example,7ABC123,CA,stolen_vehicle,2,example entry\n",
);
