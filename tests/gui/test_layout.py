"""At 1400×900 and 1920×1080 the docks show their columns and rows without scrolling: the
Project list's counts per class, the Classes table's every class."""

import shutil

import pytest



@pytest.mark.parametrize("size", [(1400, 900), (1920, 1080)])
def test_docks_show_their_columns_and_rows(qtbot, window, sample_tiff, tmp_path, size):
    folder = tmp_path / "a study with long slide names"
    folder.mkdir()
    for k, sample in enumerate(sorted(sample_tiff.parent.glob("*.tif"))):
        shutil.copy(sample, folder / f"TCGA-2Z-A9J9-01Z-00-DX1_region_{k}.tif")
    window.resize(*size)
    qtbot.wait(50)
    assert window.project.open_project(folder)
    project = window.project.project
    project.slides[1].width, project.slides[1].height = 104_448, 76_032  # a whole slide's size
    project.slides[0].classes = {"Epithelial": 1234, "Inflammatory": 567, "Stromal": 89}
    project.slides[0].state, project.slides[0].exported = "reviewing", "2026-12-02T10:00:00"  # the longest state text
    window.project.populate()
    window.store.add_many([10.0, 20.0], [10.0, 20.0], classes=["Epithelial", "Other"])
    window.classes.sync_from_store()
    qtbot.wait(100)
    table = window.project.table
    columns = sum(table.columnWidth(c) for c in range(table.columnCount()) if not table.isColumnHidden(c))
    assert columns <= table.viewport().width() + 1 and not table.horizontalScrollBar().isVisible()
    assert table.item(1, 2).text() == "104k×76k"  # not elided to '104…032'
    classes = window.classes.table
    assert classes.rowCount() >= 5 and not classes.verticalScrollBar().isVisible()
    for c in range(classes.rowCount()):
        assert classes.visualItemRect(classes.item(c, 1)).bottom() <= classes.viewport().height()


def test_one_tab_bar_under_the_docks(qtbot, person, sample_tiff):
    """Classes and Review & adapt share one tab bar: re-tabifying after the project dock's split
    once left a second, stale one drawn over the Classes dock's last rows."""
    from PySide6.QtWidgets import QTabBar
    from user import launch

    window = launch(qtbot, (1500, 950))
    window.open_slide(sample_tiff)
    qtbot.wait(500)
    shown = [b for b in window.findChildren(QTabBar) if b.isVisible() and b.count() and b.geometry().y() >= 0]
    assert [[b.tabText(i) for i in range(b.count())] for b in shown] == [["Classes", "Review && adapt"]]
