"""CLI: one dialect — every command that talks to a model takes the same backend options,
with the same meaning (``plan``, ``write``, ``batch``)."""

from __future__ import annotations

import json

import pytest

from longhand.cli import build_parser, main
from longhand.cli.backend_options import BACKEND_DESTS, base_urls
from openai_stub import StubServer

MODEL_COMMANDS = ("plan", "write", "batch")


@pytest.fixture(scope="module")
def parser():
    return build_parser()


def subparser(parser, name):
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices[name]


def options(p) -> dict[str, tuple]:
    """dest -> (option strings) of the command's "model" group."""
    group = next(g for g in p._action_groups if g.title == "model")
    return {a.dest: tuple(a.option_strings) for a in group._group_actions}


def test_every_model_command_has_the_same_backend_options(parser):
    sets = {name: options(subparser(parser, name)) for name in MODEL_COMMANDS}
    for name, opts in sets.items():
        assert set(opts) == set(BACKEND_DESTS), name
        assert opts == sets["write"], name
    # and parses them to the same values
    argv = ["--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--remote-model", "m", "--api-key", "k",
            "--format", "chat", "--ctx", "4096", "--gpu-layers", "0", "--threads", "2", "--seed", "5",
            "--temperature", "0.7"]
    positional = {"plan": ["x"], "write": ["x"], "batch": ["ins.jsonl", "--out", "d.jsonl"]}
    parsed = {name: parser.parse_args([name, *positional[name], *argv]) for name in MODEL_COMMANDS}
    for name, ns in parsed.items():
        values = {d: getattr(ns, d) for d in BACKEND_DESTS if d != "base_url"}
        assert values == {"model": None, "backend": "openai", "remote_model": "m", "api_key": "k",
                          "format_name": "chat", "ctx": 4096, "gpu_layers": "0", "threads": 2, "seed": 5,
                          "temperature": 0.7}, name
        assert base_urls(ns) == ["http://127.0.0.1:9/v1"], name


def test_batch_alone_takes_several_servers(parser):
    ns = parser.parse_args(["batch", "i.jsonl", "--out", "d.jsonl", "--base-url", "http://a/v1", "--base-url",
                            "http://b/v1", "--base-url", "http://a/v1"])
    assert base_urls(ns) == ["http://a/v1", "http://b/v1"]
    with pytest.raises(SystemExit):
        parser.parse_args(["write", "x", "--base-url", "http://a/v1", "--base-url", "http://b/v1", "--nope"])


def run(tmp_path, name: str, backend_argv: list[str]) -> list[str]:
    if name == "batch":
        ins = tmp_path / "ins.jsonl"
        ins.write_text(json.dumps({"id": "a", "instruction": "Write a story about a keeper.", "target_words": 120}) + "\n")
        return ["batch", str(ins), "--out", str(tmp_path / f"d{len(list(tmp_path.iterdir()))}.jsonl"), "-q",
                *backend_argv]
    return [name, "Write a story about a keeper.", "--words", "120", *(["-q"] if name == "write" else []),
            *backend_argv]


@pytest.mark.parametrize("name", MODEL_COMMANDS)
def test_each_command_talks_to_a_server_with_backend_openai_base_url(tmp_path, name, capsys):
    with StubServer(text="prose") as stub:
        code = main(run(tmp_path, name, ["--backend", "openai", "--base-url", stub.url, "--ctx", "8192"]))
        sent = len(stub.completions())
    assert code == 0, capsys.readouterr().err
    assert sent >= 1                       # the text came from the server


@pytest.mark.parametrize("name", MODEL_COMMANDS)
def test_base_url_alone_means_openai_for_each_command(tmp_path, name, capsys, monkeypatch):
    def no_local(*a, **kw):
        raise AssertionError("the local model was opened")
    monkeypatch.setattr("longhand.core.backends.llama.LlamaCppBackend.__init__", no_local)
    with StubServer(text="prose") as stub:
        code = main(run(tmp_path, name, ["--base-url", stub.url, "--ctx", "8192"]))
        sent = len(stub.completions())
    assert code == 0, capsys.readouterr().err
    assert sent >= 1


@pytest.mark.parametrize("name", MODEL_COMMANDS)
def test_contradictions_are_refused_the_same_way_by_each_command(tmp_path, name, capsys):
    assert main(run(tmp_path, name, ["--backend", "llama", "--base-url", "http://127.0.0.1:9/v1"])) == 2
    assert "--base-url is for --backend openai" in capsys.readouterr().err
    assert main(run(tmp_path, name, ["--gpu-layers", "many"])) == 2
    assert "--gpu-layers must be 'auto' or a number" in capsys.readouterr().err
