"""The plans: each a list of checks, in the order they run."""
from __future__ import annotations

from ..engine import Check
from . import dcr, discovery, fapi1, fapi2, ob_cbpii, ob_functional, ob_vrp

PLANS: dict[str, list[Check]] = {
    "discovery": discovery.CHECKS,
    "dcr": dcr.CHECKS,
    "fapi2": fapi2.CHECKS,
    "fapi1": fapi1.CHECKS,
    "ob-ais": ob_functional.AIS_CHECKS,
    "ob-pis": ob_functional.PIS_CHECKS,
    "ob-cbpii": ob_cbpii.CBPII_CHECKS,
    "ob-vrp": ob_vrp.VRP_CHECKS,
}
# Named in issue 13, not built yet: asking for one is an error, never a silent pass (every
# plan the issue names is built now).
PLANNED: tuple[str, ...] = ()


def checks_of(names: list[str]) -> list[Check]:
    if "all" in names:
        names = list(PLANS)
    unknown = [n for n in names if n not in PLANS]
    if unknown:
        planned = f"; planned: {', '.join(PLANNED)}" if PLANNED else ""
        raise ValueError(f"plan {', '.join(unknown)} is not built (built: "
                         f"{', '.join(PLANS)}{planned})")
    return [check for name in dict.fromkeys(names) for check in PLANS[name]]
