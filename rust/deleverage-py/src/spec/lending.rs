//! The lending family's dict of a scenario spec: the protocol instances (`protocols`) and the
//! accounts' holdings (`accounts`, CSR columns) into the core's [`LendingMarket`].

use deleverage_core::{AaveVersion, AccountColumns, Lending, LendingMarket, Reserve, Rules};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::{self, borrowed, dict, get, item, u32_column};
use crate::errors::{BindingError, BindingResult};

/// The lending family's dict of a spec (possibly without protocols or accounts).
pub fn market(spec: &Bound<'_, PyDict>, n_assets: usize) -> BindingResult<LendingMarket> {
    let place = "lending";
    let protocols = protocols(&item(spec, "protocols", place)?, n_assets)?;
    let acc = dict(&item(spec, "accounts", place)?, "accounts")?;
    // Read where they are (numpy arrays of the spec): laid out into the engine's one copy.
    let col = |name: &str| item(&acc, name, "accounts");
    let protocol = borrowed(&col("protocol")?, "accounts.protocol", u32_column)?;
    let offsets = borrowed(&col("offsets")?, "accounts.offsets", u32_column)?;
    let asset = borrowed(&col("asset")?, "accounts.asset", u32_column)?;
    let collateral = borrowed(&col("collateral")?, "accounts.collateral", convert::column)?;
    let debt = borrowed(&col("debt")?, "accounts.debt", convert::column)?;
    let columns = AccountColumns {
        protocol: protocol.slice("accounts.protocol")?,
        offsets: offsets.slice("accounts.offsets")?,
        asset: asset.slice("accounts.asset")?,
        collateral: collateral.slice("accounts.collateral")?,
        debt: debt.slice("accounts.debt")?,
    };
    Ok(LendingMarket::from_columns(protocols, columns, n_assets)?)
}

fn protocols(list: &Bound<'_, PyAny>, n_assets: usize) -> BindingResult<Vec<Lending>> {
    let list = list
        .cast::<PyList>()
        .map_err(|_| BindingError::Scenario("protocols must be a list".to_owned()))?;
    let mut out = Vec::with_capacity(list.len());
    for (p, obj) in list.iter().enumerate() {
        let place = format!("protocols[{p}]");
        let d = dict(&obj, &place)?;
        let kind: String = get(&d, "kind", &place)?;
        let mut sentinel = false;
        let rules = match kind.as_str() {
            "aave_v3" => {
                let release: String = get(&d, "version", &place)?;
                let version = AaveVersion::from_release(&format!("{place}.version"), &release)?;
                sentinel = AaveVersion::checks_sentinel(&release);
                Rules::AaveV3 { version }
            }
            "compound_v2" => Rules::CompoundV2 {
                close_factor: get(&d, "close_factor", &place)?,
                incentive: get(&d, "liquidation_incentive", &place)?,
                protocol_seize_share: get(&d, "protocol_seize_share", &place)?,
            },
            "compound_v3" => Rules::CompoundV3 {
                base: get(&d, "base_asset", &place)?,
                store_front_price_factor: get(&d, "store_front_price_factor", &place)?,
                target_reserves: get(&d, "target_reserves", &place)?,
                reserves: get(&d, "initial_reserves", &place)?,
            },
            other => {
                return Err(BindingError::Scenario(format!(
                    "{place}.kind must be aave_v3, compound_v2 or compound_v3, got {other:?}"
                )));
            }
        };
        let listed: Vec<bool> = get(&d, "listed", &place)?;
        let col = |k: &str| convert::column(&item(&d, k, &place)?, &format!("{place}.{k}"));
        let (th, bonus, fee, lf) = (
            col("threshold")?,
            col("bonus")?,
            col("protocol_fee")?,
            col("liquidation_factor")?,
        );
        if [listed.len(), th.len(), bonus.len(), fee.len(), lf.len()]
            .iter()
            .any(|&l| l != n_assets)
        {
            return Err(BindingError::Scenario(format!(
                "{place}: reserve columns must have one entry per asset ({n_assets})"
            )));
        }
        let reserves = (0..n_assets)
            .map(|a| {
                listed[a].then_some(Reserve {
                    threshold: th[a],
                    bonus: bonus[a],
                    protocol_fee: fee[a],
                    liquidation_factor: lf[a],
                })
            })
            .collect();
        let mut lending = Lending::new(rules, reserves)?;
        lending.sentinel = sentinel;
        out.push(lending);
    }
    Ok(out)
}

/// Checks one protocol dict (as `Lending._spec` builds it over `n_assets` assets) against the
/// core's rules for its rule set, the configurators' bounds on every reserve included; raises
/// the core's error (a reserve's carries its row in `index` and its own message in `detail`).
#[pyfunction]
#[pyo3(signature = (protocol, n_assets))]
pub fn check_lending(protocol: &Bound<'_, PyDict>, n_assets: usize) -> PyResult<()> {
    let list = PyList::new(protocol.py(), [protocol])?;
    protocols(list.as_any(), n_assets)?;
    Ok(())
}
