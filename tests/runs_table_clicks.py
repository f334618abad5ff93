"""A lab's runs table as the browser sees it: a run's row, and a learner's click sent as its intent."""


def row_of(lab, run) -> dict:
    """The runs table's row of ``run``, as the browser draws it."""
    (row,) = [row for row in lab.table.rows if row["key"] == str(id(run))]
    return row


def click(lab, intent, run, **content):
    """A learner's click in the runs table: the intent the browser sends, handled as the kernel does."""
    lab.table._handle_custom_msg({"intent": intent, "key": str(id(run)), **content}, [])
