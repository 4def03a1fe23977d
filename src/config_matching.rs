//! The `[matching]` section of the config: tolerance ceilings, false-alarm
//! budgets and the hit threshold, validated into a [`TolerancePolicy`].
//! Beside config.rs to keep that file short.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{in_range, invalid, ConfigError};
use crate::hotlist::{Category, RegionRule, Tolerance, TolerancePolicy};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMatching {
    fuzzy_max_list_entries: usize,
    fuzzy_min_plate_len: usize,
    ocr_min_plate_len: usize,
    region_mismatch: String,
    categories: BTreeMap<String, String>,
    #[serde(default)]
    lists: BTreeMap<String, String>,
    #[serde(default)]
    budgets: BTreeMap<String, toml::Value>,
    #[serde(default)]
    list_budgets: BTreeMap<String, toml::Value>,
    #[serde(default = "default_hit_probability")]
    hit_probability: f64,
}

fn default_hit_probability() -> f64 {
    0.5
}

/// A false-alarm budget: innocent reads flagged per 10,000 (0 to 10,000),
/// or "off" for the fixed caps.
fn budget(key: &'static str, name: &str, value: &toml::Value) -> Result<Option<f64>, ConfigError> {
    let number = match value {
        toml::Value::String(text) if text == "off" => return Ok(None),
        toml::Value::Integer(n) => *n as f64,
        toml::Value::Float(x) => *x,
        _ => f64::NAN,
    };
    if (0.0..=10_000.0).contains(&number) {
        Ok(Some(number))
    } else {
        Err(invalid(
            key,
            format!("{name}: {value} is not a number of innocent reads per 10,000 (0 to 10000) or \"off\""),
        ))
    }
}

impl RawMatching {
    pub(super) fn validate(self) -> Result<TolerancePolicy, ConfigError> {
        let tolerance = |key: &'static str, text: &str| {
            Tolerance::parse(text).ok_or_else(|| {
                invalid(
                    key,
                    format!("{text:?} is not \"exact\", \"ocr\" or \"fuzzy:<0.5 to 1.0>\""),
                )
            })
        };
        let mut by_category = std::collections::HashMap::new();
        for (name, text) in &self.categories {
            let category = Category::parse(name)
                .ok_or_else(|| invalid("matching.categories", format!("{name:?} is not a category")))?;
            by_category.insert(category, tolerance("matching.categories", text)?);
        }
        if let Some(missing) = Category::ALL.iter().find(|c| !by_category.contains_key(c)) {
            return Err(invalid(
                "matching.categories",
                format!("{} has no tolerance", missing.name()),
            ));
        }
        let mut by_list = std::collections::HashMap::new();
        for (list, text) in &self.lists {
            by_list.insert(list.clone(), tolerance("matching.lists", text)?);
        }
        let mut budget_by_category = std::collections::HashMap::new();
        for (name, value) in &self.budgets {
            let category = Category::parse(name)
                .ok_or_else(|| invalid("matching.budgets", format!("{name:?} is not a category")))?;
            if let Some(b) = budget("matching.budgets", name, value)? {
                budget_by_category.insert(category, b);
            }
        }
        let mut budget_by_list = std::collections::HashMap::new();
        for (list, value) in &self.list_budgets {
            if let Some(b) = budget("matching.list_budgets", list, value)? {
                budget_by_list.insert(list.clone(), b);
            }
        }
        if !(0.0..=1.0).contains(&self.hit_probability) {
            return Err(invalid(
                "matching.hit_probability",
                format!("{} is not a probability (0 to 1)", self.hit_probability),
            ));
        }
        let region = match self.region_mismatch.as_str() {
            "reject" => RegionRule::Reject,
            "penalize" => RegionRule::Penalize,
            other => {
                return Err(invalid(
                    "matching.region_mismatch",
                    format!("{other:?} is not \"reject\" or \"penalize\""),
                ))
            }
        };
        in_range("matching.ocr_min_plate_len", self.ocr_min_plate_len as u64, 1, 10)?;
        in_range("matching.fuzzy_min_plate_len", self.fuzzy_min_plate_len as u64, 1, 10)?;
        Ok(TolerancePolicy {
            by_category,
            by_list,
            budget_by_category,
            budget_by_list,
            hit_probability: self.hit_probability as f32,
            fuzzy_max_list_entries: self.fuzzy_max_list_entries,
            fuzzy_min_plate_len: self.fuzzy_min_plate_len,
            ocr_min_plate_len: self.ocr_min_plate_len,
            region,
        })
    }
}
