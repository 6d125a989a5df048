"""tao-automl: AutoML / hyperparameter optimization for NVIDIA TAO networks.

``from tao_automl.runner import AutoMLRunner`` is the entry point; the package layout follows the
data flow: skill -> space -> algorithms <-> runner <-> platforms -> metrics -> store -> report.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
