"""The running step's output pane: Textual's Log, made cheap to keep streaming, and inert. A
pane that grows at 50 lines a second is redrawn several times a second, by the operator's
cockpit and by every mirror; each redraw should cost that pane alone, once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.reactive import Reactive
from textual.strip import Strip
from textual.widgets import Log

from cockpit.session.inert import inert

CUT_MARK = "›"  # the line goes on beyond the right edge
MARK_STYLE = Style(bold=True, reverse=True)


class OutputLog(Log):
    """The running step's output. Its growth repaints the pane alone: Textual would lay out
    the whole screen on each batch of lines (and repaint it twice), which is most of what a
    mirror costs while a step streams. A layout is still done when a scrollbar appears."""

    virtual_size = Reactive(Size(0, 0), layout=False)

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> Self:
        """Lines as they may be shown: Log itself passes ESC (and C1) to the terminal, so a
        step's escape sequence would retitle, clear or rewrite the screen (invariant 11)."""
        return super().write_lines([inert(line) for line in lines], scroll_end)

    def write(self, data: str, scroll_end: bool | None = None) -> Self:
        return super().write(inert(data), scroll_end)

    def watch_virtual_size(self, size: Size) -> None:
        self._scroll_update(size)  # the scrollbars' ranges; their showing is a layout

    _frame_style: Style | None = None

    def render_lines(self, crop: Region) -> list[Strip]:
        self._frame_style = super().rich_style  # Log asks per line; it is the same all frame
        try:
            return super().render_lines(crop)
        finally:
            self._frame_style = None

    @property
    def rich_style(self) -> Style:
        return self._frame_style or super().rich_style

    def render_line(self, y: int) -> Strip:
        """A line that goes on past the pane's right edge ends in a marker: the rest is
        there, to scroll to (← →), not lost."""
        strip = super().render_line(y)
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width  # inside any scrollbar
        index = scroll_y + y
        if width > 1 and index < self.line_count and \
                cell_len(self.lines[index].expandtabs(8)) > scroll_x + width:
            strip = Strip.join([strip.crop(0, width - 1),
                                Strip([Segment(CUT_MARK, self.rich_style + MARK_STYLE)])])
        return strip

    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        # Log (Textual 8.2) keeps a rendered line only while text is selected; keep it
        # always (Log drops it itself when lines change), or every frame renders every line
        strip = super()._render_line_strip(y, rich_style)
        if self.text_selection is None:
            self._render_line_cache[y] = strip
        return strip
