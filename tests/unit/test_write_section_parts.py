"""Core: the parts of AgentWriter.write_section, each on its own (length targets and the final
trim, where a continuation starts, the recovery cut, the retry's sampling, the per-piece steer)."""

from longhand.core.backends.base import Sampling
from longhand.core.engine.events import SectionToken
from longhand.core.engine.writer import (
    LengthControl,
    SectionSteer,
    SectionTargets,
    continuation_partial,
    recovery_cut,
    retry_sampling,
)
from longhand.core.text.health import Health
from longhand.core.text.wordcount import count_words, ends_sentence


def test_targets_of_a_new_section_on_a_base_model():
    t = SectionTargets.of(LengthControl(), mode="write", target_words=1000, start_words=0, extra_words=None,
                          chat=False, allow_share=0.92)
    assert (t.goal, t.allow_from, t.cap, t.short_share) == (1000, 920, 1120, 0.8)


def test_targets_of_a_chat_model_end_lower_and_count_short_below_their_share():
    t = SectionTargets.of(LengthControl(), mode="write", target_words=1000, start_words=0, extra_words=None,
                          chat=True, allow_share=0.6)
    assert (t.goal, t.allow_from, t.cap, t.short_share) == (1000, 600, 1120, 0.5)


def test_targets_of_an_extension_are_shares_of_the_words_to_add():
    t = SectionTargets.of(LengthControl(), mode="extend", target_words=1000, start_words=400, extra_words=None,
                          chat=False, allow_share=0.92)
    assert t.goal == 900                          # half the target added
    assert t.allow_from == 400 + 460              # 92 % of the 500 words to add
    assert t.cap == 1008
    t = SectionTargets.of(LengthControl(), mode="extend", target_words=1000, start_words=400, extra_words=100,
                          chat=False, allow_share=0.92)
    assert (t.goal, t.allow_from, t.cap) == (500, 492, 560)


def test_a_small_target_keeps_room_above_its_goal():
    t = SectionTargets.of(LengthControl(), mode="write", target_words=10, start_words=0, extra_words=None,
                          chat=False, allow_share=0.92)
    assert t.cap == 15 and t.allow_from == 10


def test_final_trim_lands_on_a_sentence_end():
    t = SectionTargets(goal=10, allow_from=8, cap=12, short_share=0.8)
    over = "One two three four five six seven eight nine. Ten eleven twelve thirteen fourteen"
    assert t.landed(over) == "One two three four five six seven eight nine."
    mid = "One two three four five six seven eight nine. Ten eleven"
    assert t.landed(mid) == "One two three four five six seven eight nine."
    # short of allow_from: kept as it is (only trailing space goes)
    assert t.landed("One two three  \n") == "One two three"
    landed = "One two three four five six seven eight nine ten."
    assert t.landed(landed + "\n\n") == landed


def test_final_trim_without_a_sentence_end_in_range_prefers_a_finished_shorter_text():
    t = SectionTargets(goal=10, allow_from=9, cap=12, short_share=0.8)
    text = "One two three four five six seven eight. Nine ten eleven twelve thirteen fourteen"
    out = t.landed(text)
    assert ends_sentence(out) and count_words(out) == 8


def test_continuation_starts_after_a_break_or_inside_the_paragraph():
    assert continuation_partial("", empty_last=True, inline=True) == ""
    assert continuation_partial("It ended.  ", empty_last=False, inline=False) == "It ended.\n\n"
    assert continuation_partial("It went on", empty_last=False, inline=False) == "It went on "
    # after an empty continuation, or to write an ending again: in the same paragraph
    assert continuation_partial("It ended.\n\n", empty_last=True, inline=False) == "It ended. "
    assert continuation_partial("It ended.", empty_last=False, inline=True) == "It ended. "


def test_recovery_cuts_to_the_healthy_text():
    healthy = "First paragraph here.\n\nSecond paragraph here."
    assert recovery_cut(healthy, best_healthy=healthy, recovered_at=None, giving_up=False) == healthy
    # far past the last recovery's cut: not the same spot
    assert recovery_cut(healthy, best_healthy=healthy, recovered_at=0 - 100, giving_up=False) == healthy


def test_recovery_at_the_same_spot_cuts_one_paragraph_further():
    healthy = "First paragraph here.\n\nSecond paragraph here."
    cut = recovery_cut(healthy, best_healthy=healthy, recovered_at=count_words(healthy), giving_up=False)
    assert cut == "First paragraph here."
    # one paragraph: its last sentence goes
    one = "One sentence here. Another sentence there."
    assert recovery_cut(one, best_healthy=one, recovered_at=count_words(one), giving_up=False) == \
        "One sentence here."
    # never into the protected prefix (the user's own text)
    assert recovery_cut(healthy, best_healthy=healthy, recovered_at=count_words(healthy), giving_up=False,
                        keep=len(healthy)) == healthy


def test_recovery_giving_up_keeps_the_best_text_any_attempt_reached():
    assert recovery_cut("Short.", best_healthy="A longer healthy text.", recovered_at=1,
                        giving_up=True) == "A longer healthy text."


def test_an_empty_continuation_is_retried_with_another_seed_and_more_temperature():
    s = Sampling(temperature=0.8, seed=5)
    r = retry_sampling(s, 2)
    assert (r.seed, r.temperature) == (5 + 62, 0.9)
    assert retry_sampling(Sampling(temperature=0.95, seed=None), 1).seed is None
    assert retry_sampling(Sampling(temperature=0.95, seed=None), 1).temperature == 1.0
    assert r.top_p == s.top_p


class FakeMonitor:
    protected = 0

    def __init__(self, fail_at: int | None = None):
        self.fail_at = fail_at
        self.fed: list[str] = []

    def feed(self, text, final=False):
        self.fed.append(text)
        if self.fail_at is not None and count_words(text) >= self.fail_at:
            return Health(ok=False, reasons=["loop: a repeated passage"])
        return None


def steer_for(partial="", monitor=None, goal=10, allow_from=8, cap=12):
    events = []
    steer = SectionSteer(3, partial, SectionTargets(goal, allow_from, cap, 0.8), monitor or FakeMonitor(),
                         events.append, words_before=100)
    return steer, events


def test_steer_allows_the_end_from_allow_from_and_emits_tokens():
    steer, events = steer_for()
    assert not steer("One two three").allow_end
    s = steer(" four five six seven eight")
    assert s.allow_end and not s.stop
    assert [e.section_words for e in events] == [3, 8]
    assert all(isinstance(e, SectionToken) and e.index == 3 for e in events)
    assert events[-1].total_words == 108


def test_steer_stops_at_a_sentence_end_past_the_goal_and_at_the_cap():
    steer, _ = steer_for()
    steer("One two three four five six seven eight nine ten.")
    assert steer(" Eleven").stop
    steer, _ = steer_for()
    assert steer("one two three four five six seven eight nine ten eleven twelve").stop


def test_steer_stops_where_the_model_starts_another_part():
    steer, _ = steer_for()
    assert not steer("One two three.").stop
    assert steer("\n## Chapter Two").stop


def test_steer_keeps_a_health_failure_and_stops_at_once():
    steer, _ = steer_for(monitor=FakeMonitor(fail_at=4))
    assert not steer("One two").stop
    s = steer(" three four")
    assert s.stop and steer.bad is not None and steer.bad.kind == "loop"


def test_steer_judges_the_partial_text_with_the_new_words():
    monitor = FakeMonitor()
    steer, events = steer_for(partial="Before. ", monitor=monitor)
    steer("After")
    assert monitor.fed == ["Before. After"]
    assert events[0].section_words == 2
