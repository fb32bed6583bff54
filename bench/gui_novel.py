"""Bench: what the novel GUI (tree outline, chapter heads, per-chapter tracker) costs the
event loop on a big book — no model needed.

Builds a synthetic book (``--chapters`` × ``--scenes``, the first half written), opens it in
the real main window (offscreen, 1280×800) and times, on the GUI thread, the operations a
user or the engine triggers: opening the project, a structure edit (Add chapter: tree,
manuscript and tracker rebuilt), the rebuild when the engine plans a chapter mid-job
(``NovelActions._structure_from_engine``), a progress tick (what runs every 400 ms while a
scene streams) and a target edited in the tree. Each figure is the median of ``--repeat``
runs, Python time plus the posted events it causes (layout, paint).

    python bench/gui_novel.py [--chapters 40] [--scenes 5] [--repeat 5] [--out bench/results]

Prints one JSON object and writes it to ``OUT/gui_novel.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common as C  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chapters", type=int, default=40)
    ap.add_argument("--scenes", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)

    app, w, _tmp = C.open_window("longhand-gui-novel-")
    app.processEvents()

    from longhand.core.engine import book_model as BM
    from longhand.core.engine.plan import DONE, Section
    from longhand.core.projects.project import Project

    words = 500
    text = " ".join(["Mara walked the long shore of the drowned town at dusk."] * (words // 11))
    p = Project(instruction=f"Write a {args.chapters * args.scenes * words}-word novel in chapters.",
                target_words=args.chapters * args.scenes * words)
    for c in range(args.chapters):
        p.chapters.append(BM.Chapter(f"Chapter title {c + 1}", "What happens in this chapter, in a sentence "
                                    "or two, as a book plan gives it.", args.scenes * words))
        for k in range(args.scenes):
            s = Section(main_point=f"Scene {k + 1} of chapter {c + 1}: something happens", target_words=words,
                        chapter=c)
            if c < args.chapters // 2:
                s.text, s.status = text, DONE
            p.sections.append(s)

    def timed(fn) -> float:
        t0 = time.perf_counter()
        fn()
        app.processEvents()
        return time.perf_counter() - t0

    def load() -> None:
        w.project = p
        w._load_project_into_widgets()

    out: dict = {"chapters": args.chapters, "scenes": args.chapters * args.scenes,
                 "written_scenes": sum(1 for s in p.sections if s.text)}
    out["open_s"] = round(timed(load), 3)
    book = w.outline.book

    def add_and_delete() -> None:
        book.select_chapter(args.chapters // 2)
        book.add_chapter()
        book.delete_selected()

    m = book.model
    idx = m.index(0, 1, m.index(args.chapters // 2, 0))
    results: dict[str, list[float]] = {"structure_edit_s": [], "chapter_planned_mid_job_s": [],
                                       "progress_tick_ms": [], "target_edit_ms": []}
    for r in range(args.repeat):
        results["structure_edit_s"].append(timed(add_and_delete) / 2)
        results["chapter_planned_mid_job_s"].append(timed(w.novel._structure_from_engine))
        results["progress_tick_ms"].append(1000 * timed(w.jobs.refresh_progress))
        results["target_edit_ms"].append(1000 * timed(lambda: m.setData(idx, words + 1 + r % 2)))
    for key, values in results.items():
        out[key] = round(statistics.median(values), 3)
    out["command"] = "python bench/gui_novel.py " + " ".join(argv if argv is not None else sys.argv[1:])
    w.close()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gui_novel.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
