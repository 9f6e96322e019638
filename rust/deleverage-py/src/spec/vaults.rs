//! A Maker system's part of a scenario spec into the core's [`Vaults`].

use deleverage_core::{Ilk, PriceCurve, Vaults};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{self, dict, get, item, list, u32_column};
use crate::errors::{BindingError, BindingResult};

pub fn vaults(d: &Bound<'_, PyDict>, name: &str) -> BindingResult<Vaults> {
    let mut ilks = Vec::new();
    for (k, m) in list(&item(d, "ilks", name)?, name)?.iter().enumerate() {
        let place = format!("{name}.ilks[{k}]");
        let m = dict(&m, &place)?;
        let cplace = format!("{place}.curve");
        let c = dict(&item(&m, "curve", &place)?, &cplace)?;
        let kind: String = get(&c, "kind", &cplace)?;
        let curve = match kind.as_str() {
            "linear" => PriceCurve::Linear {
                tau: get(&c, "tau", &cplace)?,
            },
            "stairstep" => PriceCurve::StairstepExponential {
                step: get(&c, "step", &cplace)?,
                cut: get(&c, "cut", &cplace)?,
            },
            "exponential" => PriceCurve::Exponential {
                cut: get(&c, "cut", &cplace)?,
            },
            other => {
                return Err(BindingError::Scenario(format!(
                    "{cplace}.kind must be linear, stairstep or exponential, got {other:?}"
                )));
            }
        };
        let f = |key: &str| get::<f64>(&m, key, &place);
        ilks.push(Ilk {
            asset: get(&m, "asset", &place)?,
            mat: f("mat")?,
            rate: f("rate")?,
            chop: f("chop")?,
            dust: f("dust")?,
            hole: f("hole")?,
            dirt: f("dirt")?,
            buf: f("buf")?,
            curve,
            tail: f("tail")?,
            cusp: f("cusp")?,
            chip: f("chip")?,
            tip: f("tip")?,
        });
    }
    let place = format!("{name}.positions");
    let p = dict(&item(d, "positions", name)?, &place)?;
    let col = |k: &str| convert::column(&item(&p, k, &place)?, &format!("{place}.{k}"));
    Vaults::new(
        get(d, "hole", name)?,
        get(d, "dirt", name)?,
        ilks,
        u32_column(&item(&p, "account", &place)?, &format!("{place}.account"))?,
        u32_column(&item(&p, "ilk", &place)?, &format!("{place}.ilk"))?,
        col("ink")?,
        col("art")?,
    )
    .map_err(|e| BindingError::Scenario(format!("{name}: {e}")))
}
