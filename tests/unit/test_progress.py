"""Progress from engine events: words, words/min, ETA, tokens/s (used by the CLI and the GUI)."""

from longhand.core.engine.events import (
    JobDone,
    JobStats,
    PlanStarted,
    PlanToken,
    SectionDone,
    SectionStarted,
    SectionToken,
)
from longhand.core.engine.progress import ProgressTracker, format_duration


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_words_per_minute_and_eta_count_writing_time_only():
    clock, words = Clock(), {"n": 200}
    p = ProgressTracker("write", 1200, lambda: words["n"], clock=clock)
    p(PlanStarted("x", 1200))
    p(PlanToken("Paragraph 1 - ...\n\nParagraph 2 - ...\n"))
    assert p.snapshot().plan_lines == 2
    clock.t += 30                                        # planning and loading: not writing
    p(SectionStarted(1, 500, "write"))
    assert p.snapshot().words_per_min is None            # nothing gained yet
    clock.t += 60
    p(SectionToken(1, " word", 100, 300, 12.5))           # 100 words in a minute
    snap = p.snapshot()
    assert snap.words == 300 and snap.tokens_per_s == 12.5
    assert snap.words_per_min == 100.0
    assert snap.eta_seconds == 900 / 100 * 60             # 900 words left at 100 words/min
    assert snap.elapsed == 90 and snap.section == 1 and snap.section_goal == 500
    assert p.snapshot(total_words=350).words_per_min == 150.0     # a live count overrides


def test_one_section_jobs_count_the_section():
    clock = Clock()
    p = ProgressTracker("regenerate", 1000, lambda: 800, clock=clock)
    p(SectionStarted(0, 200, "regenerate"))
    clock.t += 30
    p(SectionToken(0, " w", 50, 650, 9.0))                # the old text became a take: total fell
    snap = p.snapshot()
    assert snap.words_per_min == 100.0                    # the section's 50 words in 30 s
    assert snap.eta_seconds == 150 / 100 * 60             # to the section's goal, not the job's


def test_finished_job_reports_its_stats():
    clock = Clock()
    p = ProgressTracker("write", 600, lambda: 0, clock=clock)
    p(SectionDone(0, "text", 300, 300, 400, 20.0))
    stats = JobStats(target_words=600, words=600, generated_tokens=800, seconds=120.0, generation_seconds=100.0)
    p(JobDone(stats, cancelled=False))
    snap = p.snapshot()
    assert snap.finished and snap.eta_seconds is None
    assert snap.words_per_min == 300.0 and snap.tokens_per_s == 8.0 and snap.elapsed == 120.0


def test_format_duration():
    assert [format_duration(x) for x in (None, 5, 65, 3600 + 300)] == ["—", "0:05", "1:05", "1h 05m"]
