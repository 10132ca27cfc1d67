"""The model picker's behaviour: which cards are offered, what each is said to do (in plain
words, with the exact numbers on hover), and adding a card from a file."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from ..models.card import ModelCard, ModelError
from ..models.zoo import list_cards
from .context import FeatureContext
from .file_actions import FileActions

DATASETS = (("monuseg_test", "MoNuSeg"), ("crchisto_test", "CRCHisto"), ("consep_test", "CoNSeP"))


def _has_numbers(value, keys: tuple[str, ...]) -> bool:
    return isinstance(value, dict) and all(isinstance(value.get(k), (int, float)) for k in keys)


def detection_rows(measured) -> list[tuple[str, dict]]:
    """The (radius, counts) rows of one data set's metrics: a typing model's card also holds
    type results there, and a card from elsewhere may hold anything."""
    if not isinstance(measured, dict):
        return []
    return [(k, v) for k, v in measured.items() if _has_numbers(v, ("precision", "recall", "f1"))]


def type_results(measured) -> dict | None:
    """A typing model's type results in one data set's metrics (None when absent or malformed)."""
    types = measured.get("types") if isinstance(measured, dict) else None
    return types if _has_numbers(types, ("type_accuracy", "weighted_f1")) else None


def one_in(rate: float) -> str:
    """0.22 → 'about 1 in 5'."""
    if rate <= 0.02:
        return "almost none"
    return f"about 1 in {max(2, round(1 / rate))}"


def plain_words(card: ModelCard) -> str:
    """'Finds about 95 % of nuclei in MoNuSeg test; about 1 in 5 of its points is not a
    nucleus.' from the card's own measurements (field radius 3 µm first)."""
    lines = []
    for key, dataset in DATASETS:
        rows = detection_rows(card.metrics.get(key))
        if not rows:
            continue
        label, m = next(((k, v) for k, v in rows if "um" in k), rows[0])
        lines.append(f"Finds about {m['recall'] * 100:.0f} % of the nuclei in {dataset} test; {one_in(1 - m['precision'])} "
                     f"of its points is not a nucleus.")
    typed = [(dataset, t) for key, dataset in DATASETS if (t := type_results(card.metrics.get(key))) is not None]
    if card.architecture.types:
        said = " and ".join(f"{t['type_accuracy'] * 100:.0f} %" + (" of the nuclei it finds" if i == 0 else "") + f" in {dataset} test"
                            for i, (dataset, t) in enumerate(typed))
        names = card.architecture.types
        lines.append(f"Calls each nucleus {', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else f"Calls each nucleus {names[0]}")
        lines[-1] += f"; the type is right for about {said}." if said else "."
    adapted = card.metrics.get("adaptation_held_back") or {}
    if adapted.get("after"):
        b, a = adapted["before"], adapted["after"]
        adaptation = card.training.get("adaptation") or {}
        base = adaptation.get("base_title", "the base model")
        how = "Calibrated (weights unchanged)" if (adaptation.get("settings") or {}).get("tune") == "none" else "Adapted"
        lines.append(f"{how} from {base} on your reviewed regions: on a held-back part of them it finds "
                     f"{a['recall'] * 100:.0f} % of the nuclei (before: {b['recall'] * 100:.0f} %), "
                     f"{one_in(1 - a['precision'])} of its points is not a nucleus (before: {one_in(1 - b['precision'])}).")
    return " ".join(lines) or "Not yet measured on a test set."


def exact_numbers(card: ModelCard) -> str:
    lines = []
    for key, dataset in DATASETS:
        for label, m in detection_rows(card.metrics.get(key)):
            lines.append(f"{dataset} test, match radius {label.replace('r=', '').replace('um', ' µm').replace('@', ' at ')}: "
                         f"precision {m['precision']:.3f}, recall {m['recall']:.3f}, F1 {m['f1']:.3f} "
                         f"({m.get('tp', '?')} TP, {m.get('fp', '?')} FP, {m.get('fn', '?')} FN)")
        types = type_results(card.metrics.get(key))
        if types is not None:
            lines.append(f"{dataset} test, types over matched typed nuclei: accuracy {types['type_accuracy']:.3f}, "
                         f"weighted F1 {types['weighted_f1']:.3f}")
    if card.throughput:
        lines.append(f"Speed: {card.throughput.get('mpx40_per_s')} Mpx/s of 40× tissue on CPU ({card.throughput.get('threads')} threads)")
    return "\n".join(lines)


class ModelPicker(QObject):
    def __init__(self, ctx: FeatureContext, files: FileActions):
        super().__init__(ctx)
        self.ctx = ctx
        self.files = files  # where the card dialog opens
        panel = ctx.panel
        panel.addModelRequested.connect(self.add_model_file)
        panel.model_combo.currentIndexChanged.connect(self.describe)

    def reload(self, current: str | None = None) -> None:
        settings = self.ctx.settings
        cards = list_cards()
        for path in settings.value("extra_models", [], type=list) or []:
            try:
                cards.append(ModelCard.load(path))
            except ModelError:
                continue
        self.ctx.panel.set_cards(cards, current or settings.value("model", "fast"))
        self.describe()

    def describe(self) -> None:
        panel = self.ctx.panel
        card = panel.current_card()
        if card is None:
            panel.model_info.setText("No model found: add a model card (JSON).")
            panel.model_info.setToolTip("")
            return
        self.ctx.settings.setValue("model", card.name)
        panel.sensitivity.setValue(card.peaks.sensitivity)  # each model starts from its own calibrated setting
        panel.sensitivity.setEnabled(card.architecture.two_stage)
        head = f"<b>{card.title}</b> — {card.architecture.kind.upper()}, {card.mpp:g} µm/px"
        speed = f"{card.throughput.get('mpx40_per_s')} Mpx/s of 40× tissue on CPU" if card.throughput else ""
        panel.model_info.setText("<br>".join(x for x in (head, plain_words(card), speed) if x))
        panel.model_info.setToolTip(exact_numbers(card))

    def add_model_file(self) -> None:
        ctx = self.ctx
        path, _ = QFileDialog.getOpenFileName(ctx.host, "Add model card", self.files.folder("models"), "Model card (*.json)")
        if not path:
            return
        self.files.remember("models", path)
        try:
            card = ModelCard.load(path)
            card.load_model()  # verify sha256 and architecture now, not mid-run
        except ModelError as exc:
            ctx.error("Model not added", str(exc))
            return
        except Exception as exc:  # whatever a hostile card provokes, it stays a message
            ctx.error("Model not added", f"{path}: {type(exc).__name__}: {str(exc)[:300]}")
            return
        extra = ctx.settings.value("extra_models", [], type=list) or []
        if path not in extra:
            ctx.settings.setValue("extra_models", extra + [path])
        self.reload(card.name)
