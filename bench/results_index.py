"""Bench tool: the index of the results folder (its ``README.md``), written from the result files and git.

    python bench/results_index.py [RESULTS_DIR] [--check]

One table row per bench: the script that produces it, its result files, what it measures, and the
date, commit and machine of its main result. They come from the JSON's ``machine`` record (written
by ``_common.machine()``: the commit measured, the date, the CPU); a file without one is dated by
the last commit that touched it (``git log -1``) and marked †. Then a short history per bench:
``git log --follow`` of its main file, one line per commit with the headline figure read from the
JSON at that commit, or the commit's subject when there is none. Files no bench claims are listed
at the end. The output depends only on the files and the git history, never on the clock.

``RESULTS_DIR`` defaults to ``bench/results``; ``--check`` writes nothing and exits 1 when the
index there is not what this script would write.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent / "results"
INDEX = "README.md"
HISTORY_ROWS = 8                 # commits shown per bench; older ones: git log --follow
SKIP_SUFFIXES = (".lock", ".tmp", ".part")
ISSUE_REF = re.compile(r"\s*\(issues? \d+[^)]*\)")   # "(issue 14)" in a subject: not in the index


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    main: str                                  # the main result file, relative to the folder
    files: tuple[str, ...]                     # glob patterns; "DIR/**" is shown as one folder
    measures: str
    headline: tuple[tuple[str, str, float], ...] = ()   # (label, dotted path, scale)


def _h(*items: tuple) -> tuple[tuple[str, str, float], ...]:
    return tuple((label, path, scale[0] if scale else 1.0) for label, path, *scale in items)


BENCHES: tuple[Bench, ...] = (
    Bench("length, demo model", "bench/length.py", "length/demo/length.json", ("length/demo/**",),
          "length score S_l, loops and junk on the prompt set",
          _h(("S_l", "s_l"), ("repeated 4-grams", "repeat_share"), ("recoveries", "health.recoveries"))),
    Bench("length, instruct model", "bench/length.py --model instruct", "length/instruct/length.json",
          ("length/instruct/**", "length/instruct-before/**"),
          "the same on the instruct test model (instruct-before: the engine before chat models)",
          _h(("S_l", "s_l"), ("repeated 4-grams", "repeat_share"), ("recoveries", "health.recoveries"))),
    Bench("length, both models", "bench/length_table.py", "length/models.md",
          ("length/models.md", "length.json", "length_texts.jsonl"),
          "both models' runs rescored with today's checks (length.json: the demo model on an "
          "earlier engine, one of its inputs)"),
    Bench("length, text health", "bench/length.py --ids …", "health/final/en12/length.json", ("health/final/**",),
          "the text-health check on a 10,000-word job, a false-positive set and the Chinese prompts",
          _h(("S_l", "s_l"), ("max junk", "health.max_junk"), ("needs attention", "health.needs_attention"))),
    Bench("throughput", "bench/throughput.py", "throughput.json", ("throughput.*",),
          "backend speed against plain llama-cpp-python",
          _h(("ours tok/s", "ours_tokens_per_s"), ("raw tok/s", "raw_tokens_per_s"))),
    Bench("phrase ban speed", "bench/phrase_ban_speed.py --model instruct", "phrase_ban_speed.json",
          ("phrase_ban_speed.*",), "generation speed with and without a book's phrase ban",
          _h(("plain tok/s", "median_tokens_per_second_after_first.plain"),
             ("ban tok/s", "median_tokens_per_second_after_first.ban"))),
    Bench("chapter under other DRY settings", "bench/chapter_dry.py --project … --chapter N --model instruct",
          "chapter_dry/chapter_dry.json", ("chapter_dry/**",),
          "one chapter of a novel written again with DRY following repeats through dialogue and names, or stricter"),
    Bench("threads", "bench/threads.py", "threads.json", ("threads.*",),
          "speed with 1 to N llama.cpp threads", _h(("best threads", "best_threads"))),
    Bench("prefix reuse", "bench/prefix_reuse.py", "prefix_reuse.json",
          ("prefix_reuse.*", "prefix_reuse_*", "cli_*.json"),
          "prompt tokens evaluated per document token, time to first token, RSS",
          _h(("evaluated per doc token", "ours_per_doc_token"), ("S_l", "s_l"), ("words", "words"))),
    Bench("novel memory", "bench/novel_memory.py", "novel_memory.json", ("novel_memory.*",),
          "time and memory per section at 7x the context",
          _h(("words", "totals.words"), ("seconds", "totals.seconds"))),
    Bench("novel, demo model", "bench/novel.py", "health/novel_final/novel.json",
          ("health/novel_final/**", "novel.*", "novel_recoveries.jsonl", "novel_reopen_*.json",
           "health/novel_runon_before.*"),
          "a 100,000-word novel: S_l per chapter, loops, cost (novel.*: an earlier run, "
          "novel_runon_before: the collapsed one; the failure scripts read both)",
          _h(("words", "summary.words"), ("chapters", "summary.chapters_written"),
             ("mean chapter S_l", "summary.mean_chapter_s_l"))),
    Bench("novel, instruct model", "bench/novel.py --model instruct", "novel-instruct/novel.json",
          ("novel-instruct/**",), "the novel on the instruct test model",
          _h(("words", "summary.words"), ("chapters", "summary.chapters_written"),
             ("mean chapter S_l", "summary.mean_chapter_s_l"))),
    Bench("novel 30,000 words in one run, instruct model", "bench/novel.py --model instruct --words 30000",
          "novel-instruct-30k/novel.json", ("novel-instruct-30k/**",),
          "the 30,000-word novel on the instruct test model from an empty project, on one engine "
          "(without-carry/: the same before a short chapter's lack was carried on)",
          _h(("words", "summary.words"), ("book S_l", "summary.book_s_l_so_far"),
             ("mean chapter S_l", "summary.mean_chapter_s_l"))),
    Bench("novel 100,000 words, instruct model", "bench/novel.py --model instruct --words 100000",
          "novel-instruct-100k/novel.json", ("novel-instruct-100k/**",),
          "the 100,000-word novel on the instruct test model (resumable: as far as it got)",
          _h(("words", "summary.words"), ("chapters", "summary.chapters_written"),
             ("mean chapter S_l", "summary.mean_chapter_s_l"))),
    Bench("human reference", "bench/human_reference.py --name … --text …", "human_reference.json",
          ("human_reference.*",), "the novel bench's repetition measures on human prose (a yardstick)"),
    Bench("plan parse", "bench/plan_parse.py", "plan_parse.json", ("plan_parse.*",),
          "one-level plans with and without the grammar"),
    Bench("plan grammar", "bench/plan_grammar.py", "plan_grammar.json", ("plan_grammar.*",),
          "garbled chapter lines in book plans"),
    Bench("plan book", "bench/plan_book.py", "plan_book_instruct.json", ("plan_book_*.json",),
          "a book plan on a real model: repeated chapters"),
    Bench("remote", "bench/remote.py", "remote_instruct.json", ("remote_*",),
          "a job over llama_cpp.server (no DRY)"),
    Bench("GUI stall", "bench/gui_stall.py", "gui_stall.json", ("gui_stall.*",),
          "longest GUI-thread stall while streaming, Stop latency",
          _h(("max stall ms", "stall_while_streaming.max_ms"),)),
    Bench("GUI novel", "bench/gui_novel.py", "gui_novel.json", ("gui_novel.*",),
          "GUI-thread cost of a 200-scene book",
          _h(("progress tick ms", "progress_tick_ms"), ("open s", "open_s"))),
    Bench("batch", "bench/batch.py", "batch.json", ("batch.json", "batch.md"),
          "longhand batch on one and two servers, killed and resumed"),
    Bench("batch scaling", "bench/batch_scaling.py", "batch_scaling.json", ("batch_scaling*",),
          "batch client throughput on 1-16 stand-in servers (p2: two processes; real: a real "
          "model; profile: the client's CPU)",
          _h(("servers", "-1.servers"), ("words/s", "-1.words_per_s"), ("efficiency", "-1.efficiency"))),
    Bench("batch mixed kill", "bench/batch_mixed_kill.py", "batch_mixed_kill.json",
          ("batch_mixed_kill.*", "batch_kill_standin.*"),
          "a mixed batch killed and resumed (standin: on stand-in servers)",
          _h(("records", "resume.records"), ("S_l", "resume.S_l"))),
    Bench("frozen ratio", "bench/frozen_ratio.py", "frozen_ratio.json", ("frozen_ratio.*",),
          "speed of the frozen app against the venv", _h(("ratio", "ratio"),)),
    Bench("GPU offload", "bench/gpu_offload.py", "gpu_offload.json", ("gpu_offload.*",),
          "layers offloaded, speed, same text as the CPU",
          _h(("same text", "same_text_gpu_vs_cpu"),)),
    Bench("training pairs", "bench/training_pairs.py", "training_pairs.json", ("training_pairs.*",),
          "DPO pairs exported from regenerated takes", _h(("pairs", "pairs"),)),
    Bench("health cost", "bench/health_cost.py", "health_cost.json", ("health_cost.*",),
          "time the text-health check costs per streamed piece"),
    Bench("kv reopen", "bench/kv_reopen.py", "kv_reopen.json", ("kv_reopen.*",),
          "first token after reopening: from scratch vs the prompt cache",
          _h(("scratch s", "runs.demo.scratch_reopen_prompt.time_to_first_token_s"),
             ("with cache s", "runs.demo.with_cache.time_to_first_token_s"))),
    Bench("chatter calibration", "bench/chatter_calibration.py", "chatter_calibration.json",
          ("chatter_calibration.*",),
          "the chatter check on hand-labelled sections of both test models: false alarms, misses",
          _h(("false alarms", "summary.false_alarms"), ("misses", "summary.misses"),
             ("chatty sections", "summary.chatty_sections"), ("clean sections", "summary.clean_sections"))),
    Bench("run-on copies", "bench/runon_copies.py", "runon_copies.json", ("runon_copies.*",),
          "are words run together copies of earlier text?"),
    Bench("collapse", "bench/collapse.py", "health/collapse_k8.json", ("health/collapse_k8.json", "collapse.json"),
          "junk after rewriting a section under one changed factor"),
    Bench("collapse copy", "bench/collapse_copy.py", "health/collapse_copy.json",
          ("health/collapse_copy.json", "collapse_copy.json"), "how much a section copies a repeated one"),
    Bench("collapse tokens", "bench/collapse_tokens.py", "health/collapse/collapse_tokens.json",
          ("health/collapse/collapse_tokens.json",), "how likely the collapsed text is, token by token",
          _h(("glued tokens", "glued_tokens"),)),
    Bench("collapse samplers", "bench/collapse_samplers.py", "health/collapse/collapse_samplers.json",
          ("health/collapse/collapse_samplers*.json", "collapse_samplers.json"),
          "sampling on from before a collapse under several samplers"),
    Bench("packaging", "packaging/build.py --record", "packaging_cpu.json", ("packaging_*.json",),
          "bundle sizes and build times per variant",
          _h(("bundle MB", "bundle_bytes", 1e-6), ("build s", "build_seconds"))),
)


# ---------------------------------------------------------------------------------------
# Reading

def result_files(folder: Path) -> list[str]:
    """Every result file under ``folder``, relative, sorted; not the index, locks or hidden files."""
    out = []
    for p in folder.rglob("*"):
        rel = p.relative_to(folder).as_posix()
        if (not p.is_file() or rel == INDEX or p.name.endswith(SKIP_SUFFIXES)
                or any(part.startswith(".") for part in rel.split("/"))):
            continue
        out.append(rel)
    return sorted(out)


def matches(files: list[str], pattern: str) -> list[str]:
    """Files matching a glob pattern (``*`` stays within a folder; ``DIR/**`` is all under DIR)."""
    if pattern.endswith("/**"):
        return [f for f in files if f.startswith(pattern[:-2])]
    return [f for f in files if f.count("/") == pattern.count("/") and fnmatchcase(f, pattern)]


def load_json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


def machine_record(data) -> dict | None:
    m = data.get("machine") if isinstance(data, dict) else None
    return m if isinstance(m, dict) else None


def short_machine(m: dict | None) -> str:
    if not m:
        return "—"
    cpu = str(m.get("cpu") or "?").replace("(R)", "").replace("(TM)", "").replace(" CPU", "")
    cpu = " ".join(w for w in cpu.split() if w != "Processor" and "@" not in w and not w.endswith("GHz"))
    parts = [cpu or "?"]
    if m.get("cores"):
        parts.append(f"{m['cores']} cores")
    if m.get("memory_gib"):
        parts.append(f"{m['memory_gib']} GiB")
    return ", ".join(parts)


class Git:
    """The few git queries the index needs; every one answers "" outside a repository."""

    def __init__(self, folder: Path):
        self.folder = folder
        top = self._run(folder, "rev-parse", "--show-toplevel").strip()
        self.root = Path(top) if top else None

    @staticmethod
    def _run(cwd: Path, *args: str) -> str:
        try:
            r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return ""
        return r.stdout if r.returncode == 0 else ""

    def rel(self, path: Path) -> str:
        return path.resolve().relative_to(self.root.resolve()).as_posix()

    def last(self, path: Path) -> tuple[str, str]:
        """(commit, date) of the newest commit touching ``path``, or ("", "")."""
        if self.root is None:
            return "", ""
        out = self._run(self.root, "log", "-1", "--format=%h %cs", "--", self.rel(path)).split()
        return (out[0], out[1]) if len(out) == 2 else ("", "")

    def history(self, path: Path) -> list[tuple[str, str, str, str]]:
        """(commit, date, subject, path at that commit) for each commit of ``path``, newest first."""
        if self.root is None:
            return []
        out = self._run(self.root, "log", "--follow", "--format=%x1e%h%x1f%cs%x1f%s", "--name-only",
                        "--", self.rel(path))
        rows = []
        for chunk in out.split("\x1e")[1:]:
            head, _, names = chunk.partition("\n")
            commit, date, subject = (head.split("\x1f") + ["", ""])[:3]
            name = [n for n in names.splitlines() if n.strip()]
            rows.append((commit, date, subject, name[-1] if name else self.rel(path)))
        return rows

    def show(self, commit: str, path: str) -> str:
        return self._run(self.root, "show", f"{commit}:{path}") if self.root else ""


@dataclass
class Stamp:
    date: str
    commit: str
    machine: str
    from_git: bool                     # no machine record: the last commit that touched the file


def stamp(folder: Path, rel: str, git: Git) -> Stamp:
    path = folder / rel
    data = load_json(path.read_text(encoding="utf-8", errors="replace")) if rel.endswith(".json") else None
    m = machine_record(data)
    commit = date = ""
    if m:
        commit = str(m.get("git_commit") or "")
        date = str(m.get("date_utc") or "")[:10]
    if not commit and isinstance(data, dict) and isinstance(data.get("git"), dict):
        commit = str(data["git"].get("git_commit") or data["git"].get("commit") or "")
    if commit and date:
        return Stamp(date, commit, short_machine(m), False)
    g_commit, g_date = git.last(path)
    return Stamp(date or g_date or "—", (commit or g_commit or "—"), short_machine(m), True)


def _get(data, dotted: str):
    cur = data
    for key in dotted.split("."):
        if isinstance(cur, list):
            try:
                cur = cur[int(key)]
            except (ValueError, IndexError):
                return None
        elif isinstance(cur, dict):
            cur = cur.get(key)
        else:
            return None
    return cur


def _fmt(value, scale: float) -> str | None:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if isinstance(value, int) and scale == 1.0:
            return f"{value:,}"
        v = value * scale
        return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.4g}"
    if isinstance(value, str) and len(value) <= 40:
        return value
    return None


def headline(bench: Bench, text: str) -> str:
    """The bench's headline figures in one line, or "" when the JSON has none of them."""
    data = load_json(text) if bench.headline else None
    if data is None:
        return ""
    parts = []
    for label, dotted, scale in bench.headline:
        shown = _fmt(_get(data, dotted), scale)
        if shown is not None:
            parts.append(f"{label} {shown}")
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------
# Writing

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def shown_files(bench: Bench, files: list[str]) -> tuple[list[str], set[str]]:
    """How a bench's files appear in its row (a "DIR/**" pattern as one folder), and which they are."""
    shown, claimed = [], set()
    for pattern in bench.files:
        found = [f for f in matches(files, pattern) if f not in claimed]
        if not found:
            continue
        claimed.update(found)
        if pattern.endswith("/**"):
            shown.append(f"`{pattern[:-2]}` ({len(found)} files)")
        else:
            shown.extend(f"`{f}`" for f in found)
    return shown, claimed


def build(folder: Path, benches: tuple[Bench, ...] = BENCHES) -> str:
    folder = Path(folder)
    files = result_files(folder)
    git = Git(folder)
    lines = [
        "# Benchmark results",
        "",
        "Written by `python bench/results_index.py` from the result files and git: do not edit by hand,",
        "rerun it after a bench writes here. One row per bench, with its latest result only. Date,",
        "commit (the one measured) and machine come from the main result's `machine` record; † marks a",
        "main file without one, dated by the last commit that touched it. What each bench measures and",
        "how to read it: [Benchmarks](../../docs/dev/benches.md).",
        "",
        "Older runs and superseded variants are not kept here. History: git log",
        "(`git log --follow -- bench/results/FILE` for a file here,",
        "`git log --diff-filter=D --stat -- bench/results` for the ones removed).",
        "",
        "| bench | script | result files | measures | date | commit | machine |",
        "|---|---|---|---|---|---|---|",
    ]
    claimed_all: set[str] = set()
    rows: list[tuple[Bench, str]] = []
    for bench in benches:
        shown, claimed = shown_files(bench, files)
        claimed_all |= claimed
        if not claimed:
            continue
        main = bench.main if bench.main in claimed else sorted(claimed)[0]
        rows.append((bench, main))
        s = stamp(folder, main, git)
        mark = " †" if s.from_git else ""
        lines.append(f"| {_cell(bench.name)} | `{bench.script}` | {', '.join(shown)} | {_cell(bench.measures)} | "
                     f"{s.date} | {s.commit}{mark} | {_cell(s.machine)} |")

    no_record = [f for f in sorted(claimed_all) if f.endswith(".json")
                 and machine_record(load_json((folder / f).read_text(encoding="utf-8", errors="replace"))) is None]
    if no_record:
        lines += ["", "JSON results without a `machine` record (dated from git): "
                  + ", ".join(f"`{f}`" for f in no_record) + "."]
    others = [f for f in files if f not in claimed_all]
    if others:
        lines += ["", "## Other files", "", "No bench above claims these:", ""]
        lines += [f"- `{f}`" for f in others]

    lines += ["", "## History", "",
              f"Per bench, the last {HISTORY_ROWS} commits of its main result file (newest first), with the",
              "headline figures of the JSON at that commit, or the commit's subject.",
              ""]
    for bench, main in rows:
        lines += history_section(bench, folder / main, main, git)
    return "\n".join(lines).rstrip() + "\n"


def history_section(bench: Bench, path: Path, rel: str, git: Git) -> list[str]:
    out = [f"### {bench.name} (`{rel}`)", ""]
    entries = git.history(path)
    if not entries:
        return out + ["Not in git yet.", ""]
    out += ["| date | commit | result |", "|---|---|---|"]
    for commit, date, subject, at in entries[:HISTORY_ROWS]:
        figure = headline(bench, git.show(commit, at)) if at.endswith(".json") else ""
        if not figure:
            figure = ISSUE_REF.sub("", subject)
            figure = figure if len(figure) <= 110 else figure[:109].rstrip() + "…"
        out.append(f"| {date} | {commit} | {_cell(figure)} |")
    if len(entries) > HISTORY_ROWS:
        out.append(f"| | | {len(entries) - HISTORY_ROWS} older: git log --follow |")
    return out + [""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?", default=str(DEFAULT), help="results folder (default: bench's own)")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if the index is stale")
    args = ap.parse_args(argv)
    folder = Path(args.results)
    text = build(folder)
    target = folder / INDEX
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print(f"{target} is stale: run python bench/results_index.py", file=sys.stderr)
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
