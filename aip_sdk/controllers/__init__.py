"""Controllers: who decides how much compute each step gets."""

from aip_sdk.controllers.adaptive import (
    AdaptiveConsistency,
    EarlyStoppingSC,
    beta_stop_probability,
)
from aip_sdk.controllers.base import Controller
from aip_sdk.controllers.baseline import HeuristicBaseline
from aip_sdk.controllers.confidence import ConfidenceGate
from aip_sdk.controllers.fixed import FixedController, SelfConsistency
from aip_sdk.controllers.oracle import OracleController
from aip_sdk.controllers.spec import STRATEGIES, make_controller, parse_spec

__all__ = [
    "STRATEGIES",
    "AdaptiveConsistency",
    "ConfidenceGate",
    "Controller",
    "EarlyStoppingSC",
    "FixedController",
    "HeuristicBaseline",
    "OracleController",
    "SelfConsistency",
    "beta_stop_probability",
    "make_controller",
    "parse_spec",
]
