"""rjcoach: a practice coach for restorative-justice dialogue.

``rjcoach.analyze(text, context=None)`` codes one trainee message against the rubric;
``rjcoach.analyze_many(texts, contexts=None)`` does many in batches. The model loads on first use.
"""
from rjcoach.labels import FAMILIES, LABELS

__version__ = "0.1.0"
__all__ = ["FAMILIES", "LABELS", "Analysis", "Evidence", "analyze", "analyze_many", "__version__"]


def analyze(text, context=None):
    """Code one trainee utterance against the rubric (see :mod:`rjcoach.analyzer`)."""
    from rjcoach.analyzer import analyze as _analyze

    return _analyze(text, context)


def analyze_many(texts, contexts=None, batch_size=32, progress=False):
    """Analyse many utterances in batches; results are in input order."""
    from rjcoach.analyzer import analyze_many as _analyze_many

    return _analyze_many(texts, contexts, batch_size=batch_size, progress=progress)


def __getattr__(name):
    if name in ("Analysis", "Evidence"):
        from rjcoach import analysis

        return getattr(analysis, name)
    raise AttributeError(name)
