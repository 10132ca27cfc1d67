"""Learning from the user's corrections: reviewed regions → a fine-tuned model card (Qt-free)."""

from .adapted_card import adapted_card, save_adapted
from .examples import RegionExample, ReviewedSlide, count_nuclei, count_typed, prepare
from .finetune import AdaptResult, AdaptSettings, Score, adapt, measure

__all__ = ["AdaptResult", "AdaptSettings", "RegionExample", "ReviewedSlide", "Score", "adapt", "adapted_card", "count_nuclei", "count_typed",
           "measure", "prepare", "save_adapted"]
