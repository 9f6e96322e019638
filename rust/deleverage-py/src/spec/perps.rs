//! A perp exchange's part of a scenario spec into the core's [`Exchange`].

use deleverage_core::{
    AdlOrder, Brackets, Exchange, ExchangeConfig, MarginAsset, PartialRule, PerpMarket,
    PositionRows, Trigger,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{self, bool_column, dict, get, item, list, u32_column};
use crate::errors::{BindingError, BindingResult};

pub fn exchange(d: &Bound<'_, PyDict>, name: &str) -> BindingResult<Exchange> {
    let mut markets = Vec::new();
    for (k, m) in list(&item(d, "markets", name)?, name)?.iter().enumerate() {
        let place = format!("{name}.markets[{k}]");
        let m = dict(&m, &place)?;
        let caps = convert::column(&item(&m, "caps", &place)?, &format!("{place}.caps"))?;
        let mmr = convert::column(&item(&m, "mmr", &place)?, &format!("{place}.mmr"))?;
        markets.push(PerpMarket {
            asset: get(&m, "asset", &place)?,
            brackets: Brackets::new(caps, mmr)
                .map_err(|e| BindingError::Scenario(format!("{place}: {e}")))?,
        });
    }
    let adl: String = get(d, "adl", name)?;
    let adl = AdlOrder::from_name(&format!("{name}.adl"), &adl)?;
    let trigger: String = get(d, "trigger", name)?;
    let trigger = Trigger::from_name(&format!("{name}.trigger"), &trigger)?;
    let partial = item(d, "partial", name)?;
    let partial = if partial.is_none() {
        None
    } else {
        let place = format!("{name}.partial");
        let p = dict(&partial, &place)?;
        Some(PartialRule {
            threshold: get(&p, "threshold", &place)?,
            fraction: get(&p, "fraction", &place)?,
            cooldown: get(&p, "cooldown", &place)?,
            repeat: get(&p, "repeat", &place)?,
        })
    };
    let mut margin_assets = Vec::new();
    for (k, m) in list(&item(d, "margin_assets", name)?, name)?
        .iter()
        .enumerate()
    {
        let place = format!("{name}.margin_assets[{k}]");
        let m = dict(&m, &place)?;
        margin_assets.push(MarginAsset {
            asset: get(&m, "asset", &place)?,
            ratio: get(&m, "ratio", &place)?,
        });
    }
    let cfg = ExchangeConfig {
        markets,
        fee_rate: get(d, "fee_rate", name)?,
        insurance_fund: get(d, "insurance_fund", name)?,
        adl,
        partial,
        backstop: get(d, "backstop", name)?,
        trigger,
        margin_assets,
    };
    let place = format!("{name}.positions");
    let p = dict(&item(d, "positions", name)?, &place)?;
    let col = |k: &str| convert::column(&item(&p, k, &place)?, &format!("{place}.{k}"));
    let rows = PositionRows {
        account: u32_column(&item(&p, "account", &place)?, &format!("{place}.account"))?,
        market: u32_column(&item(&p, "market", &place)?, &format!("{place}.market"))?,
        size: col("size")?,
        entry: col("entry_price")?,
        margin: col("margin")?,
        cross: bool_column(&item(&p, "cross", &place)?, &format!("{place}.cross"))?,
        margin_asset: u32_column(
            &item(&p, "margin_asset", &place)?,
            &format!("{place}.margin_asset"),
        )?,
    };
    Exchange::new(cfg, &rows).map_err(|e| BindingError::Scenario(format!("{name}: {e}")))
}

/// `MM = N·MMR_n − cum_n` of each notional under the brackets `caps`/`mmr`, by the core's own
/// rule (the one the exchange liquidates with).
#[pyfunction]
#[pyo3(signature = (caps, mmr, notional))]
pub fn maintenance_margin<'py>(
    py: Python<'py>,
    caps: &Bound<'py, PyAny>,
    mmr: &Bound<'py, PyAny>,
    notional: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, numpy::PyArray1<f64>>> {
    use numpy::IntoPyArray;
    let b = Brackets::new(
        convert::column(caps, "caps")?,
        convert::column(mmr, "rates")?,
    )
    .map_err(BindingError::from)?;
    let n = convert::column(notional, "notional")?;
    Ok(n.iter()
        .map(|&x| b.maintenance_margin(x))
        .collect::<Vec<f64>>()
        .into_pyarray(py))
}
