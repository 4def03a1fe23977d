//! The `[security]` and `[access]` sections of the configuration, and the
//! admin port's default address. `[security]`: where the service key
//! ([`crate::access::keys`]) comes from. A deployment mounts it from a
//! secret (`key_file`, or `HOTLIST_SERVICE_KEY_FILE`); only the demo and
//! the tests may use the well-known development key, and must say so. The
//! master key that wraps the day keys of encryption at rest comes the same
//! way (`master_key_file`, or `HOTLIST_MASTER_KEY_FILE`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{invalid, ConfigError};
use crate::access::keys::ServiceKey;
use crate::retention::seal::MasterKey;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSecurity {
    #[serde(default)]
    key_file: String,
    #[serde(default)]
    development_key: bool,
    #[serde(default)]
    master_key_file: String,
}

impl RawSecurity {
    /// The service key and the master key: each read from its file, or the
    /// development key if allowed; no key at all is refused.
    pub(super) fn validate(self, env: &BTreeMap<String, String>) -> Result<(ServiceKey, MasterKey), ConfigError> {
        let service = SERVICE_KEY.bytes(env, &self.key_file, self.development_key)?;
        let service = match service {
            None => ServiceKey::development(),
            Some(bytes) => ServiceKey::from_bytes(&bytes).map_err(|e| invalid(SERVICE_KEY.key, e.to_string()))?,
        };
        let master = match MASTER_KEY.bytes(env, &self.master_key_file, self.development_key)? {
            None => MasterKey::development(),
            Some(bytes) => MasterKey::from_file_contents(&bytes).map_err(|e| invalid(MASTER_KEY.key, e.to_string()))?,
        };
        Ok((service, master))
    }
}

/// A key mounted from a secret: its config key, the variable that
/// overrides it, and what to say when there is none.
struct KeyFile {
    key: &'static str,
    env: &'static str,
    what: &'static str,
    check: &'static str,
    missing: &'static str,
}

/// The service key ([`crate::access::keys`]).
const SERVICE_KEY: KeyFile = KeyFile {
    key: "security.key_file",
    env: "HOTLIST_SERVICE_KEY_FILE",
    what: "service key file",
    check: "security.key_file / HOTLIST_SERVICE_KEY_FILE",
    missing: "no service key: mount one (openssl rand -hex 32) and name its file, \
              or set security.development_key for a demo or test",
};

/// The master key that wraps day keys ([`crate::retention::seal`]).
const MASTER_KEY: KeyFile = KeyFile {
    key: "security.master_key_file",
    env: "HOTLIST_MASTER_KEY_FILE",
    what: "master key file",
    check: "security.master_key_file / HOTLIST_MASTER_KEY_FILE",
    missing: "no master key for encryption at rest: mount one (openssl rand -hex 32) and name its file, \
              or set security.development_key for a demo or test",
};

impl KeyFile {
    /// The contents of the key's file (the variable wins over `configured`),
    /// or `None` for the development key when `development` allows it and
    /// no file is named.
    fn bytes(
        &self,
        env: &BTreeMap<String, String>,
        configured: &str,
        development: bool,
    ) -> Result<Option<Vec<u8>>, ConfigError> {
        let file = env.get(self.env).map_or(configured, String::as_str);
        if file.is_empty() {
            return match development {
                true => Ok(None),
                false => Err(invalid(self.key, self.missing)),
            };
        }
        let bytes = std::fs::read(file).map_err(|error| ConfigError::Io {
            what: self.what,
            path: file.to_owned(),
            error,
            check: self.check,
        })?;
        Ok(Some(bytes))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccess {
    #[serde(default = "default_training_valid_days")]
    pub(super) training_valid_days: u64,
}

impl Default for RawAccess {
    fn default() -> Self {
        RawAccess {
            training_valid_days: default_training_valid_days(),
        }
    }
}

fn default_training_valid_days() -> u64 {
    730
}

/// The admin port's address when the config does not name one.
pub(super) fn default_admin_listen() -> String {
    "127.0.0.1:9464".into()
}

/// The day-key topic's name when the config does not name one.
pub(super) fn default_day_keys_topic() -> String {
    "alpr.day-keys".into()
}
