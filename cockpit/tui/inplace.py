"""Widgets that change in place: a strip of text repainted only when its text changes, and a
table keyed by item id whose changed cells alone are updated. A pane is told what to show on
every event and clock tick; repainting what did not change (and a layout pass, which repaints
the whole screen) is most of what ten mirrors would cost the operator's machine."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from cockpit.session.inert import inert

Row = tuple[Any, ...]  # (key, *cells): the key is the item's id, never shown


class TextStrip(Static):
    """A strip of session text. Setting `text` (or `strip_style`) repaints it only when
    either changed; a strip whose height follows its text (a banner) lays the screen out
    again (`GROWS`)."""

    GROWS = False

    text: reactive[str] = reactive("", repaint=False, init=False)
    """What the strip shows: markup, or plain text made inert if built with markup=False."""
    strip_style: reactive[str] = reactive("", repaint=False, init=False)
    """A style over the whole of a plain strip ("bold yellow": a running step past half its
    timeout)."""

    def __init__(self, *args: Any, markup: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, markup=markup, **kwargs)
        self.takes_markup = markup

    def watch_text(self) -> None:
        self._paint()

    def watch_strip_style(self) -> None:
        self._paint()

    def _paint(self) -> None:
        shown = self.text if self.takes_markup else Text(inert(self.text), style=self.strip_style)
        self.update(shown, layout=self.GROWS)


def _cell_key(cell: Any) -> Hashable:
    """What a cell shows, to compare: a Text's equality ignores its own style."""
    if isinstance(cell, Text):
        return (cell.plain, str(cell.style), tuple(cell.spans))
    return cell


def _width(cell: Any) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(str(cell))


class KeyedTable(DataTable[Any]):
    """A table of (key, *cells) rows, each keyed by its item's id. `show_rows` changes only
    what differs from what is shown: a changed cell is updated in place (a column grows to
    fit), a row gone is removed, a new one added at the end. Only when the order changes
    (another phase), or the table runs past its edge while a column's cells all became
    narrower (its width would not follow), is it rebuilt, keeping the cursor's row."""

    def show_rows(self, rows: Sequence[Row]) -> None:
        keys = [str(key) for key, *_ in rows]
        shown = [str(row_key.value) for row_key in self.rows]
        kept = [key for key in shown if key in set(keys)]
        if kept != keys[:len(kept)] or self._narrower(rows):  # start over
            self._rebuild(rows)
            return
        for key in set(shown) - set(keys):
            self.remove_row(key)
        for key, *cells in rows:
            if str(key) in self.rows:
                self._update_row(str(key), cells)
            else:
                self.add_row(*cells, key=str(key))

    def _narrower(self, rows: Sequence[Row]) -> bool:
        """Whether the table runs past its edge and a column's cells, all of them, now need
        less than its width: a pane that cuts a step's text to keep its result in view must
        get the room it made (a column's width only grows as cells change)."""
        shown = sum(column.get_render_width(self) for column in self.ordered_columns)
        if not self.size.width or shown <= self.size.width:
            return False
        return any(max((_width(row[index]) for row in rows), default=0) < column.content_width
                   for index, column in enumerate(self.ordered_columns, start=1))

    def _update_row(self, key: str, cells: Sequence[Any]) -> None:
        for column, old, new in zip(self.ordered_columns, self.get_row(key), cells,
                                    strict=True):
            if _cell_key(old) != _cell_key(new):
                self.update_cell(key, column.key, new,
                                 update_width=_width(new) > column.content_width)

    def _rebuild(self, rows: Sequence[Row]) -> None:
        cursor = self.cursor_row
        # the columns too: a column kept keeps the width of its widest cell ever
        columns = [(column.label, column.key.value) for column in self.ordered_columns]
        self.clear(columns=True)
        for label, key in columns:
            self.add_column(label, key=key)
        for key, *cells in rows:
            self.add_row(*cells, key=str(key))
        if self.row_count:
            self.move_cursor(row=min(max(cursor, 0), self.row_count - 1))
