"""The live plot panels, one per file; ALL_PANELS lists them in display order."""
from .base import Panel
from .compare import ComparePanel
from .decision_boundary import DecisionBoundaryPanel
from .distributions import DistributionsPanel
from .feature_maps import FeatureMapsPanel
from .gamma_beta import GammaBetaPanel
from .gradients import GradientsPanel
from .running_stats import RunningStatsPanel
from .selectors import LayerUnitSelector
from .lab import TestTimePanel
from .landscape import LandscapePanel
from .sweep import SweepPanel
from .training_curves import TrainingCurvesPanel

# Panels that show every run of compare mode; the others show one run.
EVERY_RUN_PANELS = ("compare_panel", "test_time_panel", "landscape_panel")
ALL_PANELS = (TrainingCurvesPanel, DistributionsPanel, GammaBetaPanel, RunningStatsPanel,
              DecisionBoundaryPanel, ComparePanel, GradientsPanel, TestTimePanel, FeatureMapsPanel, LandscapePanel, SweepPanel)

__all__ = ["ALL_PANELS", "EVERY_RUN_PANELS", "ComparePanel", "DecisionBoundaryPanel", "DistributionsPanel", "FeatureMapsPanel",
           "GammaBetaPanel", "GradientsPanel", "LandscapePanel", "LayerUnitSelector", "Panel", "RunningStatsPanel",
           "SweepPanel", "TestTimePanel", "TrainingCurvesPanel"]
