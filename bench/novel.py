"""Bench: a 100,000-word novel in two levels (book -> chapters -> scenes) on the demo model.

    python bench/novel.py --project bench/results/novel.longhand [--words 100000] [--ctx 8192|auto]
                          [--until 08:10] [--threads 1] [--seed 1]
    python bench/novel.py --project bench/results/novel.longhand --reopen   # time to first token

Resumable: the job lives in the project file (autosaved while it writes); run the same command
again and it continues where it stopped. Each run appends its per-scene rows to
``bench/results/novel.json``; the report (``novel.md``) is rebuilt from all rows and the project:

* words per chapter vs target and their S_l (goal: mean >= 95), whole-book S_l so far; a
  chapter's S_l is against what it was written to: its target and the words carried into it
  from short chapters before it (the target column shows them as "2477 +150");
* the repeated 4-gram share of the book so far (goal <= 0.05);
* prompt tokens evaluated per document token (goal <= 1.1): every prompt token the backend
  computed (book plan, scene plans, scenes, summaries) over the tokens of the written text,
  and the same split by what each prompt asked for (``evaluated_by_kind``);
* time to first token per scene (flat: median of the first and the last ten chapters);
* peak RSS per chapter; codex entries in each scene's prompt;
* ``--reopen``: the time from opening the project (model load apart) to the first new token;
  the project's prompt cache (``core.engine.prompt_cache``, as every job path uses it) is loaded
  in that time, ``--no-prompt-cache`` measures without it.

Nothing here is timed by a test; the numbers come from this script's runs on this machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

INSTRUCTION = ("Write a {words}-word fantasy novel about a cartographer who discovers that her maps "
               "change the land they depict.")
BIBLE = ("Ilse Marren, a cartographer of Saltmarsh, learns that what she draws with her mother's silver "
         "nib becomes true of the land. Tone: quiet, precise, melancholy; third person, past tense. "
         "The Duke wants the Greywater moved; the Guild hides why such maps were forbidden.")


def _rss_mb() -> float:
    import psutil
    return round(psutil.Process().memory_info().rss / 2**20, 1)


def _deadline(until: str | None) -> float | None:
    if not until:
        return None
    h, m = (int(x) for x in until.split(":"))
    now = dt.datetime.now(dt.timezone.utc)
    end = now.replace(hour=h, minute=m, second=0, microsecond=0)
    if end <= now:
        end += dt.timedelta(days=1)
    return time.time() + (end - now).total_seconds()


# What a prompt asks for, by the words that open its last request (the engine's own prompts).
_KINDS = [("book plan", ("Plan the following novel", "Outline the story")),
          ("chapter summary", ("Sum it up", "(In short, what happens")),
          ("top-up scene plan", ("Plan one more scene",)),
          ("chapter plan", ("Break chapter", "Scene 1 - Main Point:")),
          ("go on with a scene", ("Go on with scene",))]


def _repeats_earlier(text: str, seen: set) -> float | None:
    """The share of ``text``'s 4-grams in ``seen`` (then adds them to it)."""
    from longhand.core.text.wordcount import grams, units
    gs = grams(units(text), 4)
    share = round(sum(g in seen for g in gs) / len(gs), 3) if gs else None
    seen.update(gs)
    return share


def _told_again(project, index: int) -> bool:
    """Does the kept text of scene ``index`` hold a run of sentences that tell earlier ones
    again in other words (the health check's retelling measure, as the engine runs it on a
    chat model's scene: streamed, the six sections before it as the reference)?"""
    from longhand.core.text.health import HealthMonitor
    from longhand.core.text.language import detect_language
    text = project.sections[index].text
    earlier = [s.text for s in project.sections[max(0, index - 6):index] if s.text]
    m = HealthMonitor(detect_language(project.instruction), reference="\n\n".join(earlier), story=True,
                      retelling=True, chatter=False)
    for end in range(48, len(text) + 48, 48):
        bad = m.feed(text[:end], final=end >= len(text))
        if bad is not None and any("in other words" in r for r in bad.reasons):
            return True
    return False


def _kind(prompt, in_scene: bool) -> str:
    asks = [m for _, m in prompt.turns] or ["".join(prompt.user)]
    last = asks[-1] + "".join(prompt.answer)[-40:]
    for kind, marks in _KINDS:
        if any(m in last for m in marks):
            return kind if kind != "go on with a scene" or in_scene else "other"
    return "scene" if in_scene else "other"


def _count_by_kind(backend, table: dict, in_scene) -> None:
    """Every generate call's evaluated prompt tokens, added up by what the prompt asks for."""
    generate = backend.generate

    def counted(prompt, **kw):
        before = backend.prompt_tokens_evaluated
        g = generate(prompt, **kw)
        row = table.setdefault(_kind(prompt, in_scene()), {"calls": 0, "evaluated": 0, "generated": 0})
        row["calls"] += 1
        row["evaluated"] += backend.prompt_tokens_evaluated - before
        row["generated"] += g.generated_tokens
        return g

    backend.generate = counted


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--project", required=True, help="the novel's project file (created, then resumed)")
    ap.add_argument("--words", type=int, default=100_000)
    ap.add_argument("--ctx", default="8192",
                    help="the context in tokens, fixed (long books use summaries); 'auto': as the app "
                         "sizes it for --words (up to the model's 32k), growing when a chapter needs more")
    ap.add_argument("--until", help="stop at this UTC time (HH:MM), saving everything")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--codex", default=str(C.PROMPTS / "novel_codex.json"))
    ap.add_argument("--replan", action="store_true",
                    help="plan the chapters not yet written again first (the plan goes on from the written ones)")
    ap.add_argument("--reopen", action="store_true", help="measure the time to the first new token, then stop")
    ap.add_argument("--out", help="results folder (default bench/results)")
    ap.add_argument("--no-prompt-cache", action="store_true",
                    help="neither load nor save the project's prompt cache (the KV cache on disk)")
    ap.add_argument("--fill-to", type=int, metavar="WORDS",
                    help="make a synthetic copy of --project filled to WORDS words (later chapters get "
                         "fallback scenes holding the written scenes' text, cycled, and first/last-sentence "
                         "summaries) at --fill-out, for --reopen at that length; no model is run")
    ap.add_argument("--fill-out", help="where --fill-to writes the copy")
    C.add_model_arg(ap)
    C.add_threads_arg(ap)
    args = ap.parse_args()
    import logging
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    # (where each prompt parts from the context's cache: what the cost by kind does not say)
    logging.getLogger("longhand.core.backends.llama").setLevel(logging.DEBUG)

    from longhand.core.backends.llama import LlamaCppBackend
    from longhand.core.engine import book as B
    from longhand.core.engine import book_model as BM
    from longhand.core.engine import events as EV
    from longhand.core.engine.codex import load_codex
    from longhand.core.engine.events import PlanToken, SectionDone, SectionStarted, SectionToken
    from longhand.core.engine.prompt_cache import PromptCache
    from longhand.core.errors import CancelToken
    from longhand.core.projects.autosave import Autosave
    from longhand.core.projects.project import Project
    from longhand.core.text.chatter import chatter_share
    from longhand.core.text.health import junk_share, run_on_share
    from longhand.core.text.language import detect_language, language_share

    if args.fill_to:
        return fill(Path(args.project), Path(args.fill_out), args.fill_to)
    out = C.out_dir(args.out)
    results_path = out / "novel.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {"runs": [], "scenes": []}
    path = Path(args.project)
    t_open = time.perf_counter()
    if path.exists():
        project = Project.open(path)
    else:
        project = Project(instruction=INSTRUCTION.format(words=args.words), target_words=args.words, bible=BIBLE)
        project.codex.merge(load_codex(args.codex))
        project.path = path
        project.lock()
        project.save()
    t_load = time.perf_counter()
    if args.ctx == "auto":
        from longhand.core.engine.session import EngineConfig
        n_ctx, max_ctx = EngineConfig().context(project.target_words)
    else:
        n_ctx = max_ctx = int(args.ctx)
    if args.model == "demo":
        backend = LlamaCppBackend(C.demo_model(), n_ctx=n_ctx, max_ctx=max_ctx, n_threads=args.threads, demo=True)
    else:
        path = C.instruct_model() if args.model == "instruct" else Path(args.model)
        backend = LlamaCppBackend(path, n_ctx=n_ctx, max_ctx=max_ctx, n_threads=args.threads)
    load_seconds = time.perf_counter() - t_load
    writer = B.BookWriter(backend, seed=args.seed)
    run = {"started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "machine": C.machine(),
           "model": args.model,
           "git": C.git_state(), "ctx": backend.info.n_ctx, "threads": args.threads,
           "words_at_start": project.words, "model_load_seconds": round(load_seconds, 2),
           "document_tokens_at_start": sum(backend.count_tokens(s.text) for s in project.sections if s.text)}
    by_kind = run["evaluated_by_kind"] = {}
    _count_by_kind(backend, by_kind, lambda: state["scene"] is not None)
    cancel = CancelToken()
    # Stop cleanly on SIGTERM or SIGINT (a background job ignores SIGINT): the scene being
    # written is cancelled, the project saved, this run's rows and the report written.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: cancel.cancel())
    deadline = _deadline(args.until)
    if deadline:
        threading.Thread(target=lambda: (time.sleep(max(0, deadline - time.time())), cancel.cancel()),
                         daemon=True).start()
    autosave = Autosave(project, interval=5.0)
    state: dict = {"scene": None, "first_any": None}
    t_start = time.perf_counter()
    # the prompt cache, as JobRunner keeps it (its load counts in the time to the first token)
    cache = None if args.no_prompt_cache else PromptCache(backend, project.path)
    if cache is not None:
        cache.load()
        run["prompt_cache"] = {"tokens_loaded": cache.loaded_tokens, "load_seconds": round(cache.load_seconds, 3),
                               "bytes": cache.size()}

    def on_event(e):
        autosave(e)
        if cache is not None:
            cache(e)
        now = time.perf_counter()
        if state["first_any"] is None and isinstance(e, (PlanToken, SectionToken)):
            state["first_any"] = now - t_start
        if state.get("first_scene") is None and isinstance(e, SectionToken):
            state["first_scene"] = now - t_start
            if args.reopen:
                cancel.cancel()
        if isinstance(e, SectionStarted):
            sec = project.sections[e.index]
            state["scene"] = {"t0": now, "ttft": None, "eval0": backend.prompt_tokens_evaluated,
                              "gen0": backend.generated_tokens, "chapter": sec.chapter, "mode": e.mode,
                              "scene": BM.chapter_scenes(project, sec.chapter).index(e.index)}
        elif isinstance(e, SectionToken) and state["scene"] and state["scene"]["ttft"] is None:
            state["scene"]["ttft"] = now - state["scene"]["t0"]
        elif isinstance(e, SectionDone) and state["scene"]:
            s = state["scene"]
            sec = project.sections[e.index]
            results["scenes"].append({
                "run": len(results["runs"]), "chapter": s["chapter"] + 1, "scene": s["scene"] + 1,
                "mode": s["mode"], "target": e.target_words, "words": e.words,
                "ttft": round(s["ttft"] or 0.0, 3), "seconds": round(now - s["t0"], 2),
                "generated_tokens": backend.generated_tokens - s["gen0"],
                "prompt_tokens_evaluated": backend.prompt_tokens_evaluated - s["eval0"],
                "codex_used": len(sec.codex_used), "codex_names": list(sec.codex_used),
                "rss_mb": _rss_mb(), "finished": not cancel.cancelled,
                # the text-health figures of what was kept (issue 14)
                "junk_share": round(junk_share(e.text), 4), "run_on_share": round(run_on_share(e.text), 4),
                "language_share": language_share(e.text, detect_language(project.instruction)),
                "chatter_share": round(chatter_share(e.text), 4),
                "recoveries": e.recoveries, "needs_attention": e.needs_attention})
            state["scene"] = None
        elif isinstance(e, EV.BookPlanReady):
            run["book_plan"] = {"how": e.how, "chapters": len(e.chapters),
                                "distinct_synopses": len({c.synopsis for c in e.chapters}),
                                "seconds": round(now - t_start, 1)}
            print(f"book plan: {len(e.chapters)} chapters ({e.how})", file=sys.stderr, flush=True)
        elif isinstance(e, EV.ChapterPlanned):
            print(f"chapter {e.chapter + 1}: {len(e.scenes)} scenes ({e.how})", file=sys.stderr, flush=True)
        elif isinstance(e, EV.ChapterDone):
            print(f"chapter {e.chapter + 1} done: {e.words}/{e.target_words} words"
                  f"{' (short: ' + e.short + ')' if e.short else ''}; summary: "
                  f"{e.summary[:100]!r}", file=sys.stderr, flush=True)
        if type(e).__name__ == "SectionRecovery":
            # what the health check cut, and why (to read the scenes that need attention)
            sec = project.sections[e.index]
            with open(out / "novel_recoveries.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps({"id": "novel", "chapter": sec.chapter + 1, "index": e.index,
                                    "attempt": e.attempt, "kind": e.kind, "reasons": e.reasons,
                                    "words_kept": e.words_kept, "words_cut": e.words_cut,
                                    "cut_text": e.cut_text, "kept_tail": sec.text[-3000:],
                                    "lang": detect_language(project.instruction),
                                    "instruction": project.instruction, "main_point": sec.main_point},
                                   ensure_ascii=False) + "\n")
            print(f"  recovery {e.attempt} ({e.kind}): {'; '.join(e.reasons)}; kept {e.words_kept}, "
                  f"cut {e.words_cut}", file=sys.stderr, flush=True)
        if isinstance(e, SectionDone):
            print(f"  scene done: {e.words}/{e.target_words} words, total {project.words}", file=sys.stderr,
                  flush=True)

    try:
        if not project.chapters:
            planned = writer.plan_book(project.instruction, project.target_words, bible=project.bible,
                                       on_event=on_event, cancel=cancel)
            # (a plan stopped half way is not the book's: the next run plans it again, as a
            # job does; adopted, the stopped run left a 40-chapter fallback plan)
            if not cancel.cancelled:
                project.chapters = planned
            autosave.save()
        elif args.replan:
            from longhand.core.engine import outline_model as OM
            plan = OM.work_copy(project)            # (as the GUI re-plans)
            planned = writer.replan_book(plan, on_event=on_event, cancel=cancel)
            # (a plan stopped half way is not adopted, as above; nor a fallback plan: it would
            # replace the model's own plan of the chapters to come with a generic one)
            if not cancel.cancelled and run.get("book_plan", {}).get("how") == "parsed":
                OM.apply_copy(project, plan)
                run["replanned"] = {"chapters": len(planned), "kept": sum(
                    any(s.text.strip() for s in project.sections if s.chapter == c) for c in range(len(planned)))}
            autosave.save()
        writer.write_book(project, on_event=on_event, cancel=cancel)
    finally:
        autosave.save()
        project.close()
        if cache is not None:
            cache.save()
            run.setdefault("prompt_cache", {}).update(saved_bytes=cache.size(),
                                                      save_seconds=round(cache.save_seconds, 3))
        run["seconds"] = round(time.perf_counter() - t_start, 1)
        run["words_at_end"] = project.words
        run["prompt_tokens_evaluated"] = backend.prompt_tokens_evaluated
        run["generated_tokens"] = backend.generated_tokens
        # (None: nothing was generated, a finished book has no first new token)
        first_any, first_scene = state["first_any"], state.get("first_scene")
        run["time_to_first_token_after_open"] = None if first_any is None else round(first_any, 2)
        run["time_to_first_scene_token_after_open"] = None if first_scene is None else round(first_scene, 2)
        run["open_seconds"] = round(t_load - t_open, 3)
        run["reopen"] = args.reopen
        run["document_tokens"] = sum(backend.count_tokens(s.text) for s in project.sections if s.text)
        results["runs"].append(run)
        C.write_json(results_path, results)
        report(project, results, out, backend)
        backend.close()
    return 0


def fill(src: Path, dst: Path, words: int) -> int:
    """A copy of a real novel project, padded to ``words`` with its own scenes' text."""
    from longhand.core.engine import book as B
    from longhand.core.engine import book_model as BM
    from longhand.core.engine import book_plan as BP
    from longhand.core.engine.memory import fallback_summary
    from longhand.core.engine.plan import DONE
    from longhand.core.projects.project import Project
    p = Project.load(src)
    texts = [s.text for s in p.sections if s.status == DONE and s.text.strip()]
    if not texts:
        raise SystemExit("the project has no finished scenes to fill with")
    k = 0
    for c in range(len(p.chapters)):
        if p.words >= words:
            break
        if BM.chapter_status(p, c) == "done":
            continue
        if not BM.chapter_scenes(p, c):
            at = BM.insert_at(p, c)
            n = BM.expected_scenes(p.chapters[c].target_words)
            p.sections[at:at] = BP.fallback_scenes(p, c, n, p.chapters[c].target_words)
        for i in BM.chapter_scenes(p, c):
            s = p.sections[i]
            if s.status != DONE or not s.text.strip():
                s.text, s.status = texts[k % len(texts)], DONE
                k += 1
        p.chapters[c].summary = fallback_summary(BM.chapter_text(p, c), B.SUMMARY_WORDS)
        p.chapters[c].plan_how = "synthetic"
    # reopen mid-scene, as after a crash: the last filled scene half written, its chapter open
    last = max(i for i, s in enumerate(p.sections) if s.text.strip())
    sec = p.sections[last]
    sec.text = " ".join(sec.text.split()[: max(20, len(sec.text.split()) // 2)])
    sec.status = "writing"
    p.chapters[sec.chapter].summary = ""
    p.path = None
    p.save(dst)
    print(f"{dst}: {p.words} words, {sum(BM.chapter_status(p, c) == 'done' for c in range(len(p.chapters)))} "
          f"chapters done", file=sys.stderr)
    return 0


def report(project, results: dict, out: Path, backend) -> None:
    from longhand.core.engine import book_model as BM
    from longhand.core.export import export
    from longhand.core.text.chatter import chatter_share
    from longhand.core.text.health import junk_share, run_on_share
    from longhand.core.text.wordcount import length_score, repeated_ngram_share
    rows = []
    seen_before: set = set()        # the 4-grams of the chapters before (see "repeats_earlier")
    for c, ch in enumerate(project.chapters):
        status = BM.chapter_status(project, c)
        if status == "unplanned":
            continue
        scenes = [r for r in results["scenes"] if r["chapter"] == c + 1]
        texts = [project.sections[i].text for i in BM.chapter_scenes(project, c) if project.sections[i].text.strip()]
        words = BM.chapter_words(project, c)
        # (S_l against what the chapter was written to: its target and the words carried into
        # it from short chapters before it)
        rows.append({"chapter": c + 1, "title": ch.title, "status": status, "target": ch.target_words,
                     "carried": ch.carried,
                     "words": words, "s_l": round(length_score(ch.goal, words), 1) if words else 0.0,
                     "scenes": len(BM.chapter_scenes(project, c)), "plan": ch.plan_how,
                     "ttft_median": round(statistics.median([r["ttft"] for r in scenes]), 2) if scenes else None,
                     "peak_rss_mb": max((r["rss_mb"] for r in scenes), default=None),
                     "codex_per_scene": round(statistics.mean([r["codex_used"] for r in scenes]), 1) if scenes else None,
                     # from the kept text itself (rows of a run killed outright are lost)
                     "max_junk": max((round(junk_share(t), 3) for t in texts), default=None),
                     "max_run_on": max((round(run_on_share(t), 3) for t in texts), default=None),
                     "recoveries": sum(r.get("recoveries", 0) for r in scenes),
                     "needs_attention": sum(1 for i in BM.chapter_scenes(project, c)
                                            if project.sections[i].needs_attention),
                     # the share of its 4-grams that an earlier chapter already used: the
                     # book's stock phrases
                     "repeats_earlier": _repeats_earlier(BM.chapter_text(project, c), seen_before),
                     # scenes that tell earlier sentences again in other words (kept text)
                     "told_again": sum(_told_again(project, i) for i in BM.chapter_scenes(project, c)
                                       if project.sections[i].text.strip()),
                     "summary": ch.summary})
    done = [r for r in rows if r["status"] == "done"]
    text = project.text()
    # per document token written in the runs on record (a run killed outright leaves no row)
    measured = [r for r in results["runs"] if "document_tokens_at_start" in r and not r.get("reopen")]
    evaluated = sum(r["prompt_tokens_evaluated"] for r in measured)
    doc_tokens = sum(r["document_tokens"] - r["document_tokens_at_start"] for r in measured)
    by_kind: dict = {}
    counted = [r for r in measured if "evaluated_by_kind" in r]
    counted_doc = sum(r["document_tokens"] - r["document_tokens_at_start"] for r in counted)
    for r in counted:
        for kind, row in r.get("evaluated_by_kind", {}).items():
            into = by_kind.setdefault(kind, {"calls": 0, "evaluated": 0, "generated": 0})
            for key in into:
                into[key] += row[key]
    summary = {
        "chapters_planned": len(project.chapters), "chapters_written": len(done),
        "words": project.words, "target": project.target_words,
        "mean_chapter_s_l": round(statistics.mean([r["s_l"] for r in done]), 1) if done else None,
        "book_s_l_so_far": round(length_score(project.target_words, project.words), 1) if project.words else 0,
        "repeated_4gram_share": round(repeated_ngram_share(text, 4), 4),
        # the repeats whose last word is not a function word (the ones Sampling.avoid bans)
        "repeated_4gram_share_content_word": round(C.content_repeat_share(text), 4),
        "prompt_tokens_evaluated": evaluated, "document_tokens": doc_tokens,
        "evaluated_per_document_token": round(evaluated / doc_tokens, 3) if doc_tokens else None,
        # by what the prompt asked for, in the runs that counted it (per document token
        # written in those runs)
        "evaluated_by_kind": {k: {**v, "per_document_token": round(v["evaluated"] / counted_doc, 3) if counted_doc
                                  else None} for k, v in sorted(by_kind.items())},
        "document_tokens_in_runs_by_kind": counted_doc,
        "reopen_ttft": [r["time_to_first_token_after_open"] for r in results["runs"]
                        if r.get("reopen") and r.get("time_to_first_token_after_open")],
        # tokens the prompt cache restored in each reopen (None: measured without the cache)
        "reopen_prompt_cache_tokens": [r.get("prompt_cache", {}).get("tokens_loaded")
                                       for r in results["runs"] if r.get("reopen")],
        "codex_entries": len(project.codex.entries), "codex_proposed": len(project.codex.proposed),
        "scenes_needing_attention": sum(1 for x in project.sections if x.needs_attention),
        "scenes_told_again_in_other_words": sum(r["told_again"] for r in rows),
        "scenes_with_text": sum(1 for x in project.sections if x.text.strip()),
        "words_in_scenes_needing_attention": sum(x.words for x in project.sections if x.needs_attention),
        "recoveries": sum(r.get("recoveries", 0) for r in results["scenes"]),
        "max_scene_junk_share": max((round(junk_share(x.text), 3) for x in project.sections if x.text.strip()),
                                    default=None),
        "max_scene_run_on_share": max((round(run_on_share(x.text), 3) for x in project.sections if x.text.strip()),
                                      default=None),
        # assistant talk and words run together by sampling, in the kept text (read the manuscript too)
        "chatter_share": round(chatter_share(text), 4),
        "glued_words": C.glued_words(text)[:40],
    }
    results["chapters"] = rows
    results["summary"] = summary
    C.write_json(out / "novel.json", results)
    model = results["runs"][-1].get("model", "demo") if results["runs"] else "demo"
    # the manuscript as a reader gets it (the chapters written so far)
    export(project, out / "novel_manuscript.md")
    export(project, out / "novel_manuscript.pdf")
    lines = [f"# Novel benchmark (two levels, {model} model)", "",
             f"Command: `python bench/novel.py --project {project.path} --model {model}` (resumable; runs: "
             f"{len(results['runs'])}). The manuscript so far: `novel_manuscript.md` and `.pdf`.", "",
             f"Last run: {C.machine_line(results['runs'][-1]['machine'])}" if results["runs"] else "", "",
             "| chapter | title | status | target | words | S_l | scenes | plan | TTFT median s | peak RSS MB "
             "| codex/scene | max junk | max run-on | recoveries | need attention | 4-grams of earlier chapters "
             "| scenes told again in other words |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        target = f"{r['target']} +{r['carried']}" if r.get("carried") else f"{r['target']}"
        lines.append(f"| {r['chapter']} | {r['title']} | {r['status']} | {target} | {r['words']} | {r['s_l']} | "
                     f"{r['scenes']} | {r['plan']} | {r['ttft_median']} | {r['peak_rss_mb']} | {r['codex_per_scene']} "
                     f"| {r['max_junk']} | {r['max_run_on']} | {r['recoveries']} | {r['needs_attention']} "
                     f"| {r['repeats_earlier']} | {r.get('told_again')} |")
    lines += ["", "```", json.dumps(summary, indent=2), "```", ""]
    C.write_text(out / "novel.md", "\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
