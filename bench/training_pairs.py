"""Bench: DPO pairs from a project whose sections were regenerated and one edited by hand.

Copies a finished project (default: one written by ``bench/batch.py``), regenerates sections
on the demo model (the old text becomes a take, as the app's Regenerate does), edits one
section by hand (the model's text becomes a take and the section is marked edited, as the
app's editor does), then runs ``longhand export PROJECT --training dpo`` and reads the pairs
back. Writes ``training_pairs.json``/``.md`` and keeps the project and the pairs beside them.

    python bench/training_pairs.py [--project FILE.longhand] [--regenerate 1,2] [--edit 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys

from _common import machine, machine_line, out_dir, write_json, write_text

INSTRUCTION = "Write a 450-word story about a fisherman who befriends a seal."
PLAN = ["Old Tomas finds a young seal caught in his nets at dawn and cuts it free",
        "The seal follows his boat every morning, and the village laughs at him",
        "A storm comes; the seal leads Tomas home through the fog"]


def shorten(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n // 2] + " … " + text[-n // 2:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", help="a finished project to start from (default: write a new 3-section one)")
    ap.add_argument("--regenerate", default="1,2", help="sections (1-based) to regenerate on the demo model")
    ap.add_argument("--edit", type=int, default=3, help="section (1-based) to edit by hand")
    ap.add_argument("--out", help="results folder (default bench/results)")
    args = ap.parse_args()
    results = out_dir(args.out)
    from longhand.core.backends.factory import open_backend
    from longhand.core.engine.plan import EDITED, Section
    from longhand.core.engine.writer import AgentWriter
    from longhand.core.projects.project import Project

    project_path = results / "training_pairs.longhand"
    regen = [int(x) - 1 for x in args.regenerate.split(",") if x]
    backend = open_backend(None, n_ctx=8192, n_threads=1)
    try:
        writer = AgentWriter(backend, seed=99)
        if args.project:
            shutil.copyfile(args.project, project_path)
            p = Project.load(project_path)
        else:
            p = Project(instruction=INSTRUCTION, target_words=450, sections=[
                Section(point, 150, title=point.split(",")[0]) for point in PLAN])
            p.path = project_path
            p.settings["format_name"] = writer.format.name     # as the CLI and the app keep it
            writer.write(p)
        for i in regen:
            # another seed, as a user's Regenerate gets (the same seed writes the same text again)
            AgentWriter(backend, seed=1000 + i).write_section(p, i, mode="regenerate")
    finally:
        backend.close()
    # a hand edit, as the editor commits it: the model's text becomes a take, the section "edited"
    sec = p.sections[args.edit - 1]
    sec.takes.append(sec.text)
    sentences = sec.text.split(". ")
    sec.text = ". ".join(sentences[: max(1, len(sentences) // 2)]).rstrip(".") + ". She never told anyone."
    sec.status = EDITED
    p.save()
    pairs_path = results / "training_pairs.jsonl"
    cmd = ["longhand", "export", str(project_path), "--training", "dpo", "--out", str(pairs_path)]
    r = subprocess.run([sys.executable, "-m", "longhand", *cmd[1:]], capture_output=True, text=True)
    pairs = [json.loads(line) for line in pairs_path.read_text().splitlines()]
    edited = next((x for x in pairs if x["edited"]), None)
    data = {"machine": machine(), "project": str(project_path), "from": args.project or "written here", "sections": len(p.sections),
            "sections_with_takes": sum(1 for s in p.sections if s.takes),
            "takes": sum(len(s.takes) for s in p.sections), "pairs": len(pairs),
            "command": " ".join(cmd), "stderr": r.stderr.strip(), "exit_code": r.returncode,
            "edited_pair": {k: (shorten(v) if isinstance(v, str) else v) for k, v in (edited or {}).items()},
            "regenerated_pair": {k: (shorten(v) if isinstance(v, str) else v)
                                 for k, v in next((x for x in pairs if not x["edited"]), {}).items()}}
    write_json(results / "training_pairs.json", data)
    md = ["# DPO pairs from a project with regenerated and hand-edited sections", "",
          machine_line(data["machine"]), "",
          f"Project: {data['sections']} sections; sections {args.regenerate} regenerated on the demo model, "
          f"section {args.edit} edited by hand; {data['takes']} earlier takes in {data['sections_with_takes']} sections.",
          f"`{data['command']}` -> {data['pairs']} pairs ({data['stderr']}).", "",
          "One pair (the hand-edited section; texts shortened):", "", "```json",
          json.dumps(data["edited_pair"], ensure_ascii=False, indent=2), "```"]
    write_text(results / "training_pairs.md", "\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
