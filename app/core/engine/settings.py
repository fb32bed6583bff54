"""Core: the engine settings as the user chose them (the GUI's Settings dialog).

Stored under ``engine/…`` keys in a settings store: the GUI's QSettings, or anything with
``value(key, default)``, ``setValue(key, value)`` and ``sync()`` (this module never imports
Qt). Unset values use the Settings dialog's conventions (0 or -1: automatic, "" : default);
:meth:`EngineSettings.to_config` turns them into the :class:`~.session.EngineConfig` that the
CLI builds from its options, so both sides run the same engine for the same choices.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Collection, Protocol

from .session import EngineConfig


class SettingsStore(Protocol):
    def value(self, key: str, defaultValue: Any = None) -> Any: ...   # noqa: N803 - Qt's name
    def setValue(self, key: str, value: Any) -> None: ...             # noqa: N802
    def sync(self) -> None: ...


@dataclass
class EngineSettings:
    model_path: str = ""          # empty: LONGHAND_MODEL, else an installed model, else the demo
    gpu_layers: str = "auto"      # "auto" or a number of layers
    n_ctx: int = 0                # 0: sized to the job (at most 32,768); else the job's bound
    threads: int = 0              # 0: all cores
    temperature: float = -1.0     # < 0: the model family's default
    seed: int = -1                # < 0: random
    backend: str = "llama"        # "llama" (local GGUF) or "openai" (a remote server)
    base_url: str = ""            # remote: e.g. http://127.0.0.1:8080/v1
    remote_model: str = ""        # remote: model name (empty: the server's first)
    api_key: str = ""             # remote: optional; kept in the keychain, never in the store
    format_name: str = ""         # prompt format; empty: from the GGUF / the server

    STORED = ("model_path", "gpu_layers", "n_ctx", "threads", "temperature", "seed", "backend",
              "base_url", "remote_model", "format_name")

    @classmethod
    def load(cls, store: SettingsStore) -> "EngineSettings":
        d = cls()

        def get(key: str, default: Any, kind: Callable[[Any], Any]) -> Any:
            value = store.value(f"engine/{key}", default)
            try:
                return kind(value)
            except (TypeError, ValueError):
                return default

        gpu = str(store.value("engine/gpu_layers", d.gpu_layers) or "auto")
        if gpu != "auto" and not gpu.lstrip("-").isdigit():
            gpu = "auto"
        return cls(model_path=str(store.value("engine/model_path", "") or ""), gpu_layers=gpu,
                   n_ctx=get("n_ctx", d.n_ctx, int), threads=get("threads", d.threads, int),
                   temperature=get("temperature", d.temperature, float),
                   seed=get("seed", d.seed, int),
                   backend="openai" if store.value("engine/backend", "llama") == "openai" else "llama",
                   base_url=str(store.value("engine/base_url", "") or ""),
                   remote_model=str(store.value("engine/remote_model", "") or ""),
                   format_name=str(store.value("engine/format_name", "") or ""))

    def save(self, store: SettingsStore) -> None:
        """Store the settings (the API key is not stored here: see ``core.secrets``)."""
        for key in self.STORED:
            store.setValue(f"engine/{key}", getattr(self, key))
        store.sync()

    def replace(self, **changes: Any) -> "EngineSettings":
        return EngineSettings(**{**asdict(self), **changes})

    def to_config(self) -> EngineConfig:
        """The engine these settings ask for (the same type the CLI builds from its options)."""
        return EngineConfig(
            model=self.model_path or None, backend=self.backend,
            base_url=self.base_url or None, remote_model=self.remote_model or None,
            api_key=self.api_key or None, format_name=self.format_name or None,
            n_ctx=self.n_ctx if self.n_ctx > 0 else None,
            n_threads=self.threads if self.threads > 0 else None,
            n_gpu_layers=self.gpu_layers if self.gpu_layers == "auto" else int(self.gpu_layers),
            temperature=self.temperature if self.temperature >= 0 else None,
            seed=self.seed if self.seed >= 0 else None)

    @classmethod
    def from_config(cls, c: EngineConfig) -> "EngineSettings":
        """The settings that ask for ``c`` (``to_config``'s inverse)."""
        return cls(model_path=c.model or "", gpu_layers=str(c.n_gpu_layers), n_ctx=c.n_ctx or 0,
                   threads=c.n_threads or 0, temperature=-1.0 if c.temperature is None else c.temperature,
                   seed=-1 if c.seed is None else c.seed, backend=c.backend, base_url=c.base_url or "",
                   remote_model=c.remote_model or "", api_key=c.api_key or "", format_name=c.format_name or "")

    def with_project(self, settings: dict, overridden: Collection[str] = ()) -> "EngineSettings":
        """These settings with what a project remembers (model, format, context, sampling, seed),
        by the one rule of ``EngineConfig.with_project``: the ``overridden`` fields are kept."""
        config = self.to_config()
        resolved = config.with_project(settings, overridden)
        return self if resolved == config else EngineSettings.from_config(resolved)
