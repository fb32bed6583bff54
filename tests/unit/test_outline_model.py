"""Unit: the Qt-free side of the tree outline (core/engine/outline_model.py)."""

from __future__ import annotations

from longhand.core.engine import book_model as BM
from longhand.core.engine import outline_model as OM
from longhand.core.engine.plan import DONE, Section


def _book() -> BM.BookJob:
    job = BM.BookJob(instruction="Write a 3000-word novel in chapters.", target_words=3000)
    job.chapters = [BM.Chapter("One", "a", 1000), BM.Chapter("Two", "b", 1000), BM.Chapter("Three", "c", 1000)]
    for c in (0, 1):
        for k in range(2):
            job.sections.append(Section(main_point=f"c{c} s{k}", target_words=500, chapter=c))
    return job


def test_rows_roll_up_and_labels():
    job = _book()
    job.sections[0].text, job.sections[0].status = "one two three", DONE
    rows = OM.chapter_rows(job)
    assert [(r.scene_targets, r.written, r.status, r.mismatch) for r in rows] == \
        [(1000, 3, "writing", 0), (1000, 0, "planned", 0), (0, 0, "unplanned", 0)]
    assert [OM.scene_label(job, i) for i in range(4)] == ["1.1", "1.2", "2.1", "2.2"]
    job.sections[3].target_words = 700
    assert OM.chapter_rows(job)[1].mismatch == 200


def test_next_scene_goes_in_order_and_plans_unplanned_chapters():
    job = _book()
    assert OM.next_scene(job) == (0, 0)
    for i in (0, 1):
        job.sections[i].text, job.sections[i].status = "done", DONE
    job.sections[2].locked = True
    assert OM.next_scene(job) == (1, 3)
    job.sections[3].text, job.sections[3].status = "done", DONE
    assert OM.next_scene(job) == (2, None)          # chapter 3 has no scenes yet
    assert not OM.book_written(job)


def test_fit_targets_only_when_asked_and_keeps_locked_numbers():
    job = _book()
    job.chapters[0].target_words = 1600
    job.chapters[0].locked = True
    job.sections[1].locked = True
    job.sections[1].target_words = 900
    assert BM.check_totals(job)                      # the user's numbers are reported...
    OM.fit_all_targets(job)                         # ...and rescaled only on request
    assert job.chapters[0].target_words == 1600 and sum(c.target_words for c in job.chapters) == 3000
    assert job.sections[1].target_words == 900 and job.sections[0].target_words == 700
    assert BM.check_totals(job) == []


def test_work_copy_is_independent_and_applies_back():
    job = _book()
    copy = OM.work_copy(job)
    copy.sections[0].main_point = "changed on the copy"
    BM.add_chapter(copy, 3, "Four", "d", 500)
    assert job.sections[0].main_point == "c0 s0" and len(job.chapters) == 3
    OM.apply_copy(job, copy)
    assert job.sections[0].main_point == "changed on the copy" and len(job.chapters) == 4


def test_codex_users():
    job = _book()
    job.sections[1].codex_used = ["Mara Voss", "Lowmere"]
    job.sections[2].codex_used = ["mara voss"]
    assert OM.codex_users(job, "Mara Voss") == [1, 2] and OM.codex_users(job, "Tobin") == []


def test_a_scene_moves_into_the_neighbouring_chapter_at_its_edges():
    job = _book()
    assert not OM.move_scene_across(job, 1, -1)          # not the first scene of its chapter
    assert OM.move_scene_across(job, 2, -1)              # chapter 2's first -> chapter 1's last
    assert [s.chapter for s in job.sections] == [0, 0, 0, 1]
    assert BM.chapter_scenes(job, 0) == [0, 1, 2]
    assert OM.move_scene_across(job, 3, +1)              # chapter 2's last -> chapter 3 (unplanned)
    assert [s.chapter for s in job.sections] == [0, 0, 0, 2] and BM.chapter_scenes(job, 1) == []
    assert not OM.move_scene_across(job, 3, +1)          # no chapter 4
