"""Learning from the user's corrections: reviewed regions → a fine-tuned model card (Qt-free).

The settings and the reviewed-slide record import without torch (the app builds them at
start); the training and measuring parts load on first use."""

from importlib import import_module

from .settings import TUNE_CHOICES, AdaptSettings

_LAZY = {"adapted_card": "adapted_card", "save_adapted": "adapted_card", "RegionExample": "examples", "ReviewedSlide": "examples",
         "count_nuclei": "examples", "count_typed": "examples", "prepare": "examples", "AdaptResult": "finetune", "Score": "finetune",
         "adapt": "finetune", "measure": "finetune"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AdaptResult", "AdaptSettings", "RegionExample", "ReviewedSlide", "Score", "TUNE_CHOICES", "adapt", "adapted_card", "count_nuclei",
           "count_typed", "measure", "prepare", "save_adapted"]
