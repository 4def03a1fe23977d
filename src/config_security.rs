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
        let key = self.service_key(env)?;
        let master_file = env.get("HOTLIST_MASTER_KEY_FILE").unwrap_or(&self.master_key_file);
        Ok((key, master_key(master_file, self.development_key)?))
    }

    fn service_key(&self, env: &BTreeMap<String, String>) -> Result<ServiceKey, ConfigError> {
        let file = env.get("HOTLIST_SERVICE_KEY_FILE").unwrap_or(&self.key_file);
        if file.is_empty() {
            return match self.development_key {
                true => Ok(ServiceKey::development()),
                false => Err(invalid(
                    "security.key_file",
                    "no service key: mount one (openssl rand -hex 32) and name its file, \
                     or set security.development_key for a demo or test",
                )),
            };
        }
        let bytes = std::fs::read(file).map_err(|error| ConfigError::Io {
            what: "service key file",
            path: file.clone(),
            error,
            check: "security.key_file / HOTLIST_SERVICE_KEY_FILE",
        })?;
        ServiceKey::from_bytes(&bytes).map_err(|e| invalid("security.key_file", e.to_string()))
    }
}

/// The master key that wraps day keys ([`crate::retention::seal`]): from
/// its file, or the development master key if allowed.
fn master_key(file: &str, development: bool) -> Result<MasterKey, ConfigError> {
    if file.is_empty() {
        return match development {
            true => Ok(MasterKey::development()),
            false => Err(invalid(
                "security.master_key_file",
                "no master key for encryption at rest: mount one (openssl rand -hex 32) and name its file, \
                 or set security.development_key for a demo or test",
            )),
        };
    }
    let bytes = std::fs::read(file).map_err(|error| ConfigError::Io {
        what: "master key file",
        path: file.to_owned(),
        error,
        check: "security.master_key_file / HOTLIST_MASTER_KEY_FILE",
    })?;
    MasterKey::from_file_contents(&bytes).map_err(|e| invalid("security.master_key_file", e.to_string()))
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
