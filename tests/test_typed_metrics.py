"""Type metrics on hand-made cases, each number worked out by hand."""

import numpy as np
import pytest

from wnet_gui.detection.typed_metrics import typed_tally


def case():
    """Truth: A at (0,0), A at (100,0), B at (200,0), untyped at (300,0), B at (400,0).
    Predictions: A at (1,0) ✓, B at (101,0) (wrong type), B at (201,0) ✓, A at (301,0)
    (on an untyped truth), A at (900,0) (unmatched). Truth B at 400 is missed."""
    truth = np.array([[0, 0], [100, 0], [200, 0], [300, 0], [400, 0]], float)
    truth_types = ["A", "A", "B", None, "B"]
    pred = np.array([[1, 0], [101, 0], [201, 0], [301, 0], [900, 0]], float)
    pred_types = ["A", "B", "B", "A", "A"]
    return typed_tally(pred, pred_types, truth, truth_types, radius=5)


def test_detection_counts():
    d = case().detection
    assert (d.tp, d.fp, d.fn) == (4, 1, 1)


def test_per_type_counts_ignore_matches_to_untyped_truth():
    t = case()
    a, b = t.per_type("A"), t.per_type("B")
    # A: TP (0,0); FP only the unmatched (900,0) — the match to the untyped centre counts neither way;
    # FN the A at 100 predicted as B
    assert (a.tp, a.fp, a.fn) == (1, 1, 1)
    # B: TP (200,0); FP the B prediction on the A at 100; FN the missed B at 400
    assert (b.tp, b.fp, b.fn) == (1, 1, 1)
    assert a.f1 == pytest.approx(0.5)


def test_accuracy_and_weighted_f1_over_matched_typed_nuclei():
    t = case()
    # matched typed pairs: (A,A), (A,B), (B,B) → 2 of 3 right
    assert t.accuracy() == pytest.approx(2 / 3)
    # F1_A over pairs: tp 1, fp 0, fn 1 → 2/3; F1_B: tp 1, fp 1, fn 0 → 2/3; weighted by support (2, 1)
    assert t.weighted_f1() == pytest.approx((2 * 2 / 3 + 1 * 2 / 3) / 3)


def test_hovernet_fc():
    t = case()
    # for A, over the matched typed pairs with A on either side [(A,A), (A,B)]: TP 1, FP 0, FN 1
    # (TN 0: the (B,B) pair does not count, as in HoVer-Net's compute_stats.py); FP_d 1 (900), FN_d 0
    assert t.fc("A") == pytest.approx(2 * 1 / (2 * 1 + 0 + 2 * 1 + 1 + 0))
    # for B, over [(A,B), (B,B)]: TP 1, FP 1, FN 0; FP_d 0, FN_d 1 (400)
    assert t.fc("B") == pytest.approx(2 * 1 / (2 * 1 + 2 * 1 + 0 + 0 + 1))
    # a third type's pairs change neither
    more = t + typed_tally(np.array([[0, 0], [50, 0]], float), ["C", "C"], np.array([[0, 0], [50, 0]], float), ["C", "C"], 5)
    assert more.fc("A") == pytest.approx(t.fc("A")) and more.fc("C") == 1.0
    assert t.report()["mean_fc"] == pytest.approx((t.fc("A") + t.fc("B")) / 2)


def test_pooling_adds_images():
    t = case() + case()
    assert t.per_type("A").tp == 2 and t.accuracy() == pytest.approx(2 / 3) and t.detection.tp == 8


def test_untyped_predictions_are_wrong_about_type_but_right_about_detection():
    truth = np.array([[0, 0]], float)
    t = typed_tally(np.array([[0, 1]], float), [None], truth, ["A"], 5)
    assert t.detection.tp == 1 and t.per_type("A").fn == 1 and t.accuracy() == 0.0


def test_typed_truth_readers_match_the_dataset_readmes(crchisto_root):
    from collections import Counter
    from pathlib import Path

    from wnet_gui.datasets.typed_truth import read_consep, read_crchisto

    c, n = Counter(), 0
    for p in sorted((crchisto_root / "test").glob("*_detection.mat")):
        xy, t = read_crchisto(p)
        c.update(t)
        n += len(xy)
    assert sum(v for k, v in c.items() if k) == 4643 and n - c[None] == 4643  # README: test split 4,643 typed
    consep = Path(crchisto_root).parent / "consep" / "test"
    if not consep.is_dir():
        pytest.skip("CoNSeP absent")
    c = Counter()
    for p in sorted(consep.glob("*_inst.png")):
        c.update(read_consep(p)[1])
    assert dict(c) == {"Other": 561, "Inflammatory": 1638, "Epithelial": 3214, "Stromal": 3364}  # README's test counts


def test_wnet_evaluate_prints_type_metrics(tmp_path, capsys):
    from wnet_gui.annotations import NucleusStore, write_geojson
    from wnet_gui.cli.main import main

    truth, pred = NucleusStore(), NucleusStore()
    truth.add_many([0, 100, 200, 300, 400], [0] * 5, classes=["A", "A", "B", "Nucleus", "B"])
    pred.add_many([1, 101, 201, 301, 900], [0] * 5, classes=["A", "B", "B", "A", "A"])
    write_geojson(truth, tmp_path / "t.geojson")
    write_geojson(pred, tmp_path / "p.geojson")
    assert main(["evaluate", "--pred", str(tmp_path / "p.geojson"), "--truth", str(tmp_path / "t.geojson"), "--radius", "5"]) == 0
    out = capsys.readouterr().out
    assert "A                     1      1      1  0.500  0.500  0.500" in out
    assert "type accuracy 0.667" in out and "over 3 matched typed nuclei" in out


def test_consep_benchmark_reports_recall_by_truth_type(crchisto_root):
    from pathlib import Path

    from wnet_gui.cli.benchmark_cmd import evaluate_card
    from wnet_gui.datasets import consep
    from wnet_gui.models.zoo import resolve_card

    root = Path(crchisto_root).parent / "consep"
    if not (root / "test").is_dir():
        pytest.skip("CoNSeP absent")
    tiles = consep.load_split("test", root)
    assert len(tiles) == 14 and sum(len(t.centres) for t in tiles) == 8777
    result = evaluate_card(resolve_card("fast"), tiles[:2], device="cpu", dataset="consep")
    assert set(result) == {"r=12px@40x", "recall_by_type"}
    assert set(result["recall_by_type"]) <= {"Epithelial", "Inflammatory", "Stromal", "Other"}
    assert 0 < result["r=12px@40x"]["recall"] <= 1


def test_consep_validation_split_is_the_four_held_out_train_tiles(crchisto_root):
    from pathlib import Path

    from wnet_gui.datasets import consep

    root = Path(crchisto_root).parent / "consep"
    if not (root / "train").is_dir():
        pytest.skip("CoNSeP absent")
    assert [t.name for t in consep.load_split("val", root)] == list(consep.VALIDATION)
    fit = consep.load_split("fit", root)
    assert len(fit) == 27 - len(consep.VALIDATION) and not {t.name for t in fit} & set(consep.VALIDATION)
    with pytest.raises(ValueError, match="fit and val"):
        consep.load_split("validation", root)
