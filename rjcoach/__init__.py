"""rjcoach: a practice coach for restorative-justice dialogue."""
from rjcoach.labels import FAMILIES, LABELS

__version__ = "0.1.0"
__all__ = ["FAMILIES", "LABELS", "__version__"]
