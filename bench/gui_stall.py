"""Bench: does the desktop window stay responsive while the model writes, and how fast is Stop?

Drives the real main window (offscreen) on the demo model: plan and write a short text, with
a QTimer probe firing every 10 ms on the GUI thread; the longest gap between two probe ticks
while a section streams is the worst event-loop stall the user could feel (goal < 50 ms).
Then it starts writing again several times and presses Stop mid-stream, timing how long
generation takes to end (click -> the window is idle again, text kept; goal < 1 s).

    python bench/gui_stall.py [--words 300] [--threads 1] [--stops 3] [--out bench/results]

Prints one JSON object and writes it to ``OUT/gui_stall.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common as C  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=int, default=300, help="target length of the text written")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for the model")
    ap.add_argument("--stops", type=int, default=3, help="how many times to press Stop")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)

    _app, w, _tmp = C.open_window(      # _app kept alive for the run
        "longhand-gui-bench-", engine=dict(model_path=str(C.demo_model()), threads=args.threads, seed=11),
        data_home=True)
    w.confirm = lambda q: True

    from PySide6.QtCore import QEventLoop, QTimer

    from longhand.core.engine.plan import Section
    from longhand.core.projects.project import Project

    def wait_until(cond, timeout: float = 1800.0) -> None:
        """Run the event loop (no sleeping on the GUI thread) until ``cond()`` holds."""
        loop = QEventLoop()
        check = QTimer()
        check.setInterval(5)
        deadline = time.perf_counter() + timeout
        check.timeout.connect(lambda: (cond() or time.perf_counter() > deadline) and loop.quit())
        check.start()
        if not cond():
            loop.exec()
        check.stop()
        if not cond():
            raise SystemExit(f"timed out waiting for the window after {timeout} s")

    # the probe: a 10 ms timer on the GUI thread; gaps recorded while a section streams
    gaps: list[float] = []
    all_gaps: list[float] = []
    state = {"last": None}

    idle_gaps: list[float] = []

    def probe() -> None:
        now = time.perf_counter()
        if state["last"] is not None and state.get("idle"):
            idle_gaps.append(now - state["last"])
        if state["last"] is not None and w.runner.busy:
            all_gaps.append(now - state["last"])
            if w.view.streaming is not None:
                gaps.append(now - state["last"])
        state["last"] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(probe)
    timer.start()

    # baseline: the same probe with nothing running (what the machine's load alone costs)
    state["idle"] = True
    t_idle = time.perf_counter() + 5.0
    wait_until(lambda: time.perf_counter() > t_idle)
    state["idle"] = False

    t0 = time.perf_counter()
    w.preload_model()
    wait_until(lambda: not w.runner.busy)
    load_s = time.perf_counter() - t0
    if w.last_error:
        raise SystemExit(w.last_error)

    w.instruction.setPlainText(f"Write a {args.words}-word story about a lighthouse keeper who "
                               "finds a message in a bottle.")
    w.target.setValue(args.words)
    t0 = time.perf_counter()
    w.write()                     # plans first, then writes every section
    wait_until(lambda: not w.runner.busy)
    write_s = time.perf_counter() - t0
    if w.last_error:
        raise SystemExit(w.last_error)
    stats = w.jobs.progress.stats if w.jobs.progress is not None else None

    # Stop, several times, each in the middle of a streaming section
    stops = []
    for i in range(args.stops):
        p = Project(instruction="Write a long story about a storm at sea.", target_words=1000,
                    sections=[Section("The storm breaks over the harbour at night", 1000)])
        w.project = p
        w._load_project_into_widgets()
        w.write()
        wait_until(lambda: w.view.streaming == 0 and w.view.streamed_words(0) >= 10 + 10 * i)
        w.stop_btn.click()
        wait_until(lambda: not w.runner.busy, timeout=60)
        stops.append({"seconds": round(w.last_stop_seconds, 3),
                      "words_kept": p.sections[0].words,
                      "text_kept": p.sections[0].text == w.view.streamed_text(0) and p.words > 0})
    timer.stop()

    def ms(x: float) -> float:
        return round(1000 * x, 1)

    result = {
        "bench": "gui_stall",
        "what": "GUI event-loop gaps (10 ms QTimer probe) while a section streams, and Stop latency",
        "platform": os.environ.get("QT_QPA_PLATFORM"),
        "threads": args.threads,
        "model_load_seconds": round(load_s, 2),
        "write": {"target_words": args.words, "words": w.project.words if not stops else None,
                  "seconds": round(write_s, 1),
                  "tokens_per_s": round(stats.tokens_per_s, 2) if stats else None},
        "stall_while_streaming": {
            "probe_ticks": len(gaps),
            "max_ms": ms(max(gaps)) if gaps else None,
            "p99_ms": ms(sorted(gaps)[int(0.99 * (len(gaps) - 1))]) if gaps else None,
            "median_ms": ms(statistics.median(gaps)) if gaps else None,
            "over_50ms": sum(g > 0.050 for g in gaps),
            "goal_ms": 50,
        },
        "stall_whole_job_max_ms": ms(max(all_gaps)) if all_gaps else None,
        "idle_baseline": {"probe_ticks": len(idle_gaps),
                          "max_ms": ms(max(idle_gaps)) if idle_gaps else None,
                          "p99_ms": ms(sorted(idle_gaps)[int(0.99 * (len(idle_gaps) - 1))]) if idle_gaps else None},
        "stop": {"runs": stops, "max_seconds": max(s["seconds"] for s in stops) if stops else None,
                 "goal_seconds": 1.0},
    }
    if stats:
        result["write"]["words"] = stats.words
    result["machine"] = C.machine()
    w.close()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gui_stall.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
