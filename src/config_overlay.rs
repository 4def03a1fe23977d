//! Config files as overlays on the built-in defaults.
//!
//! A config file names only what it changes: its TOML table is merged key by
//! key onto the table of [`super::DEFAULT_TOML`] (tables merge, every other
//! value, arrays of tables such as `[[dispatch.webhooks]]` included,
//! replaces), and only the merged table is deserialized, with unknown keys
//! still refused. An unknown key is reported with its full path and the
//! nearest known key of its section, so a typo says what was meant.

use super::ConfigError;

/// `user` merged onto the built-in defaults.
pub(super) fn merged_with_defaults(user: toml::Table) -> toml::Table {
    let mut merged: toml::Table = toml::from_str(super::DEFAULT_TOML).expect("the built-in defaults parse");
    overlay(&mut merged, user);
    merged
}

/// Merges `over` onto `base`: a table onto a table key by key, anything
/// else replaces.
pub(super) fn overlay(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(value)) => overlay(inner, value),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Turns a deserializing error of the merged table into a [`ConfigError`]:
/// an unknown key becomes [`ConfigError::UnknownKey`] with its path in
/// `user` and the nearest of the keys serde expected there.
pub(super) fn explain(error: toml::de::Error, user: &toml::Table) -> ConfigError {
    let message = error.message();
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return ConfigError::Parse(error);
    };
    let Some((unknown, expected)) = rest.split_once('`') else {
        return ConfigError::Parse(error);
    };
    // "..., expected one of `a`, `b`" or "..., expected `a`"
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let nearest = known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(unknown, k), *k))
        .filter(|(distance, k)| *distance <= (k.len().max(unknown.len()) / 2).max(1))
        .min()
        .map(|(_, k)| k);
    let section = path_of(user, unknown).unwrap_or_default();
    let with_section = |key: &str| match section.as_str() {
        "" => key.to_owned(),
        section => format!("{section}.{key}"),
    };
    ConfigError::UnknownKey {
        key: with_section(unknown),
        nearest: nearest.map(with_section),
    }
}

/// The dotted path of the table in `table` holding `key` (empty: the top).
fn path_of(table: &toml::Table, key: &str) -> Option<String> {
    if table.contains_key(key) {
        return Some(String::new());
    }
    for (name, value) in table {
        let found = match value {
            toml::Value::Table(inner) => path_of(inner, key),
            toml::Value::Array(items) => items.iter().find_map(|item| match item {
                toml::Value::Table(inner) => path_of(inner, key),
                _ => None,
            }),
            _ => None,
        };
        if let Some(path) = found {
            return Some(match path.as_str() {
                "" => name.clone(),
                path => format!("{name}.{path}"),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::{development_toml, Config, ConfigError};

    fn none() -> Vec<(String, String)> {
        Vec::new()
    }

    /// The development defaults plus `text`: the key file settings are the
    /// only part of the defaults the overlay tests must repeat.
    fn with_development_key(text: &str) -> String {
        format!("{text}\n[security]\ndevelopment_key = true\n")
    }

    #[test]
    fn a_one_key_file_changes_that_key_only() {
        let defaults = Config::from_toml(&development_toml(), none()).unwrap();
        let config = Config::from_toml(&with_development_key("[topics]\nretention_days = 9"), none()).unwrap();
        assert_eq!(config.topics.retention, std::time::Duration::from_secs(9 * 86_400));
        let unchanged = |c: &Config| {
            format!(
                "{:?} {:?} {:?} {:?} {:?}",
                c.kafka, c.pipeline, c.hotlist, c.api, c.dispatch
            )
        };
        assert_eq!(unchanged(&config), unchanged(&defaults));
        assert_eq!(config.topics.reads, defaults.topics.reads);
        assert_eq!(config.topics.partitions, defaults.topics.partitions);
        assert_eq!(config.topics.audit_retention, defaults.topics.audit_retention);
    }

    #[test]
    fn the_issues_file_of_one_key_is_accepted() {
        // `[topics] retention_days = 90` once failed with "missing field
        // reads"; now only the policy's bound refuses it.
        let error = Config::from_toml(&with_development_key("[topics]\nretention_days = 90"), none()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "config key topics.retention_days is invalid: must be 1 to 30: the policy deletes ALPR data after 30 days"
        );
    }

    #[test]
    fn nested_tables_merge_and_arrays_replace() {
        let text = with_development_key(
            "[matching.categories]\nstolen_plate = \"exact\"\n[kafka.properties]\n\"socket.timeout.ms\" = \"5000\"",
        );
        let config = Config::from_toml(&text, none()).unwrap();
        let defaults = Config::from_toml(&development_toml(), none()).unwrap();
        use crate::hotlist::{Category, Tolerance};
        assert_eq!(
            config.matching.by_category[&Category::StolenPlate],
            Tolerance::parse("exact").unwrap()
        );
        assert_eq!(
            config.matching.by_category[&Category::Amber],
            defaults.matching.by_category[&Category::Amber],
            "the other categories keep their defaults"
        );
        assert_eq!(config.kafka.properties.len(), 1);
        assert!(config.dispatch.webhooks.is_empty());
    }

    #[test]
    fn an_unknown_key_names_its_path_and_the_nearest_known_key() {
        let error = Config::from_toml("[pipeline]\nbatch_sise = 10", none()).unwrap_err();
        assert!(
            matches!(&error, ConfigError::UnknownKey { key, nearest: Some(n) } if key == "pipeline.batch_sise" && n == "pipeline.batch_size"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "unknown config key pipeline.batch_sise: did you mean pipeline.batch_size?"
        );
        let error = Config::from_toml("[kafka]\nzzzzzzzzzzzz = 1", none()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown config key kafka.zzzzzzzzzzzz: see config/default.toml for every key"
        );
        let error = Config::from_toml("[topic]\nreads = \"x\"", none()).unwrap_err();
        assert_eq!(error.to_string(), "unknown config key topic: did you mean topics?");
    }
}
