//! The `[security]` section of the configuration: where the service key
//! ([`crate::access::keys`]) comes from. A deployment mounts it from a
//! secret (`key_file`, or `HOTLIST_SERVICE_KEY_FILE`); only the demo and
//! the tests may use the well-known development key, and must say so.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{invalid, ConfigError};
use crate::access::keys::ServiceKey;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSecurity {
    #[serde(default)]
    key_file: String,
    #[serde(default)]
    development_key: bool,
}

impl RawSecurity {
    /// The service key: read from its file, or the development key if
    /// allowed; no key at all is refused.
    pub(super) fn validate(self, env: &BTreeMap<String, String>) -> Result<ServiceKey, ConfigError> {
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
        let bytes = std::fs::read(file).map_err(|source| ConfigError::Io {
            path: file.clone(),
            source,
        })?;
        ServiceKey::from_bytes(&bytes).map_err(|e| invalid("security.key_file", e.to_string()))
    }
}
