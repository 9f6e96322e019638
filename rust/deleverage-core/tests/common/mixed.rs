//! The mixed-family case of `conservation_mixed.rs`: one scenario that holds an Aave protocol, a
//! perp exchange, a Maker system and a fund group at once on shared assets (ETH spot, USDC,
//! ETH-PERP), the proptest strategies that draw it, and its run. `conservation_mixed.rs` alone
//! includes it, as `mod mixed` (no other test binary needs to compile it).

use deleverage_core::{
    AaveVersion, Accounting, Accounts, AdlOrder, AdlRanking, AnyVenue, AssetSpec, BookDynamics,
    Brackets, Channel, ConstantProductPool, Engine, Error, Exchange, ExchangeConfig, Execution,
    Family, Funds, Ilk, ImpactCurve, MarginAsset, OracleKind, Outage, OutageKind, OwnerSpec,
    PartialRule, Peg, PerpMarket, PositionRows, PriceCurve, QUOTE_MARGIN, QueueConfig, Rule,
    Scenario, StableSwapPool, Trigger, Vaults,
};
use proptest::prelude::*;

use crate::common::{
    aave_v3, asset, instant_path, lending_accounts, lending_family, linear_book, queue_config,
    reserve, scenario_of,
};

pub const ETH: usize = 0;
pub const USDC: usize = 1;
pub const PERP: usize = 2;
/// A liquid-staking token pegged to ETH, on its own stETH/ETH pool (issue 18).
pub const STETH: usize = 3;
/// Protocol ids in event rows: the lending protocol, then the families in scenario order.
pub const LENDING: u32 = 0;
pub const PERPS: u32 = 1;
pub const VAULTS: u32 = 2;
pub const FUNDS: u32 = 3;
/// Account ids of perp traders (one per position row) and of funds, apart from vault owners.
pub const TRADER0: u32 = 1_000;
pub const FUND0: u32 = 5_000;

/// One venue for an asset at 100: a linear order book or a linear impact curve.
#[derive(Debug, Clone)]
pub enum VenueSpec {
    Book {
        depth: f64,
        half_life: Option<f64>,
        theta: f64,
    },
    Curve {
        slope: f64,
        execution: Execution,
    },
}

impl VenueSpec {
    pub fn build(&self) -> AnyVenue {
        match *self {
            VenueSpec::Book {
                depth,
                half_life,
                theta,
            } => linear_book(
                depth,
                100.0,
                0.5,
                150,
                BookDynamics {
                    resilience_half_life: half_life,
                    permanent_impact: theta,
                },
            )
            .into(),
            VenueSpec::Curve { slope, execution } => {
                ImpactCurve::linear(100.0, slope, execution).unwrap().into()
            }
        }
    }

    /// A curve at `price` like this one (the whole state of a single-curve market), to replay a
    /// fill row against.
    pub fn curve_at(&self, price: f64) -> Option<ImpactCurve> {
        match *self {
            VenueSpec::Curve { slope, execution } => {
                Some(ImpactCurve::linear(price, slope, execution).unwrap())
            }
            VenueSpec::Book { .. } => None,
        }
    }
}

pub fn venue() -> impl Strategy<Value = VenueSpec> {
    let book = (1.0f64..40.0, prop::option::of(30.0f64..600.0), 0.0f64..0.3).prop_map(
        |(depth, half_life, theta)| VenueSpec::Book {
            depth,
            half_life,
            theta,
        },
    );
    let execution = prop_oneof![
        Just(Execution::Integral),
        (0.0f64..=1.0).prop_map(|alpha| Execution::Weighted { alpha }),
    ];
    let curve = (1e-7f64..2e-5, execution)
        .prop_map(|(slope, execution)| VenueSpec::Curve { slope, execution });
    prop_oneof![book, curve]
}

/// A perp position: side (+1/−1), size, entry, leverage, cross margin.
pub type Pos = (f64, f64, f64, f64, bool);

#[derive(Debug, Clone)]
pub struct PerpSpec {
    pub positions: Vec<Pos>,
    pub mmr: f64,
    pub two_brackets: bool,
    pub fee_rate: f64,
    pub fund: f64,
    pub adl: AdlOrder,
    pub partial: Option<PartialRule>,
    pub backstop: bool,
    pub trigger: Trigger,
    /// Per position: whether its margin is stETH (cross rows only; issue 18), and stETH's
    /// collateral value ratio.
    pub in_steth: Vec<bool>,
    pub steth_ratio: f64,
}

/// Quote value of one stETH at the start (stETH is pegged to ETH at 1, ETH is at 100).
pub const STETH_PRICE: f64 = 100.0;

pub fn perp() -> impl Strategy<Value = PerpSpec> {
    let pos = (
        prop::bool::ANY,
        0.2f64..20.0,
        -0.05f64..0.05,
        1.5f64..30.0,
        prop::bool::ANY,
    )
        .prop_map(|(long, q, d, lev, cross)| {
            (
                if long { 1.0 } else { -1.0 },
                q,
                100.0 * (1.0 + d),
                lev,
                cross,
            )
        });
    let adl = prop_oneof![
        Just(AdlOrder::Ranked(AdlRanking::Bitmex)),
        Just(AdlOrder::Ranked(AdlRanking::Binance)),
        Just(AdlOrder::Ranked(AdlRanking::PnlRatio)),
        Just(AdlOrder::Ranked(AdlRanking::Size)),
        Just(AdlOrder::Dydx),
    ];
    let partial = prop::option::of(
        (0.0f64..1_500.0, 0.1f64..=1.0, 0.0f64..60.0, prop::bool::ANY).prop_map(
            |(threshold, fraction, cooldown, repeat)| PartialRule {
                threshold,
                fraction,
                cooldown,
                repeat,
            },
        ),
    );
    (
        prop::collection::vec(pos, 2..10),
        0.005f64..0.04,
        prop::bool::ANY,
        prop_oneof![Just(0.0), 0.0f64..0.02, Just(f64::INFINITY)],
        prop_oneof![Just(0.0), 0.0f64..300.0],
        adl,
        partial,
        prop::bool::ANY,
        prop_oneof![Just(Trigger::Below), Just(Trigger::AtOrBelow)],
        (prop::collection::vec(prop::bool::ANY, 10), 0.5f64..=1.0),
    )
        .prop_map(
            |(
                mut positions,
                mmr,
                two_brackets,
                fee_rate,
                fund,
                adl,
                partial,
                backstop,
                trigger,
                (steth, steth_ratio),
            )| {
                // Both sides present, so that ADL has counterparties.
                positions[0].0 = 1.0;
                positions[1].0 = -1.0;
                PerpSpec {
                    mmr,
                    two_brackets,
                    fee_rate,
                    fund,
                    adl,
                    partial,
                    backstop,
                    trigger,
                    in_steth: (0..positions.len())
                        .map(|j| steth[j] && positions[j].4)
                        .collect(),
                    positions,
                    steth_ratio,
                }
            },
        )
}

impl PerpSpec {
    /// Position `j`'s margin in quote at the start (`q·entry/leverage`).
    pub fn quote_margin(&self, j: usize) -> f64 {
        let x = self.positions[j];
        x.1 * x.2 / x.3
    }

    pub fn build(&self) -> Exchange {
        let brackets = if self.two_brackets {
            Brackets::new(vec![500.0, f64::INFINITY], vec![self.mmr, 2.0 * self.mmr]).unwrap()
        } else {
            Brackets::new(vec![f64::INFINITY], vec![self.mmr]).unwrap()
        };
        let p = &self.positions;
        let rows = PositionRows {
            account: (0..p.len() as u32).map(|r| TRADER0 + r).collect(),
            market: vec![0; p.len()],
            size: p.iter().map(|x| x.0 * x.1).collect(),
            entry: p.iter().map(|x| x.2).collect(),
            margin: (0..p.len())
                .map(|j| self.quote_margin(j) / if self.in_steth[j] { STETH_PRICE } else { 1.0 })
                .collect(),
            cross: p.iter().map(|x| x.4).collect(),
            margin_asset: self
                .in_steth
                .iter()
                .map(|&s| if s { 0 } else { QUOTE_MARGIN })
                .collect(),
        };
        Exchange::new(
            ExchangeConfig {
                markets: vec![PerpMarket {
                    asset: PERP as u32,
                    brackets,
                }],
                fee_rate: self.fee_rate,
                insurance_fund: self.fund,
                adl: self.adl,
                partial: self.partial,
                backstop: self.backstop,
                trigger: self.trigger,
                margin_assets: vec![MarginAsset {
                    asset: STETH as u32,
                    ratio: self.steth_ratio,
                }],
            },
            &rows,
        )
        .unwrap()
    }
}

#[derive(Debug, Clone)]
pub struct VaultSpec {
    pub hole: f64,
    pub dirt: f64,
    pub ilk: Ilk,
    /// ink, collateralisation ink·spot/(art·rate) at the initial price.
    pub vaults: Vec<(f64, f64)>,
}

pub fn vaults() -> impl Strategy<Value = VaultSpec> {
    let curve = prop_oneof![
        (300.0f64..3_000.0).prop_map(|tau| PriceCurve::Linear { tau }),
        (12.0f64..90.0, 0.85f64..0.99)
            .prop_map(|(step, cut)| PriceCurve::StairstepExponential { step, cut }),
        (0.99f64..0.9995).prop_map(|cut| PriceCurve::Exponential { cut }),
    ];
    let ilk = (
        1.0f64..1.1,
        1.0f64..1.2,
        0.0f64..60.0,
        prop_oneof![Just(f64::INFINITY), 500.0f64..10_000.0],
        0.0f64..300.0,
        1.0f64..1.3,
        curve,
        prop_oneof![Just(f64::INFINITY), 120.0f64..3_600.0],
        0.2f64..0.6,
        0.0f64..0.01,
        0.0f64..10.0,
    )
        .prop_map(
            |(rate, chop, dust, hole, dirt, buf, curve, tail, cusp, chip, tip)| Ilk {
                asset: ETH as u32,
                mat: 1.5,
                rate,
                chop,
                dust,
                hole,
                dirt: dirt.min(0.5 * hole),
                buf,
                curve,
                tail,
                cusp,
                chip,
                tip,
            },
        );
    (
        prop_oneof![Just(f64::INFINITY), 1_000.0f64..20_000.0],
        0.0f64..300.0,
        ilk,
        prop::collection::vec((0.5f64..20.0, 1.0f64..1.8), 1..8),
    )
        .prop_map(|(hole, dirt, ilk, vaults)| VaultSpec {
            hole,
            dirt: dirt.min(0.5 * hole),
            ilk,
            vaults,
        })
}

impl VaultSpec {
    pub fn ink(&self) -> Vec<f64> {
        self.vaults.iter().map(|v| v.0).collect()
    }
    pub fn art(&self) -> Vec<f64> {
        let spot = 100.0 / self.ilk.mat;
        self.vaults
            .iter()
            .map(|&(ink, cr)| ink * spot / (cr * self.ilk.rate))
            .collect()
    }
    pub fn build(&self) -> Vaults {
        let n = self.vaults.len() as u32;
        Vaults::new(
            self.hole,
            self.dirt,
            vec![self.ilk],
            (0..n).collect(),
            vec![0; n as usize],
            self.ink(),
            self.art(),
        )
        .unwrap()
    }
}

#[derive(Debug, Clone)]
pub struct FundSpec {
    /// ETH units and leverage at the initial price.
    pub funds: Vec<(f64, f64)>,
    pub rule: Rule,
}

/// Funds start near the leverage their rule aims at, and target funds are small and little
/// levered: a target fund buys into its own price impact, and with λ*·ℓ·H large that feedback
/// has no bound (GLT's ρ(K) ≥ 1); the engine then stops the run with `Error::Diverged`.
pub fn funds() -> impl Strategy<Value = FundSpec> {
    let rule = prop_oneof![
        (3.0f64..20.0, 0.8f64..1.0).prop_map(|(lambda_max, f)| Rule::Threshold {
            lambda_max,
            lambda_b: (lambda_max * f).max(1.0),
        }),
        (1.5f64..4.0).prop_map(|l| Rule::Target { leverage: Some(l) }),
        Just(Rule::Target { leverage: None }),
    ];
    (
        prop::collection::vec((5.0f64..150.0, 0.6f64..1.05), 1..5),
        rule,
    )
        .prop_map(|(funds, rule)| {
            let (base, size) = match rule {
                Rule::Threshold { lambda_max, .. } => (lambda_max, 1.0),
                Rule::Target { leverage: Some(l) } => (l, 0.3),
                Rule::Target { leverage: None } => (3.0, 0.3),
            };
            let funds = funds
                .into_iter()
                .map(|(u, f)| (u * size, (base * f).max(1.2)))
                .collect();
            FundSpec { funds, rule }
        })
}

impl FundSpec {
    pub fn units(&self) -> Vec<f64> {
        self.funds
            .iter()
            .flat_map(|f| [f.0, 0.0, 0.0, 0.0])
            .collect()
    }
    pub fn debt(&self) -> Vec<f64> {
        self.funds
            .iter()
            .map(|&(u, lev)| u * 100.0 * (1.0 - 1.0 / lev))
            .collect()
    }
    pub fn build(&self) -> Funds {
        Funds::new(
            self.units(),
            4,
            vec![],
            vec![],
            self.debt(),
            self.rule,
            Accounting::MarkToMarket,
        )
        .unwrap()
        .with_first_account(FUND0)
    }
}

#[derive(Debug, Clone)]
pub struct Case {
    pub aave: AaveVersion,
    /// ETH and stETH collateral, USDC debt.
    pub accounts: Vec<(f64, f64, f64)>,
    /// stETH: its redemption and mint channels, whether Aave reads it at the peg, and a
    /// slashing (a return on its peg).
    pub lst: LstSpec,
    pub eth: VenueSpec,
    pub perp_venue: VenueSpec,
    pub perp_oracle: OracleKind,
    pub perp: PerpSpec,
    pub vaults: VaultSpec,
    pub funds: FundSpec,
    pub queue: QueueConfig,
    pub shock: f64,
    pub steps: usize,
    /// An owner of lending account 0 and perp trader 0 (issue 18): cash, margin buffer,
    /// target health.
    pub owner: Option<(f64, Option<f64>, Option<f64>)>,
    /// Outages over the run (issue 18): liquidators out, ETH's oracle frozen, ETH's, the perp
    /// market's or stETH's only venue halted, stETH's redemptions paused, a sequencer down with
    /// a grace period.
    pub outages: Vec<Outage>,
}

fn outage() -> impl Strategy<Value = Outage> {
    let kind = prop_oneof![
        Just(OutageKind::Liquidators),
        Just(OutageKind::OracleFreeze { asset: ETH as u32 }),
        Just(OutageKind::VenueHalt {
            asset: ETH as u32,
            venue: 0
        }),
        Just(OutageKind::VenueHalt { asset: 2, venue: 0 }),
        Just(OutageKind::VenueHalt {
            asset: STETH as u32,
            venue: 0
        }),
        Just(OutageKind::RedemptionPause {
            asset: STETH as u32
        }),
        (0u32..3).prop_map(|grace_steps| OutageKind::Sequencer { grace_steps }),
    ];
    (kind, 0u32..5, 1u32..4).prop_map(|(kind, start, len)| Outage {
        kind,
        start,
        end: start + len,
    })
}

#[derive(Debug, Clone)]
pub struct LstSpec {
    /// The stETH/ETH pool: StableSwap with this amplification, or constant-product.
    pub amplification: Option<f64>,
    pub redeem: Option<Channel>,
    pub mint: Option<Channel>,
    pub read_at_peg: bool,
    pub slashing: f64,
}

impl LstSpec {
    /// stETH, pegged to ETH at 1 on its pool of 500 + 500, read at its routed mid.
    pub fn asset(&self) -> AssetSpec {
        let pool = match self.amplification {
            Some(amp) => StableSwapPool::new(vec![500.0, 500.0], amp, 0.0004, 0.5)
                .unwrap()
                .into(),
            None => ConstantProductPool::new(500.0, 500.0, 0.003)
                .unwrap()
                .into(),
        };
        let mut steth = asset("stETH", 1.0, vec![pool], OracleKind::Spot);
        steth.peg = Some(Peg {
            underlying: Some(ETH as u32),
            redeem: self.redeem,
            mint: self.mint,
        });
        steth
    }
}

fn channel() -> impl Strategy<Value = Option<Channel>> {
    prop_oneof![
        1 => Just(None),
        2 => (0.0f64..50.0, 0u32..3, 0.0f64..0.01)
            .prop_map(|(capacity, delay, fee)| Some(Channel { capacity, delay, fee })),
    ]
}

fn lst() -> impl Strategy<Value = LstSpec> {
    (
        prop::option::of(1.0f64..200.0),
        channel(),
        channel(),
        any::<bool>(),
        prop_oneof![Just(0.0), -0.1f64..0.0],
    )
        .prop_map(
            |(amplification, redeem, mint, read_at_peg, slashing)| LstSpec {
                amplification,
                redeem,
                mint,
                read_at_peg,
                slashing,
            },
        )
}

pub fn case() -> impl Strategy<Value = Case> {
    let queue = queue_config(
        prop_oneof![2 => Just(f64::INFINITY), 1 => 2_000.0f64..50_000.0],
        prop_oneof![2 => Just(u64::MAX), 1 => 1u64..20],
        prop_oneof![Just(0.0), 0.0f64..0.05],
    );
    let account = (
        0.1f64..30.0,
        prop_oneof![Just(0.0), 0.1f64..20.0],
        1.0f64..1.8,
    )
        .prop_map(|(c, s, hf)| (c, s, (c + s) * 100.0 * 0.8 / hf));
    let aave = prop_oneof![Just(AaveVersion::V3_0), Just(AaveVersion::V3_3)];
    let perp_oracle = prop_oneof![
        Just(OracleKind::Reference),
        (0.0f64..=1.0).prop_map(|weight| OracleKind::Blend { weight }),
    ];
    (
        (aave, prop::collection::vec(account, 1..12)),
        venue(),
        venue(),
        perp_oracle,
        perp(),
        vaults(),
        funds(),
        queue,
        -0.4f64..-0.05,
        2usize..6,
        prop_oneof![2 => Just(Vec::new()), 1 => prop::collection::vec(outage(), 1..4)],
        (
            lst(),
            prop::option::of((
                0.0f64..5_000.0,
                prop::option::of(0.0f64..0.5),
                prop::option::of(1.05f64..2.0),
            )),
        ),
    )
        .prop_map(
            |(
                (aave, accounts),
                eth,
                perp_venue,
                perp_oracle,
                perp,
                vaults,
                funds,
                queue,
                shock,
                steps,
                outages,
                (lst, owner),
            )| Case {
                aave,
                accounts,
                eth,
                perp_venue,
                perp_oracle,
                perp,
                vaults,
                funds,
                queue,
                shock,
                steps,
                outages,
                lst,
                owner,
            },
        )
}

/// The engine after the case's run, the initial accounts, and whether a runaway target group
/// stopped the run inside a step (whose step rows were then not written).
pub fn run(c: &Case) -> (Engine, Accounts, bool) {
    let (sc, accounts) = scenario(c);
    let mut e = Engine::new(sc, 11).unwrap();
    let stopped = match e.run(&path(c), 120, || false) {
        Ok(()) => false,
        // Target funds whose own purchases feed back with a gain of 1 or more (the generator
        // draws a few) stop the run; every action recorded up to there must still balance.
        Err(Error::Diverged { .. }) => true,
        Err(other) => panic!("{other}"),
    };
    (e, accounts, stopped)
}

/// The case's reference path: its shock to ETH and the perp, its slashing of stETH.
pub fn path(c: &Case) -> Vec<f64> {
    instant_path(
        vec![c.shock, 0.0, c.shock, c.lst.slashing],
        &[100.0, 1.0, 100.0, 1.0],
        c.steps,
    )
}

/// The case's scenario (all four families on one market) and its initial lending accounts.
pub fn scenario(c: &Case) -> (Scenario, Accounts) {
    let accounts = lending_accounts(
        &[ETH as u32, USDC as u32, STETH as u32],
        c.accounts
            .iter()
            .flat_map(|&(e, s, _)| [e, 0.0, s])
            .collect(),
        c.accounts
            .iter()
            .flat_map(|&(_, _, u)| [0.0, u, 0.0])
            .collect(),
        4,
    );
    let lending = aave_v3(
        c.aave,
        vec![
            reserve(0.8, 0.05, 0.1),
            reserve(0.0, 0.0, 0.1),
            reserve(0.0, 0.0, 0.1),
            reserve(0.8, 0.05, 0.1),
        ],
    );
    let steth = c.lst.asset();
    let sc = scenario_of(
        vec![
            asset("ETH", 100.0, vec![c.eth.build()], OracleKind::Spot),
            asset("USDC", 1.0, vec![], OracleKind::Reference),
            asset("ETH-PERP", 100.0, vec![c.perp_venue.build()], c.perp_oracle),
            steth,
        ],
        vec![
            lending_family(vec![lending], accounts.clone()),
            Family::Perps(c.perp.build()),
            Family::Vaults(c.vaults.build()),
            Family::Funds(c.funds.build()),
        ],
        c.queue,
    );
    let mut sc = sc;
    // A redemption pause needs a redemption channel.
    sc.outages = c
        .outages
        .iter()
        .filter(|o| c.lst.redeem.is_some() || !matches!(o.kind, OutageKind::RedemptionPause { .. }))
        .copied()
        .collect();
    if let Some((cash, margin_buffer, target_health)) = c.owner {
        sc.owners = vec![OwnerSpec {
            cash,
            margin_buffer,
            target_health,
        }];
        let mut owner_of = vec![u32::MAX; TRADER0 as usize + 1];
        owner_of[0] = 0;
        owner_of[TRADER0 as usize] = 0;
        sc.owner_of = owner_of;
    }
    if c.lst.read_at_peg {
        // Lending and the perp exchange (stETH margin) read stETH at its peg.
        sc.reads_peg = vec![vec![STETH as u32], vec![STETH as u32], vec![], vec![]];
    }
    (sc, accounts)
}
