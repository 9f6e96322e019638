"""Downtime and outages as scenario events (issue 18): an oracle that freezes, liquidators who do
not act (congestion, as on Black Thursday), an L2 sequencer that goes down and comes back
with a grace period under Aave's PriceOracleSentinel (MECHANICS §2.11), a venue that halts, and a
pegged asset's redemption channel that pauses. Each holds over the steps ``start`` to ``end``
(``end`` excluded) and shows in the steps frame (``oracle_frozen``, ``liquidators_out``,
``sequencer``, ``venues_halted``, ``redemption_paused``). Add them with
:meth:`Scenario.with_outages <deleverage.Scenario.with_outages>`.

Examples
--------
>>> import deleverage as dl
>>> sc = dl.examples.eth_lending(n_accounts=200, steps=12)
>>> sc = sc.with_outages(dl.Outage.liquidators(start=0, end=3))
>>> res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.25), max_extra_steps=0)
>>> res.steps.filter(asset="ETH")["liquidators_out"].to_list()[:4]
[True, True, True, False]
>>> int(res.events.filter(step=0).height)  # nobody liquidates during the outage
0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from deleverage._checks import whole
from deleverage.exceptions import ScenarioError

__all__ = ["Outage"]

OutageKind = Literal["oracle_freeze", "liquidators", "sequencer", "venue_halt", "redemption_pause"]
_KINDS = ("oracle_freeze", "liquidators", "sequencer", "venue_halt", "redemption_pause")
_WITH_ASSET = ("oracle_freeze", "venue_halt", "redemption_pause")


@dataclass(frozen=True)
class Outage:
    """One outage over the steps ``start`` to ``end`` (``end`` excluded; the core checks that
    it comes after ``start``). Build it with :meth:`oracle_freeze`, :meth:`liquidators`,
    :meth:`sequencer`, :meth:`venue_halt` or :meth:`redemption_pause`.

    Examples
    --------
    >>> import deleverage as dl
    >>> dl.Outage.sequencer(start=10, end=20, grace_steps=5).kind
    'sequencer'
    """

    kind: OutageKind
    start: int
    end: int
    asset: str | None = None
    grace_steps: int = 0
    venue: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ScenarioError(
                "outage kind must be oracle_freeze, liquidators, sequencer, venue_halt or "
                "redemption_pause, "
                f"got {self.kind!r}"
            )
        object.__setattr__(self, "start", whole("outage start", self.start, low=0))
        object.__setattr__(self, "end", whole("outage end", self.end, low=0))
        object.__setattr__(
            self, "grace_steps", whole("outage grace_steps", self.grace_steps, low=0)
        )
        object.__setattr__(self, "venue", whole("outage venue", self.venue, low=0))
        if self.kind in _WITH_ASSET and not isinstance(self.asset, str):
            what = {
                "oracle_freeze": "an oracle freeze",
                "venue_halt": "a venue halt",
                "redemption_pause": "a redemption pause",
            }[self.kind]
            raise ScenarioError(f"{what} names its asset, got {self.asset!r}")

    @classmethod
    def oracle_freeze(cls, asset: str, start: int, end: int) -> Outage:
        """``asset``'s oracle holds its value over the outage (every kind of oracle: a push feed
        that stops publishing, a stuck TWAP).

        Examples
        --------
        >>> import deleverage as dl
        >>> dl.Outage.oracle_freeze("ETH", start=2, end=5).asset
        'ETH'
        """
        return cls("oracle_freeze", start, end, asset=asset)

    @classmethod
    def liquidators(cls, start: int, end: int) -> Outage:
        """No liquidator or keeper acts over the outage (their budget is zero): lending
        liquidations and absorbs, Comet's storefront and Maker's takes wait. Maker's barks
        (which start auctions), a perp exchange's own liquidation engine and the funds' rules go
        on.

        Examples
        --------
        >>> import deleverage as dl
        >>> dl.Outage.liquidators(start=0, end=10).end
        10
        """
        return cls("liquidators", start, end)

    @classmethod
    def sequencer(cls, start: int, end: int, grace_steps: int) -> Outage:
        """An L2 sequencer down over the outage, then up with a grace period of ``grace_steps``:
        over both, Aave protocols whose release checks the PriceOracleSentinel (3.0–3.6)
        liquidate only accounts below health factor 0.95 (MECHANICS §2.11). Add a
        :meth:`liquidators` or :meth:`oracle_freeze` outage over the same steps if nothing else
        lands on the chain either.

        Examples
        --------
        >>> import deleverage as dl
        >>> dl.Outage.sequencer(start=10, end=20, grace_steps=5).grace_steps
        5
        """
        return cls("sequencer", start, end, grace_steps=grace_steps)

    @classmethod
    def venue_halt(cls, asset: str, start: int, end: int, venue: int = 0) -> Outage:
        """Venue ``venue`` of ``asset`` (its index in the asset's ``venues``) accepts no orders
        over the outage: an exchange that halts trading, a pool paused by its guardian. Forced
        sales route to the asset's other venues, or do not fill at all (the liquidators keep
        what they seized). The halted venue quotes nothing, so the asset's mid comes from the
        others (it is held when none is left), and it is not kept up (no refill, no arbitrage)
        until it resumes; a book that resumes takes the permanent impact the other venues made
        meanwhile.

        Examples
        --------
        >>> import deleverage as dl
        >>> dl.Outage.venue_halt("ETH", start=0, end=5, venue=1).venue
        1
        """
        return cls("venue_halt", start, end, asset=asset, venue=venue)

    @classmethod
    def redemption_pause(cls, asset: str, start: int, end: int) -> Outage:
        """The redemption channel of pegged asset ``asset`` (see :class:`deleverage.Peg`) is
        paused over the outage: no new redemption, and nothing queued is paid out until it
        ends (a withdrawal queue whose finalisation stops, a stablecoin's redeem switched off).
        Minting goes on. The asset must have a redemption channel.

        Examples
        --------
        >>> import deleverage as dl
        >>> dl.Outage.redemption_pause("stETH", start=0, end=20).kind
        'redemption_pause'
        """
        return cls("redemption_pause", start, end, asset=asset)

    def _spec(self, asset_names: list[str]) -> dict[str, Any]:
        spec: dict[str, Any] = {"kind": self.kind, "start": self.start, "end": self.end}
        if self.kind in _WITH_ASSET:
            if self.asset not in asset_names:
                raise ScenarioError(
                    f"outage asset must be one of the scenario's assets {asset_names}, "
                    f"got {self.asset!r}"
                )
            spec["asset"] = asset_names.index(self.asset)
        if self.kind == "sequencer":
            spec["grace_steps"] = self.grace_steps
        if self.kind == "venue_halt":
            spec["venue"] = self.venue
        return spec
