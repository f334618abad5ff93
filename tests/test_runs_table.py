"""The runs table: one widget whose rows are state, the browser's clicks as intents, answered with state."""

import time
from types import SimpleNamespace

import pytest

from convlab_widgets.runs_table import COLUMNS, RunsTable


def fake_run(name, previous=None, changes=("Dense(64→32)",), status="completed"):
    return SimpleNamespace(name=name, color="#1f77b4", previous=previous, changes=list(changes), param_count=1234567,
                           architecture=None, status=status, started_at=time.time() - 95, ended_at=time.time(),
                           config={"epochs": 3}, message="",
                           history={"epoch": [0, 1, 2], "accuracy": [0.8, 0.9, 0.95], "val_accuracy": [0.7, 0.8, 0.9]})


def intent(table, **content):
    """What the browser sends (a custom widget message), handled as the kernel handles it."""
    table._handle_custom_msg(content, [])


@pytest.fixture
def sent(monkeypatch):
    """The state messages a table hands its comm for the browser, as ``[{trait: value}]``.  With no kernel
    connected, ipywidgets 7 (Colab's) builds no message at all: there the comm gets a placeholder kernel for
    the test, so that ipywidgets builds the messages it would send to a real one (none reaches it)."""
    def record(table):
        messages = []
        monkeypatch.setattr(table, "_send", lambda msg, buffers=None: messages.append(msg.get("state", {})))
        if getattr(table.comm, "kernel", True) is None:  # a typed trait there: set past its validation
            monkeypatch.setitem(table.comm._trait_values, "kernel", object())
        return messages
    return record


def test_number_columns_are_right_aligned_under_right_aligned_headings():
    table = RunsTable()
    table.show([fake_run("run 1")])
    (row,) = table.rows
    assert row["cells"] == ["1,234,567", "90.0%", "90.0%", "+5.0 pts", "3/3", "1:35", "completed"]
    heads = {column["label"]: column["number"] for column in table.columns if column["label"]}
    assert heads == {"run": False, "parameters": True, "best val acc": True, "final val acc": True,
                     "train−val gap": True, "epochs": True, "time": True, "status": False}  # the status is a word
    assert [column["width"] for column in table.columns] == [width for _, width, _ in COLUMNS]
    assert row["changes"] == "first run: Dense(64→32)"


def test_a_hundred_runs_are_one_widget_and_a_redraw_that_changes_nothing_sends_nothing(live_widgets, sent):
    table = RunsTable()
    empty = len(live_widgets)  # the table and its layout
    runs = [fake_run(f"run {i}") for i in range(100)]
    table.show(runs)
    assert len(live_widgets) == empty and len(table.rows) == 100
    messages = sent(table)
    table.show(runs)  # every heartbeat redraws
    assert messages == []
    runs[-1].status, runs[-1].ended_at = "running", None
    table.show(runs, live=runs[-1])
    assert len(messages) == 1 and set(messages[0]) == {"rows"}
    assert messages[0]["rows"][-1]["cells"][-1] == "running" and messages[0]["rows"][-1]["running"]


def test_ticking_a_row_reports_the_selection_and_the_watched_run_stays_ticked():
    selections = []
    table = RunsTable(on_select=selections.append)
    first, second = fake_run("run 1"), fake_run("run 2")
    table.show([first, second], live=second)
    assert [(row["ticked"], row["live"]) for row in table.rows] == [(False, False), (True, True)]
    intent(table, intent="tick", key=str(id(first)), ticked=True)
    assert selections == [{id(first)}] and table.rows[0]["ticked"] and table.answered == 1
    intent(table, intent="tick", key=str(id(second)), ticked=False)  # the watched run: refused
    assert selections == [{id(first)}] and table.rows[1]["ticked"] and table.answered == 2
    intent(table, intent="tick", key=str(id(first)), ticked=False)
    assert selections[-1] == set() and not table.rows[0]["ticked"]
    table.select({id(first), 12345})  # the lab's choice; a key of no run is dropped
    assert table.selected == {id(first)} and table.rows[0]["ticked"]


def test_a_rename_is_answered_with_the_name_python_keeps(sent):
    """An accepted name comes back in the rows; a refused one (empty, or refused by the lab) leaves the rows
    as they were, and the answer makes the browser put Python's name back."""
    renames = []

    def rename(run, name):
        if len(name) > 10:
            raise ValueError("too long")
        renames.append(name)
        run.name = name
        table.show([run])

    table = RunsTable(on_rename=rename)
    run = fake_run("run 1")
    table.show([run])
    messages = sent(table)
    intent(table, intent="rename", key=str(id(run)), name="  baseline ")
    assert renames == ["baseline"] and table.rows[0]["name"] == "baseline"
    assert messages == [{"rows": table.rows, "answered": 1}]  # one message: the new rows with the answer
    for refused in ("   ", "baseline", "far too long a name", 42):
        intent(table, intent="rename", key=str(id(run)), name=refused)
    assert renames == ["baseline"] and table.rows[0]["name"] == "baseline"
    assert [set(message) for message in messages[1:]] == [{"answered"}] * 4 and table.answered == 5


def test_clone_delete_and_resume_report_their_run_and_stale_or_hostile_intents_do_nothing():
    clicks = []
    table = RunsTable(on_clone=lambda run: clicks.append(("clone", run.name)),
                      on_delete=lambda run: clicks.append(("delete", run.name)),
                      on_resume=lambda run: clicks.append(("resume", run.name)))
    first, second = fake_run("run 1"), fake_run("run 2", status="interrupted")
    second.message = "interrupted after epoch 2 of 3: its kernel stopped while it trained"
    table.show([first, second])
    assert [row["interruption"] for row in table.rows] == ["", second.message]
    for name in ("clone", "delete", "resume"):
        for run in (first, second):
            intent(table, intent=name, key=str(id(run)))
    assert clicks == [("clone", "run 1"), ("clone", "run 2"), ("delete", "run 1"), ("delete", "run 2"),
                      ("resume", "run 2")]  # only an interrupted run resumes
    answered = table.answered
    for content in ({"intent": "clone", "key": "12345"}, {"intent": "clone", "key": ["x"]}, {"intent": "clone"},
                    {"intent": "__init__"}, {"intent": None}, {"nothing": 1}):
        intent(table, **content)
    assert len(clicks) == 5 and table.rows[0]["name"] == "run 1"
    assert table.answered == answered + 3  # the last three name no intent: there is nothing to answer


def test_a_failing_callback_is_logged_and_still_answered(caplog):
    table = RunsTable(on_clone=lambda run: 1 / 0)
    run = fake_run("run 1")
    table.show([run])
    intent(table, intent="clone", key=str(id(run)))
    assert table.answered == 1 and "runs table intent" in caplog.text


def test_the_what_changed_lines_fold_away_at_the_learners_click():
    table = RunsTable()
    assert table.show_changes
    intent(table, intent="changes", show=False)
    assert not table.show_changes
    intent(table, intent="changes", show="yes")  # only True shows them
    assert not table.show_changes
    intent(table, intent="changes", show=True)
    assert table.show_changes


def test_a_deleted_run_leaves_the_rows_and_the_selection():
    table = RunsTable()
    first, second = fake_run("run 1"), fake_run("run 2")
    table.show([first, second])
    table.select({id(first), id(second)})
    table.show([second])
    assert [row["name"] for row in table.rows] == ["run 2"] and table.selected == {id(second)}
    assert table.show([]) is None and table.rows == []
