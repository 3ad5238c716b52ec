"""The live plot panels, one per file; ALL_PANELS lists them in display order."""
from .base import Panel
from .decision_boundary import DecisionBoundaryPanel
from .distributions import DistributionsPanel
from .gamma_beta import GammaBetaPanel
from .running_stats import RunningStatsPanel
from .selectors import LayerUnitSelector
from .training_curves import TrainingCurvesPanel

ALL_PANELS = (TrainingCurvesPanel, DistributionsPanel, GammaBetaPanel, RunningStatsPanel,
              DecisionBoundaryPanel)

__all__ = ["ALL_PANELS", "DecisionBoundaryPanel", "DistributionsPanel", "GammaBetaPanel",
           "LayerUnitSelector", "Panel", "RunningStatsPanel", "TrainingCurvesPanel"]
