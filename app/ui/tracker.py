"""GUI: Word-count tracker — total words against the target, a bar per section (the rhythm
of the book at a glance), tokens/s, words/min, elapsed time and ETA."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..core.engine.progress import format_duration

BAR_DONE = QColor("#4caf50")
BAR_WRITING = QColor("#f08c2e")
BAR_EDITED = QColor("#42a5f5")
BAR_EMPTY = QColor("#cfd8dc")
BAR_OVER = QColor("#e57373")


@dataclass
class Bar:
    words: int
    target: int
    state: str = "planned"       # planned, writing, done, edited, locked


fmt_duration = format_duration      # old name


class Meter(QWidget):
    """A progress bar that repaints lazily.

    QProgressBar repaints synchronously on every setValue (about 6 ms each here), which adds
    up to visible stalls while text streams; this one only schedules a repaint. With a
    maximum of 0 it shows a moving stripe (busy: loading a model, planning).
    """

    def __init__(self, height: int = 18, show_text: bool = True, parent=None) -> None:
        super().__init__(parent)
        self._value, self._max = 0, 100
        self._show_text = show_text
        self._phase = 0.0
        self._busy_timer = QTimer(self)
        self._busy_timer.setInterval(80)
        self._busy_timer.timeout.connect(self._step)
        self.setFixedHeight(height)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def value(self) -> int:
        return self._value

    def maximum(self) -> int:
        return self._max

    def setRange(self, minimum: int, maximum: int) -> None:  # noqa: N802 - Qt naming
        self.setMaximum(maximum)

    def setMaximum(self, maximum: int) -> None:  # noqa: N802
        if maximum != self._max:
            self._max = max(0, maximum)
            self._sync_busy()
            self.update()

    def setValue(self, value: int) -> None:  # noqa: N802
        value = max(0, min(value, self._max)) if self._max else 0
        if value != self._value:
            self._value = value
            self.update()

    def setVisible(self, visible: bool) -> None:  # noqa: N802
        super().setVisible(visible)
        self._sync_busy()

    def _sync_busy(self) -> None:
        if self._max == 0 and self.isVisible():
            self._busy_timer.start()
        else:
            self._busy_timer.stop()

    def _step(self) -> None:
        self._phase = (self._phase + 0.04) % 1.0
        self.update()

    def paintEvent(self, _e) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        radius = min(4.0, r.height() / 2)
        p.setPen(QPen(QColor("#b0bec5"), 1))
        p.setBrush(QColor("#eceff1"))
        p.drawRoundedRect(r, radius, radius)
        fill = QColor("#3d7cc9")
        if self._max == 0:
            w = r.width() * 0.25
            x = r.left() + (r.width() + w) * self._phase - w
            p.setClipRect(r)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(fill)
            p.drawRoundedRect(QRectF(x, r.top(), w, r.height()), radius, radius)
            return
        share = self._value / self._max if self._max else 0.0
        if share > 0:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(fill)
            p.drawRoundedRect(QRectF(r.left(), r.top(), r.width() * share, r.height()), radius, radius)
        if self._show_text:
            p.setPen(QColor("#263238"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, f"{100 * share:.0f}%")


class RhythmBars(QWidget):
    """One vertical bar per section: filled to its written words, outlined at its target."""

    sectionClicked = Signal(int)
    barClicked = Signal(int)          # any bar (a chapter's, in a novel)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.bars: list[Bar] = []
        self.current: int | None = None
        self.per_section = True       # False: a bar per chapter (novels); no sectionClicked
        self.setMinimumHeight(70)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setToolTip("A bar per section: filled to the words written, outlined at the target")

    def sizeHint(self) -> QSize:
        return QSize(300, 90)

    def set_bars(self, bars: list[Bar], current: int | None = None) -> None:
        self.bars = bars
        self.current = current
        self.update()

    def _geometry(self):
        n = max(1, len(self.bars))
        w = self.width() - 4
        slot = w / n
        bar_w = max(2.0, min(40.0, slot * 0.75))
        return slot, bar_w

    def paintEvent(self, _e) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        h = self.height() - 4
        if not self.bars:
            p.setPen(self.palette().mid().color())
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Section bars appear after planning")
            return
        top = max(max(b.target, b.words) for b in self.bars) or 1
        slot, bar_w = self._geometry()
        for i, b in enumerate(self.bars):
            x = 2 + i * slot + (slot - bar_w) / 2
            th = h * b.target / top
            wh = h * min(b.words, top) / top
            fill = {"writing": BAR_WRITING, "edited": BAR_EDITED}.get(b.state, BAR_DONE)
            if b.words > b.target * 1.15:
                fill = BAR_OVER
            p.fillRect(QRectF(x, 2 + h - th, bar_w, th), BAR_EMPTY)
            p.fillRect(QRectF(x, 2 + h - wh, bar_w, wh), fill)
            pen = QPen(QColor("#37474f") if i == self.current else QColor("#90a4ae"))
            pen.setWidthF(2.0 if i == self.current else 1.0)
            p.setPen(pen)
            p.drawRect(QRectF(x, 2 + h - th, bar_w, th))

    def mousePressEvent(self, e) -> None:
        if not self.bars:
            return
        slot, _ = self._geometry()
        i = int((e.position().x() - 2) // slot)
        if 0 <= i < len(self.bars):
            self.barClicked.emit(i)
            if self.per_section:
                self.sectionClicked.emit(i)


class TrackerPane(QWidget):
    """Totals, the section bars and the speed figures."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.total_bar = Meter()
        self.total_label = QLabel()
        self.total_label.setObjectName("totalWords")
        self.total_label.setStyleSheet("font-size: 13pt; font-weight: 600;")
        self.rhythm = RhythmBars()
        self.labels: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        for i, (key, title) in enumerate([("tps", "tokens/s"), ("wpm", "words/min"),
                                          ("elapsed", "elapsed"), ("eta", "ETA")]):
            value = QLabel("—")
            value.setStyleSheet("font-size: 12pt; font-weight: 600;")
            caption = QLabel(title)
            caption.setStyleSheet("color: #5b6770;")
            grid.addWidget(value, 0, i, Qt.AlignmentFlag.AlignLeft)
            grid.addWidget(caption, 1, i, Qt.AlignmentFlag.AlignLeft)
            self.labels[key] = value
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.total_label)
        layout.addWidget(self.total_bar)
        self.chapter_label = QLabel()         # novels: the current chapter's progress
        self.chapter_label.setObjectName("chapterProgress")
        self.chapter_label.setStyleSheet("color: #37474f;")
        self.chapter_label.hide()
        layout.addWidget(self.chapter_label)
        layout.addWidget(self.rhythm, 1)
        layout.addLayout(grid)
        self.set_totals(0, 0)

    def set_totals(self, words: int, target: int) -> None:
        self.total_bar.setMaximum(max(1, target))
        self.total_bar.setValue(min(words, max(1, target)))
        pct = f" ({100 * words / target:.0f}%)" if target else ""
        self.total_label.setText(f"{words:,} / {target:,} words{pct}")

    def set_speed(self, tokens_per_s: float | None, words_per_min: float | None,
                  elapsed: float | None, eta: float | None) -> None:
        self.labels["tps"].setText(f"{tokens_per_s:.1f}" if tokens_per_s else "—")
        self.labels["wpm"].setText(f"{words_per_min:.0f}" if words_per_min else "—")
        self.labels["elapsed"].setText(fmt_duration(elapsed))
        self.labels["eta"].setText(fmt_duration(eta))
