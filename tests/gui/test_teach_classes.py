"""Train classifier in the Classes dock, as a pathologist does it: detect, select nuclei and
press a class's number, press *Train classifier*, read the counts and the accuracy in the
question, answer Yes; every other nucleus gets a class and a confidence, hand-set ones stay,
and Ctrl+Z takes it back in one step."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QMessageBox

sys.path.insert(0, str(Path(__file__).parents[1]))
from helpers import darkness  # noqa: E402
from user import click, detect_with, drag, key, launch, on_view, open_slide, press  # noqa: E402


def detected_sample(qtbot, dialogs, path):
    """The window with ``path`` open and detected by fast, and each nucleus' darkness and its
    thirds (dense above ``high``, pale below ``low``)."""
    window = launch(qtbot)
    open_slide(qtbot, window, dialogs, path)
    detect_with(qtbot, window, "fast")
    ids = window.store.ids()
    dark = darkness(path, window.store.coordinates(ids))
    low, high = np.quantile(dark, [1 / 3, 2 / 3])
    return window, ids, dark, low, high


def class_by_hand(qtbot, window, ids, number: int) -> None:
    """Select each nucleus with the mouse (S) and press the class's number key."""
    key(qtbot, window, "S")
    for nid in ids:
        x, y = window.store.coordinates(np.array([nid]))[0]
        click(qtbot, window.view.viewport(), on_view(window, x + 0.5, y + 0.5))
        key(qtbot, window, str(number))


def test_teach_two_classes_by_hand_and_class_the_rest(qtbot, person, sample_copy):
    dialogs = person
    window, ids, dark, low, high = detected_sample(qtbot, dialogs, sample_copy)
    store = window.store
    rng = np.random.default_rng(0)  # typical examples of each, as a pathologist picks them
    dense, pale = (rng.choice(ids[m], 15, replace=False) for m in (dark > high, dark < low))
    classes = window.classes.names
    for group, number in ((dense, 2), (pale, 3)):  # keys 2 and 3: the second and third classes of the list
        class_by_hand(qtbot, window, group, number)
    by_hand = [int(i) for i in store.ids() if (store.extras.get(int(i)) or {}).get("class_by_hand")]
    taught = dict(zip(by_hand, store.classes_of(np.array(by_hand))))
    assert len(taught) >= 25 and set(taught.values()) == {classes[1], classes[2]}

    asked = []
    dialogs.expect("Apply classifier", lambda d: (asked.append(d.text()), press(QMessageBox.StandardButton.Yes)(d)))
    click(qtbot, window.teach.button)
    qtbot.waitUntil(lambda: bool(asked) and not window.runs.busy, timeout=120000)
    dialogs.check()
    assert "cross-validated accuracy" in asked[0] and f"{classes[1]} " in asked[0]
    others = np.array([i for i in store.ids() if int(i) not in taught])
    got = store.classes_of(others)
    assert set(got) <= {classes[1], classes[2]}
    # the clearly dense and clearly pale others (outer thirds) follow the 30 examples; a
    # classifier that learned nothing would agree half the time (measured: 0.77-0.87 over seeds)
    d = darkness(sample_copy, store.coordinates(others))
    clear = (d < low) | (d > high)
    rule = np.where(d > high, classes[1], classes[2])
    agreement = float(np.mean(np.asarray(got)[clear] == rule[clear]))
    assert clear.sum() > 50 and agreement > 0.7, agreement
    assert dict(zip(taught, store.classes_of(np.array(list(taught))))) == taught  # hand-set classes stayed
    assert all(0.0 < store.extras[int(i)]["measurements"]["Class confidence"] <= 1.0 for i in others)
    assert "cross-validated accuracy" in window.teach.status.text() and f"{classes[1]} " in window.teach.status.toolTip()

    key(qtbot, window, "Ctrl+Z")  # one step back: the model's classes again
    assert set(store.classes_of(others)) == {"Nucleus"}
    assert not any("Class confidence" in ((store.extras.get(int(i)) or {}).get("measurements") or {}) for i in others)


def test_next_uncertain_nucleus_walks_from_the_least_certain(qtbot, person, sample_copy):
    """U centres the view on the least certain classed nucleus and selects it; a number key
    then sets its class by hand; U again goes to the next least certain."""
    dialogs = person
    window = launch(qtbot)
    assert window.open_slide(sample_copy)
    store = window.store
    key(qtbot, window, "U")  # nothing classed yet: said in the status bar, nothing selected
    assert "train the classifier" in window.statusBar().currentMessage() and not len(window.view.selection)
    xy = np.array([[40.0 + 30 * k, 60.0 + 20 * (k % 7)] for k in range(12)])
    ids = store.add_many(xy[:, 0], xy[:, 1], source="fast", scores=[0.9] * 12)
    confidence = [0.9, 0.55, 0.99, 0.61, 0.8, 0.7, 0.95, 0.52, 0.88, 0.66, 0.75, 0.97]
    for i, p in zip(ids, confidence):
        store.extras[int(i)] = {"measurements": {"Class confidence": p}}
    window.view.scale_by(4)
    seen = []
    for _ in range(3):
        key(qtbot, window, "U")
        (picked,) = window.view.selection.ids().tolist()
        seen.append(picked)
        centre = window.view.mapToScene(window.view.viewport().rect().center())
        x, y = store.coordinates([picked])[0]
        assert abs(centre.x() - x) < 3 and abs(centre.y() - y) < 3  # the view moved to it
    assert seen == [int(ids[7]), int(ids[1]), int(ids[3])]  # 0.52, 0.55, 0.61
    key(qtbot, window, "2")
    assert (store.extras[seen[-1]] or {}).get("class_by_hand")
    dialogs.check()


def test_train_across_the_project_learns_from_every_slide(qtbot, person, tmp_path, sample_tiff):
    """In a project, *Train classifier* also learns from the nuclei classed by hand on the
    project's other slides (read from their saved annotations): dense and pale ones classed on
    slide a, pale ones on slide b; on b, alone, one class cannot teach (said plainly, with the
    box unticked), while across the project both classes do, and b's other nuclei follow them.
    (Both classes on a: were each class on a slide of its own, a classifier telling the two
    slides apart would answer as well as one that learned darkness.)"""
    import shutil

    from user import choose_file, menu_action

    folder = tmp_path / "study"
    folder.mkdir()
    samples = sorted(sample_tiff.parent.glob("*.tif"))
    for name, source in zip("ab", samples[:2]):
        shutil.copy(source, folder / f"{name}.tif")
    dialogs = person
    window = launch(qtbot)
    dialogs.expect("folder of slides", choose_file(folder))
    menu_action(window, "File", "Open project (a folder of slides)…").trigger()
    dialogs.check()
    assert window.slide.path.name == "a.tif" and window.teach.across.isVisible() and window.teach.across.isChecked()
    store, classes = window.store, window.classes.names
    panel = window.panel
    panel.region_combo.setCurrentIndex(panel.region_combo.findData("slide"))

    def label(number: int, dense: bool, n: int) -> list[int]:
        """Select n typical dense (or pale) nuclei with the mouse and press the class's key."""
        ids = store.ids()
        dark = darkness(window.slide.path, store.coordinates(ids))
        low, high = np.quantile(dark, [1 / 3, 2 / 3])
        chosen = np.random.default_rng(number).choice(ids[dark > high] if dense else ids[dark < low], n, replace=False)
        class_by_hand(qtbot, window, chosen, number)
        return [int(i) for i in chosen]

    N = 20  # nuclei labelled in each class on each slide
    detect_with(qtbot, window, "fast")
    on_a = label(2, dense=True, n=N)
    pale_a = label(3, dense=False, n=N)
    assert set(store.classes_of(np.array(on_a))) == {classes[1]} and set(store.classes_of(np.array(pale_a))) == {classes[2]}
    key(qtbot, window, "PgDown")  # slide b; a's work is saved with it
    assert window.slide.path.name == "b.tif"
    detect_with(qtbot, window, "fast")
    on_b = label(3, dense=False, n=N)

    window.teach.across.click()  # this slide only: one class, nothing to learn
    dialogs.expect("Train classifier", press(QMessageBox.StandardButton.Ok))
    click(qtbot, window.teach.button)
    dialogs.wait_answered()
    assert "at least 3 nuclei of each of two classes" in dialogs.seen[-1] and not window.runs.busy

    window.teach.across.click()
    asked = []
    dialogs.expect("Apply classifier", lambda d: (asked.append(d.text()), press(QMessageBox.StandardButton.Yes)(d)))
    click(qtbot, window.teach.button)
    qtbot.waitUntil(lambda: bool(asked) and not window.runs.busy, timeout=120000)
    dialogs.check()
    assert "on 2 slides" in asked[0] and f"{classes[1]} {N}" in asked[0] and f"{classes[2]} {2 * N}" in asked[0], asked[0]
    card = window.teach.last_card
    assert card.trained_on == ["b.tif", "a.tif"] and card.counts == {classes[2]: 2 * N, classes[1]: N}
    others = np.array([i for i in store.ids() if int(i) not in on_b])
    got = np.asarray(store.classes_of(others))
    d = darkness(window.slide.path, store.coordinates(others))
    low, high = np.quantile(d, [1 / 3, 2 / 3])
    clear = (d < low) | (d > high)
    agreement = float(np.mean(got[clear] == np.where(d > high, classes[1], classes[2])[clear]))
    assert set(got) <= {classes[1], classes[2]} and clear.sum() > 50 and agreement > 0.7, agreement
    assert "on 2 slides" in window.teach.status.text()
    outside = tmp_path / "elsewhere" / "c.tif"  # a slide that is not the project's: its labels are not offered
    outside.parent.mkdir()
    shutil.copy(samples[0], outside)
    open_slide(qtbot, window, dialogs, outside)
    assert window.slide.path == outside and window.teach.across.isHidden()
    key(qtbot, window, "PgUp")  # back into the project
    assert window.slide.path.parent == folder and not window.teach.across.isHidden()
    if os.environ.get("WNET_SCREENSHOTS"):  # to look at on a real X server (Xvfb)
        window.view.fit()
        qtbot.wait(500)
        window.grab().save(str(Path(os.environ["WNET_SCREENSHOTS"]) / "taught-across-project.png"))


def test_a_retrain_reads_only_nuclei_added_or_moved_since(qtbot, person, sample_copy, monkeypatch):
    """Train, label the least certain nucleus (U, then its key), train again: the second training
    runs no detection pass (the features of every nucleus were kept); after a nucleus is moved
    (M, drag) the third reads that one alone — a retrain after a few labels takes the head's time."""
    import wnet_gui.classify.features as features

    read = []
    real = features.at_points
    monkeypatch.setattr(features, "at_points", lambda slide, card, xy, *a, **k: (read.append(len(xy)), real(slide, card, xy, *a, **k))[1])
    dialogs = person
    window, ids, dark, low, high = detected_sample(qtbot, dialogs, sample_copy)
    store = window.store
    for group, number in ((ids[dark > high][:8], 2), (ids[dark < low][:8], 3)):
        class_by_hand(qtbot, window, group, number)

    def train() -> None:
        dialogs.expect("Apply classifier", press(QMessageBox.StandardButton.Yes))
        click(qtbot, window.teach.button)
        dialogs.wait_answered(120000)
        qtbot.waitUntil(lambda: not window.runs.busy, timeout=120000)

    train()
    assert read == [len(store)]  # the first training reads every nucleus of the slide once
    key(qtbot, window, "U")
    (uncertain,) = window.view.selection.ids().tolist()
    key(qtbot, window, "2")
    assert (store.extras.get(uncertain) or {}).get("class_by_hand")
    train()
    assert read == [len(store)]  # nothing read again
    assert window.teach.last_card.counts[window.classes.names[1]] == 9
    target = int(ids[len(ids) // 2])
    x, y = store.coordinates(np.array([target]))[0]
    key(qtbot, window, "M")
    drag(qtbot, window, (x + 0.5, y + 0.5), (x + 6.5, y + 0.5))
    train()
    assert read == [len(store), 1]  # the moved nucleus alone
    dialogs.check()
