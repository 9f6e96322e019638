//! Families of forced sellers other than lending (perp exchanges, Maker vaults, funds): their
//! spec dicts (built by `deleverage.scenario`) into the core's types, and their final state out
//! as numpy columns.

use deleverage_core::auction::{Ilk, PriceCurve, Vaults};
use deleverage_core::engine::Engine;
use deleverage_core::family::Family;
use deleverage_core::fund::{Accounting, Funds, Rule};
use deleverage_core::perp::{
    AdlOrder, AdlRanking, Brackets, Exchange, ExchangeConfig, PartialRule, PerpMarket,
    PositionRows, Trigger,
};
use numpy::{IntoPyArray, PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert;
use crate::errors::{BindingError, BindingResult};
use crate::simulate::{dict, get, item, u32_column};

fn bool_column(obj: &Bound<'_, PyAny>, field: &str) -> BindingResult<Vec<bool>> {
    if let Ok(arr) = obj.cast::<PyArray1<bool>>() {
        return Ok(arr.readonly().as_array().iter().copied().collect());
    }
    obj.extract::<Vec<bool>>()
        .map_err(|e| BindingError::Scenario(format!("{field} must be a 1-D array of bool: {e}")))
}

fn list<'py>(obj: &Bound<'py, PyAny>, place: &str) -> BindingResult<Bound<'py, PyList>> {
    obj.cast::<PyList>()
        .cloned()
        .map_err(|_| BindingError::Scenario(format!("{place} must be a list")))
}

/// The `families` list of a scenario spec.
pub fn families(obj: &Bound<'_, PyAny>) -> BindingResult<Vec<Family>> {
    let mut out = Vec::new();
    for (k, f) in list(obj, "families")?.iter().enumerate() {
        let place = format!("families[{k}]");
        let d = dict(&f, &place)?;
        let kind: String = get(&d, "kind", &place)?;
        let name: String = get(&d, "name", &place)?;
        let fam = match kind.as_str() {
            "perps" => Family::Perps(perps(&d, &name)?),
            "funds" => Family::Funds(funds(&d, &name)?),
            "vaults" => Family::Vaults(vaults(&d, &name)?),
            other => {
                return Err(BindingError::Scenario(format!(
                    "{place}.kind must be perps, vaults or funds, got {other:?}"
                )));
            }
        };
        out.push(fam);
    }
    Ok(out)
}

fn perps(d: &Bound<'_, PyDict>, name: &str) -> BindingResult<Exchange> {
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
    let adl = match adl.as_str() {
        "bitmex" => AdlOrder::Ranked(AdlRanking::Bitmex),
        "binance" => AdlOrder::Ranked(AdlRanking::Binance),
        "pnl_ratio" => AdlOrder::Ranked(AdlRanking::PnlRatio),
        "size" => AdlOrder::Ranked(AdlRanking::Size),
        "dydx" => AdlOrder::Dydx,
        other => {
            return Err(BindingError::Scenario(format!(
                "{name}.adl must be bitmex, binance, pnl_ratio, size or dydx, got {other:?}"
            )));
        }
    };
    let trigger: String = get(d, "trigger", name)?;
    let trigger = match trigger.as_str() {
        "below" => Trigger::Below,
        "at_or_below" => Trigger::AtOrBelow,
        other => {
            return Err(BindingError::Scenario(format!(
                "{name}.trigger must be below or at_or_below, got {other:?}"
            )));
        }
    };
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
    let cfg = ExchangeConfig {
        markets,
        fee_rate: get(d, "fee_rate", name)?,
        insurance_fund: get(d, "insurance_fund", name)?,
        adl,
        partial,
        backstop: get(d, "backstop", name)?,
        trigger,
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
    };
    Exchange::new(cfg, &rows).map_err(|e| BindingError::Scenario(format!("{name}: {e}")))
}

fn funds(d: &Bound<'_, PyDict>, name: &str) -> BindingResult<Funds> {
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
    let accounting = match accounting.as_str() {
        "mark_to_market" => Accounting::MarkToMarket,
        "linear" => Accounting::Linear,
        other => {
            return Err(BindingError::Scenario(format!(
                "{name}.accounting must be mark_to_market or linear, got {other:?}"
            )));
        }
    };
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

fn vaults(d: &Bound<'_, PyDict>, name: &str) -> BindingResult<Vaults> {
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

/// The final state of every family, one dict each, in scenario order.
pub fn outputs<'py>(py: Python<'py>, engine: &Engine) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    let px = engine.oracle_prices();
    for f in engine.families() {
        let d = PyDict::new(py);
        match f {
            Family::Perps(x) => {
                d.set_item("kind", "perps")?;
                let t = x.table(px);
                let cols = PyDict::new(py);
                cols.set_item("account_id", t.account.into_pyarray(py))?;
                cols.set_item("asset", t.asset.into_pyarray(py))?;
                cols.set_item("size", t.size.into_pyarray(py))?;
                cols.set_item("entry_price", t.entry.into_pyarray(py))?;
                cols.set_item("mark", t.mark.into_pyarray(py))?;
                cols.set_item("wallet", t.wallet.into_pyarray(py))?;
                cols.set_item("equity", t.equity.into_pyarray(py))?;
                cols.set_item("maintenance_margin", t.maintenance_margin.into_pyarray(py))?;
                cols.set_item("liquidation_price", t.liquidation_price.into_pyarray(py))?;
                cols.set_item("bankruptcy_price", t.bankruptcy_price.into_pyarray(py))?;
                cols.set_item("status", t.status.into_pyarray(py))?;
                cols.set_item("liquidated_qty", t.liquidated_qty.into_pyarray(py))?;
                cols.set_item("adl_qty", t.adl_qty.into_pyarray(py))?;
                cols.set_item("absorbed_qty", t.absorbed_qty.into_pyarray(py))?;
                cols.set_item("realized_pnl", t.realized_pnl.into_pyarray(py))?;
                d.set_item("positions", cols)?;
                let l = x.ledger();
                let led = PyDict::new(py);
                led.set_item("insurance_fund", x.insurance_fund())?;
                led.set_item("fund_initial", l.fund_initial)?;
                led.set_item("fees", l.fees)?;
                led.set_item("deficits", l.deficits)?;
                led.set_item("adl_bankrupt_qty", l.adl_bankrupt_qty)?;
                led.set_item("adl_counterparty_qty", l.adl_counterparty_qty)?;
                led.set_item("adl_count", l.adl_count)?;
                led.set_item("adl_notional", l.adl_notional)?;
                led.set_item("realized_pnl", l.realized_pnl)?;
                led.set_item("venue_quote_out", l.venue_quote_out)?;
                led.set_item("withdrawn", l.withdrawn)?;
                led.set_item("backstop_wallet", l.backstop_wallet)?;
                led.set_item("unresolved_qty", l.unresolved_qty)?;
                led.set_item("bad_debt", l.bad_debt)?;
                let (size, cost) = x.backstop();
                led.set_item("backstop_size", size.to_vec().into_pyarray(py))?;
                led.set_item("backstop_cost", cost.to_vec().into_pyarray(py))?;
                led.set_item("wallets_total", x.wallets().iter().sum::<f64>())?;
                d.set_item("ledger", led)?;
            }
            Family::Funds(f) => {
                d.set_item("kind", "funds")?;
                let t = f.table(px);
                let cols = PyDict::new(py);
                cols.set_item("marketable_value", t.marketable_value.into_pyarray(py))?;
                cols.set_item("illiquid_value", t.illiquid_value.into_pyarray(py))?;
                cols.set_item("debt", t.debt.into_pyarray(py))?;
                cols.set_item("equity", t.equity.into_pyarray(py))?;
                cols.set_item("leverage", t.leverage.into_pyarray(py))?;
                let status: Vec<u8> = t.status.iter().map(|s| *s as u8).collect();
                cols.set_item("status", status.into_pyarray(py))?;
                cols.set_item("sold_notional", t.sold_notional.into_pyarray(py))?;
                cols.set_item("bought_notional", t.bought_notional.into_pyarray(py))?;
                cols.set_item("bad_debt", t.bad_debt.into_pyarray(py))?;
                d.set_item("funds", cols)?;
            }
            Family::Vaults(v) => {
                d.set_item("kind", "vaults")?;
                let t = v.table();
                let cols = PyDict::new(py);
                cols.set_item("account_id", t.owner.into_pyarray(py))?;
                cols.set_item("ilk", t.ilk.into_pyarray(py))?;
                cols.set_item("ink", t.ink.into_pyarray(py))?;
                cols.set_item("art", t.art.into_pyarray(py))?;
                cols.set_item("status", t.status.into_pyarray(py))?;
                cols.set_item(
                    "collateral_auctioned",
                    t.collateral_auctioned.into_pyarray(py),
                )?;
                cols.set_item(
                    "collateral_returned",
                    t.collateral_returned.into_pyarray(py),
                )?;
                cols.set_item("owe_recovered", t.owe_recovered.into_pyarray(py))?;
                cols.set_item("bad_debt", t.bad_debt.into_pyarray(py))?;
                d.set_item("vaults", cols)?;
                let now = f64::from(engine.current_step()) * engine.shared().step_seconds;
                let a = v.auction_table(now);
                let cols = PyDict::new(py);
                cols.set_item("account_id", a.owner.into_pyarray(py))?;
                cols.set_item("asset", a.asset.into_pyarray(py))?;
                cols.set_item("running", a.running.into_pyarray(py))?;
                cols.set_item("kick_step", a.kick_step.into_pyarray(py))?;
                cols.set_item("end_step", a.end_step.into_pyarray(py))?;
                cols.set_item("due", a.due.into_pyarray(py))?;
                cols.set_item("tab", a.tab0.into_pyarray(py))?;
                cols.set_item("lot", a.lot0.into_pyarray(py))?;
                cols.set_item("tab_left", a.tab_left.into_pyarray(py))?;
                cols.set_item("lot_left", a.lot.into_pyarray(py))?;
                cols.set_item("recovered", a.owe.into_pyarray(py))?;
                cols.set_item("sliced", a.sliced.into_pyarray(py))?;
                cols.set_item("returned", a.returned.into_pyarray(py))?;
                cols.set_item("bad_debt", a.bad_debt.into_pyarray(py))?;
                cols.set_item("coins", a.coins.into_pyarray(py))?;
                cols.set_item("redos", a.redos.into_pyarray(py))?;
                cols.set_item("price", a.price.into_pyarray(py))?;
                d.set_item("auctions", cols)?;
                let led = PyDict::new(py);
                led.set_item("keepers_paid", v.keepers_paid())?;
                led.set_item("keepers_received", v.keepers_received())?;
                led.set_item("coins_paid", v.coins_paid())?;
                d.set_item("ledger", led)?;
            }
        }
        out.append(d)?;
    }
    Ok(out)
}
