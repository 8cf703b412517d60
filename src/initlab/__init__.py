"""initlab: show, measure and fix how a neural network's starting weights decide whether it learns.

The public API, re-exported from the modules that define it.
"""

from importlib.metadata import PackageNotFoundError, version

from . import (
    activations,
    datasets,
    diagnostics,
    engine,
    initializers,
    losses,
    meanfield,
    studies,
    sweep,
)
from ._random import check_random_state
from .activations import get_activation, list_activations
from .datasets import list_datasets, load_dataset
from .diagnostics import Diagnosis, collapse, diagnose
from .initializers import (
    calculate_gain,
    get_initializer,
    list_initializers,
    register_initializer,
)
from .models import DivergedWarning, LogisticRegression, MLPClassifier, Perceptron
from .studies import StudyResult, list_studies, run_study

# initlab.sweep is the subpackage (specs, store, execution); its function is initlab.sweep.sweep,
# exported here as initlab.run_sweep (a module cannot also be the function).
from .sweep.run import sweep as run_sweep


def __getattr__(name: str):
    # initlab.torch imports PyTorch, an optional extra: load it on first use, not with initlab.
    if name == "torch":
        import importlib

        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module 'initlab' has no attribute {name!r}")


try:
    __version__ = version("initlab")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = [
    "Diagnosis",
    "DivergedWarning",
    "LogisticRegression",
    "MLPClassifier",
    "Perceptron",
    "StudyResult",
    "__version__",
    "activations",
    "calculate_gain",
    "check_random_state",
    "collapse",
    "datasets",
    "diagnose",
    "diagnostics",
    "engine",
    "get_activation",
    "get_initializer",
    "initializers",
    "list_activations",
    "list_datasets",
    "list_initializers",
    "list_studies",
    "load_dataset",
    "losses",
    "meanfield",
    "register_initializer",
    "run_study",
    "run_sweep",
    "studies",
    "sweep",
]
