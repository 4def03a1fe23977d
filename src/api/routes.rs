//! The route table: every route of the API, with the access it requires
//! and the largest body it reads.
//!
//! [`all`] is the only place routes are declared; the router and the
//! authorization middleware both read it, so no route can exist without a
//! rule. The handlers live by resource beside this file: [`super::session`],
//! [`super::health`], [`super::users`], [`super::search`],
//! [`super::hotlists`] and [`super::audit`].

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{delete, get, post, put};

use super::audit::{audit_report, audit_verify};
use super::board;
use super::health::{health, metrics};
use super::hotlist_admin::{list_hotlists, remove_hotlist};
use super::hotlists::upload_hotlist;
use super::lists::{list_lists, register_list, unregister_list};
use super::openapi::openapi_json;
use super::search::{add_agency, export, list_agencies, search_alerts, search_reads, sharing_register};
use super::session::{login, logout};
use super::state::{Access, Route};
use super::users::{add_grant, add_user, change_user, disable_user, list_users, revoke_grant};
use crate::access::auth::Action;

/// Largest hotlist upload over HTTPS; the config's file limit applies too.
pub const UPLOAD_LIMIT: usize = 256 << 20;
/// Largest JSON body a route takes (axum's default, made explicit).
pub const JSON_BODY_LIMIT: usize = 2 << 20;

/// The rule and body limit of every route, computed once for the middleware.
pub fn rules() -> &'static [(Method, &'static str, Access, usize)] {
    static RULES: std::sync::OnceLock<Vec<(Method, &'static str, Access, usize)>> = std::sync::OnceLock::new();
    RULES.get_or_init(|| {
        all()
            .into_iter()
            .map(|r| (r.method, r.path, r.access, r.body_limit))
            .collect()
    })
}

/// Every route, with the access it requires.
pub fn all() -> Vec<Route> {
    let route = |method: Method, path, access, handler| Route {
        method,
        path,
        access,
        handler,
        body_limit: JSON_BODY_LIMIT,
    };
    vec![
        route(Method::POST, "/api/login", Access::Public, post(login)),
        route(Method::POST, "/api/logout", Access::Session, post(logout)),
        route(Method::GET, "/api/session", Access::Session, get(board::whoami)),
        route(Method::GET, "/api/openapi.json", Access::Session, get(openapi_json)),
        route(Method::GET, "/board", Access::Public, get(board::page)),
        route(Method::GET, "/board.js", Access::Public, get(board::script)),
        route(
            Method::GET,
            "/board-render.js",
            Access::Public,
            get(board::render_script),
        ),
        route(Method::GET, "/board-live.js", Access::Public, get(board::live_script)),
        route(Method::GET, "/board.css", Access::Public, get(board::style)),
        route(Method::GET, "/favicon.ico", Access::Public, get(board::favicon)),
        route(
            Method::GET,
            "/api/alerts/events",
            Access::Action(Action::ViewLiveAlerts),
            get(board::events),
        ),
        route(
            Method::POST,
            "/api/alerts/{id}/{action}",
            Access::Action(Action::DecideAlert),
            post(board::decide),
        ),
        route(Method::GET, "/api/health", Access::Action(Action::Health), get(health)),
        route(Method::GET, "/metrics", Access::Action(Action::Metrics), get(metrics)),
        route(
            Method::GET,
            "/api/users",
            Access::Action(Action::ManageUsers),
            get(list_users),
        ),
        route(
            Method::POST,
            "/api/users",
            Access::Action(Action::ManageUsers),
            post(add_user),
        ),
        route(
            Method::PUT,
            "/api/users/{username}",
            Access::Action(Action::ManageUsers),
            put(change_user),
        ),
        route(
            Method::DELETE,
            "/api/users/{username}",
            Access::Action(Action::ManageUsers),
            delete(disable_user),
        ),
        route(
            Method::POST,
            "/api/grants",
            Access::Action(Action::ManageGrants),
            post(add_grant),
        ),
        route(
            Method::DELETE,
            "/api/grants/{id}",
            Access::Action(Action::ManageGrants),
            delete(revoke_grant),
        ),
        route(
            Method::POST,
            "/api/search/alerts",
            Access::Action(Action::SearchAlerts),
            post(search_alerts),
        ),
        route(
            Method::POST,
            "/api/search/reads",
            Access::Action(Action::SearchReads),
            post(search_reads),
        ),
        route(
            Method::GET,
            "/api/agencies",
            Access::Action(Action::ManageSharing),
            get(list_agencies),
        ),
        route(
            Method::POST,
            "/api/agencies",
            Access::Action(Action::ManageSharing),
            post(add_agency),
        ),
        route(
            Method::POST,
            "/api/exports",
            Access::Action(Action::Export),
            post(export),
        ),
        Route {
            body_limit: UPLOAD_LIMIT,
            ..route(
                Method::POST,
                "/api/hotlists/{list_id}",
                Access::Action(Action::UploadOwnHotlist),
                post(upload_hotlist).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
            )
        },
        route(
            Method::GET,
            "/api/hotlists",
            Access::Action(Action::UploadOwnHotlist),
            get(list_hotlists),
        ),
        route(
            Method::DELETE,
            "/api/hotlists/{list_id}",
            Access::Action(Action::UploadOwnHotlist),
            delete(remove_hotlist),
        ),
        route(
            Method::GET,
            "/api/lists",
            Access::Action(Action::ManageAnyHotlist),
            get(list_lists),
        ),
        route(
            Method::PUT,
            "/api/lists/{list_id}",
            Access::Action(Action::ManageAnyHotlist),
            put(register_list),
        ),
        route(
            Method::DELETE,
            "/api/lists/{list_id}",
            Access::Action(Action::ManageAnyHotlist),
            delete(unregister_list),
        ),
        route(
            Method::GET,
            "/api/sharing",
            Access::Action(Action::ManageSharing),
            get(sharing_register),
        ),
        route(
            Method::GET,
            "/api/audit/verify",
            Access::Action(Action::ReadAudit),
            get(audit_verify),
        ),
        route(
            Method::GET,
            "/api/audit/report",
            Access::Action(Action::ReadAudit),
            get(audit_report),
        ),
    ]
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
