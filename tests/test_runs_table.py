"""The runs table's layout: numbers that line up, headings with room, a diff line that folds away."""

import time
from types import SimpleNamespace

from convlab_widgets.runs_table import COLUMNS, RunsTable


def fake_run(name, previous=None, changes=("Dense(64→32)",)):
    return SimpleNamespace(name=name, color="#1f77b4", previous=previous, changes=list(changes), param_count=1234567,
                           architecture=None, status="completed", started_at=time.time() - 95, ended_at=time.time(),
                           config={"epochs": 3},
                           history={"epoch": [0, 1, 2], "accuracy": [0.8, 0.9, 0.95], "val_accuracy": [0.7, 0.8, 0.9]})


def test_number_columns_are_right_aligned_under_right_aligned_headings():
    table = RunsTable()
    first = fake_run("run 1")
    table.show([first])
    row = table._rows[id(first)]
    numbers = [label for label in row.labels if "convlab-runs-number" in label._dom_classes]
    assert [label.value for label in numbers] == ["1,234,567", "90.0%", "90.0%", "+5.0 pts", "3/3", "1:35"]
    assert "convlab-runs-number" not in row.labels[-1]._dom_classes  # the status is a word
    heads = {head.value: "convlab-runs-number" in head._dom_classes for head in table._header.children if head.value}
    assert heads == {"run": False, "parameters": True, "best val acc": True, "final val acc": True,
                     "train−val gap": True, "epochs": True, "time": True, "status": False}
    assert "text-align: right" in table.children[0].value and "tabular-nums" in table.children[0].value


def test_rows_are_as_wide_as_their_columns_and_the_actions_stay_in_reach():
    table = RunsTable()
    first = fake_run("run 1")
    table.show([first])
    row = table._rows[id(first)]
    assert row.box.layout.width == "min-content"  # all rows scroll together in a narrow output
    assert "convlab-runs-actions" in row.actions._dom_classes and row.actions.children == (row.clone, row.delete)
    assert "position: sticky" in table.children[0].value
    assert "convlab-runs-scroll" in table.rows._dom_classes and "::-webkit-scrollbar" in table.children[0].value
    assert len(COLUMNS) == len(row.cells) == len(table._header.children)


def test_the_what_changed_lines_fold_away_and_new_rows_follow():
    table = RunsTable()
    first = fake_run("run 1")
    table.show([first])
    assert table._rows[id(first)].changes.layout.display is None
    table.show_changes.value = False  # the learner's click
    assert table._rows[id(first)].changes.layout.display == "none"
    second = fake_run("run 2", previous=first)
    table.show([first, second])
    assert table._rows[id(second)].changes.layout.display == "none"
    table.show_changes.value = True
    assert all(row.changes.layout.display is None for row in table._rows.values())
