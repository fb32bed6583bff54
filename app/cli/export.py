"""CLI: ``longhand export PROJECT --out FILE.docx|.pdf|.md|.txt``."""

from __future__ import annotations

import sys

from ..core.export import check_writable, export
from ..core.export.manuscript import FONTS, PAGE_SIZES, SECTION_MODES, STYLES
from ..core.projects.project import Project
from . import command


def export_cmd(args) -> int:
    if args.training:
        return training_cmd(args)
    out = check_writable(args.out)
    project = Project.load(args.project)       # reading needs no lock
    for warning in project.warnings:
        print(f"warning: {args.project}: {warning}", file=sys.stderr)
    if not project.words:
        print(f"note: {args.project} has no text yet; the export holds only the title.",
              file=sys.stderr)
    elif not project.finished:
        print(f"note: {args.project} is not finished ({project.words}/{project.target_words} words); "
              f"exporting what is written.", file=sys.stderr)
    options = {k: v for k, v in (("style", args.style), ("font", args.font), ("sections", args.sections),
                                 ("page_size", args.page_size), ("title", args.title),
                                 ("author", args.author), ("contact", _contact(args.contact))) if v}
    if out.suffix.lower() not in (".docx", ".pdf"):
        options = {}
    export(project, out, **options)
    if not args.quiet:
        print(f"wrote {out} ({project.words} words)", file=sys.stderr)
    return 0


def training_cmd(args) -> int:
    """``--training sft|dpo``: training records from a project or a folder of projects."""
    from ..core.data.training import export_training
    n, notes = export_training([args.project], args.training, args.out, steps=args.steps,
                               keep_short=args.keep_short)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not args.quiet:
        what = "SFT records" if args.training == "sft" else "DPO pairs"
        print(f"wrote {args.out} ({n} {what})", file=sys.stderr)
    return 0


def _export_args(p):
    p.add_argument("project", help="the project file (.longhand), or a folder of projects with --training")
    p.add_argument("--out", "-o", required=True, metavar="FILE",
                   help="output file: .docx, .pdf (manuscripts), .md or .txt; .jsonl with --training")
    t = p.add_argument_group("training data (JSON Lines)")
    t.add_argument("--training", choices=("sft", "dpo"),
                   help="sft: chat records (instruction -> text); dpo: prompt/chosen/rejected pairs "
                        "from sections with earlier takes (hand-edited text is chosen)")
    t.add_argument("--steps", action="store_true",
                   help="with --training sft: also the plan and write steps as records of their own")
    t.add_argument("--keep-short", action="store_true",
                   help="with --training sft: also answers under 80%% of their target, given up by the health "
                        "check, or holding a refusal or assistant chatter (each with its \"reasons\")")
    g = p.add_argument_group("manuscript (DOCX and PDF)")
    g.add_argument("--style", choices=STYLES, help="manuscript (standard manuscript format, default) or plain")
    g.add_argument("--font", choices=FONTS, help="times (default) or courier")
    g.add_argument("--sections", choices=SECTION_MODES,
                   help="chapters: each section on a new page under its heading (default); "
                        "scenes: sections separated by '#'; continuous: one run of text")
    g.add_argument("--page-size", choices=PAGE_SIZES, help="letter (default) or a4")
    g.add_argument("--title", help="title (default: the project's, else made from the instruction)")
    g.add_argument("--author", help="author name (default: the project's)")
    g.add_argument("--contact", help="contact lines for the title page, separated by '\\n' or ';'")
    p.add_argument("-q", "--quiet", action="store_true", help="no messages on stderr")


def _contact(value: str | None) -> str | None:
    return value.replace("\\n", "\n").replace(";", "\n") if value else value


export_cmd.add_arguments = _export_args  # type: ignore[attr-defined]
command("export", "export a project as DOCX or PDF manuscript, Markdown or plain text, "
                  "or as training data (--training sft|dpo)")(export_cmd)
