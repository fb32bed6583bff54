"""Training data loads as trainers load it: the batch's SFT records and the DPO pairs, read
with Hugging Face ``datasets`` (its JSON loader, as ``load_dataset("json", ...)``) and checked
against TRL's documented dataset layouts:

* SFT, conversational "language modeling": ``{"messages": [{"role", "content"}, ...]}``;
* DPO, standard "preference": ``{"prompt": str, "chosen": str, "rejected": str}``.

(TRL itself needs torch, too heavy for CI; its layouts are checked by their field structure,
as ``trl.data_utils.is_conversational`` and ``maybe_apply_chat_template`` read them.)
"""

from __future__ import annotations

import json

from batchfakes import jobs, mixed_server
from longhand.core.data.batch import BatchRunner
from longhand.core.data.training import export_training
from longhand.core.engine.plan import DONE, Section
from longhand.core.projects.project import Project

ROLES = {"system", "user", "assistant"}


def load_json(path, tmp_path):
    import datasets
    return datasets.load_dataset("json", data_files=str(path), split="train",
                                 cache_dir=str(tmp_path / "hf-cache"))


def is_trl_conversational_lm(example: dict) -> bool:
    msgs = example.get("messages")
    return (isinstance(msgs, list) and len(msgs) >= 2
            and all(isinstance(m, dict) and set(m) >= {"role", "content"} and m["role"] in ROLES
                    and isinstance(m["content"], str) and m["content"].strip() for m in msgs)
            and msgs[-1]["role"] == "assistant" and msgs[-2]["role"] == "user")


def is_trl_standard_preference(example: dict) -> bool:
    return all(isinstance(example.get(k), str) and example[k].strip() for k in ("prompt", "chosen", "rejected"))


def test_batch_sft_records_load_with_datasets_in_trls_messages_layout(tmp_path):
    import datasets
    out = tmp_path / "data.jsonl"
    # three answers that pass and one that does not (kept with --keep-short, with its reasons),
    # with the AgentWrite steps as records of their own: every kind of line the batch writes
    summary = BatchRunner(jobs("GOOD", "GOOD", "SHORT", "GOOD"), out, [mixed_server()], steps=True,
                          keep_short=True).run()
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    ds = load_json(out, tmp_path)
    assert ds.num_rows == len(lines) and summary["records"] == 4
    msg = ds.features["messages"]
    # a list of {"role": string, "content": string}, as the chat templates read it
    inner = msg.feature if hasattr(msg, "feature") else msg[0]
    assert {k: v.dtype for k, v in inner.items()} == {"role": "string", "content": "string"}
    for row, line in zip(ds, lines):
        assert is_trl_conversational_lm(row)
        assert row["messages"] == line["messages"]          # nothing lost or reordered on the way
    answers = [r for r in ds if r["step"] is None]
    assert [r["id"] for r in answers] == ["GOOD-0", "GOOD-1", "SHORT-2", "GOOD-3"]      # one slot: in order
    assert [r["reasons"] is None for r in answers].count(False) == 1        # only the short one
    assert isinstance(datasets.Dataset.from_list(lines), datasets.Dataset)


def test_dpo_pairs_load_with_datasets_in_trls_preference_layout(tmp_path):
    folder = tmp_path / "jobs"
    folder.mkdir()
    good = ("The keeper climbed the narrow stairs at dusk, counting the steps as his father had done. "
            "Below him the harbour lights came on one by one, and the fishing boats turned for home. "
            "He trimmed the wick, wiped the salt from the great lens, and waited for the first beam.")
    p = Project(instruction="Write a story about a lighthouse keeper.", target_words=120)
    p.sections = [Section("Dusk", 60, text=good, status=DONE, takes=["An earlier, worse take on the dusk."]),
                  Section("Night", 60, text="I'm sorry, but I can't assist with that request.", status=DONE,
                          takes=["The lamp turned all night."])]
    p.path = folder / "keeper.longhand"
    p.save()
    n, _ = export_training([folder], "dpo", tmp_path / "pairs.jsonl")
    assert n == 1                                            # the refusal is never "chosen"
    ds = load_json(tmp_path / "pairs.jsonl", tmp_path)
    assert {k: ds.features[k].dtype for k in ("prompt", "chosen", "rejected")} == \
        {"prompt": "string", "chosen": "string", "rejected": "string"}
    (row,) = list(ds)
    assert is_trl_standard_preference(row)
    assert row["chosen"] == good and row["rejected"] == "An earlier, worse take on the dusk."
    assert "lighthouse keeper" in row["prompt"]
