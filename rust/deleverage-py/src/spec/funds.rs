//! A fund group's part of a scenario spec into the core's [`Funds`].

use deleverage_core::{Accounting, Funds, Rule};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{self, dict, get, item};
use crate::errors::{BindingError, BindingResult};

pub fn funds(d: &Bound<'_, PyDict>, name: &str) -> BindingResult<Funds> {
    let col = |k: &str| convert::column(&item(d, k, name)?, &format!("{name}.{k}"));
    let rule_place = format!("{name}.rule");
    let r = dict(&item(d, "rule", name)?, &rule_place)?;
    let kind: String = get(&r, "kind", &rule_place)?;
    let rule = match kind.as_str() {
        "target" => Rule::Target {
            leverage: get(&r, "leverage", &rule_place)?,
        },
        "threshold" => Rule::Threshold {
            lambda_max: get(&r, "lambda_max", &rule_place)?,
            lambda_b: get(&r, "lambda_b", &rule_place)?,
        },
        other => {
            return Err(BindingError::Scenario(format!(
                "{rule_place}.kind must be target or threshold, got {other:?}"
            )));
        }
    };
    let accounting: String = get(d, "accounting", name)?;
    let accounting = Accounting::from_name(&format!("{name}.accounting"), &accounting)?;
    let n_assets: usize = get(d, "n_assets", name)?;
    Ok(Funds::new(
        col("units")?,
        n_assets,
        col("illiquid")?,
        col("illiquid_shock")?,
        col("debt")?,
        rule,
        accounting,
    )
    .map_err(|e| BindingError::Scenario(format!("{name}: {e}")))?
    .with_first_account(get(d, "first_account", name)?))
}
