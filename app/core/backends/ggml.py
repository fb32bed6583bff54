"""Core: llama.cpp's compute backends (ggml) — load them, list them, list their devices.

llama-cpp-python can be built two ways:

* backends linked in (the default CPU wheel, most CUDA/Metal wheels): the CPU (and GPU) backend
  is registered as soon as ``libggml`` loads; nothing to do.
* backends as modules (``GGML_BACKEND_DL=ON``, e.g. the Vulkan build in ``packaging/``):
  ``libggml-cpu.so``, ``libggml-vulkan.so``... sit in ``llama_cpp/lib`` and *nothing* is
  registered until someone calls ``ggml_backend_load_all_from_path``. Without that call every
  model fails to load ("no backends are loaded") and ``llama_supports_gpu_offload()`` is False.

:func:`load_backends` makes both kinds work: it calls into the ``libggml`` that ``libllama``
itself links (``libggml.so.0`` on Linux: the wheel holds three separate copies, and calling
into another one loads a second ggml whose registry llama never sees), once, before any model
opens. GPU modules are first loaded in a short-lived child process: a broken Vulkan driver or
loader that crashes or hangs there costs that backend, never the app (the CPU still works, and
:func:`load_backends` says why the GPU backend is missing).

CPU variants (``GGML_CPU_ALL_VARIANTS=ON``, the packaged app): one CPU module per x86-64 level
(``libggml-cpu-x64.so`` ... ``libggml-cpu-sapphirerapids.so``). ggml scores each against this
CPU (``ggml_backend_score``: 0 when the CPU lacks an instruction it uses) and loads the best;
:attr:`BackendsReport.cpu_variant` says which, and ``longhand doctor`` shows it.

Environment:
  ``LONGHAND_CPU_VARIANT=x64``     load this CPU variant instead of the best (refused, with a note,
                                   when this CPU cannot run it): e.g. the x86-64 baseline
  ``LONGHAND_GPU=off``             load no GPU backend module (CPU only)
  ``LONGHAND_BACKEND_PROBE=off``   load GPU modules without the child-process check
  ``GGML_VK_VISIBLE_DEVICES``      ggml-vulkan's own device filter (lavapipe is hidden without it)
"""

from __future__ import annotations

import collections
import ctypes
import json
import logging
import os
import re
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# ggml_backend_dev_type
DEVICE_TYPES = {0: "cpu", 1: "gpu", 2: "igpu", 3: "accel"}
PROBE_ENV = "LONGHAND_GGML_PROBE"     # set in the child: the module to try
PROBE_TIMEOUT = 60.0
CPU_VARIANT_ENV = "LONGHAND_CPU_VARIANT"

# ggml's x86 CPU variants (ggml/src/CMakeLists.txt, GGML_CPU_ALL_VARIANTS) and what they use
CPU_VARIANTS = {
    "x64": "x86-64 baseline: SSE2",
    "sse42": "x86-64-v2: SSE4.2",
    "sandybridge": "AVX",
    "ivybridge": "AVX, F16C",
    "piledriver": "AVX, F16C, FMA",
    "haswell": "x86-64-v3: AVX2, FMA, F16C, BMI2",
    "skylakex": "x86-64-v4: AVX-512",
    "cannonlake": "AVX-512, VBMI",
    "cascadelake": "AVX-512, VNNI",
    "icelake": "AVX-512, VBMI, VNNI",
    "cooperlake": "AVX-512, VNNI, BF16",
    "zen4": "AVX-512, VBMI, VNNI, BF16",
    "alderlake": "AVX2, AVX-VNNI",
    "sapphirerapids": "AVX-512, BF16, AMX",
}


@dataclass
class Device:
    name: str
    description: str
    type: str                     # cpu, gpu, igpu, accel
    free: int = 0
    total: int = 0
    backend: str = ""


@dataclass
class BackendModule:
    """One backend module file of a GGML_BACKEND_DL build, and what happened to it."""

    name: str                     # "vulkan", "cpu", "cuda", ...
    path: str
    loaded: bool = False
    reason: str = ""              # why not loaded (or what the probe saw)


@dataclass
class BackendsReport:
    lib_dir: str = ""
    ggml_library: str = ""
    dynamic: bool = False                       # GGML_BACKEND_DL build (modules)?
    modules: list[BackendModule] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)   # backends in ggml's registry now
    devices: list[Device] = field(default_factory=list)
    error: str = ""                             # llama.cpp unusable (import or load failed)
    method: str = ""                            # how the modules were loaded
    notes: list[str] = field(default_factory=list)
    cpu_variant: str = ""                       # the CPU variant module loaded ("haswell"), if any
    cpu_variants: list[str] = field(default_factory=list)   # the variants this build carries
    cpu_variant_how: str = ""                   # "best for this CPU" or "forced by ..."

    @property
    def gpus(self) -> list[Device]:
        return [d for d in self.devices if d.type in ("gpu", "igpu")]

    def to_dict(self) -> dict:
        return asdict(self)


_lock = threading.RLock()
_report: BackendsReport | None = None


# ---------------------------------------------------------------------------------------
# Finding the libraries

def llama_lib_dir() -> Path:
    """The folder holding libllama and libggml of the llama-cpp-python in use."""
    env = os.environ.get("LLAMA_CPP_LIB_PATH")
    if env:
        return Path(env)
    import importlib.util
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.origin:
        raise OSError("llama-cpp-python is not installed")
    return Path(spec.origin).parent / "lib"


def ggml_library_path(lib_dir: Path) -> Path:
    """The ``libggml`` that ``libllama`` links (not a second copy of it)."""
    if sys.platform == "win32":
        names = ["ggml.dll"]
    elif sys.platform == "darwin":
        names = ["libggml.0.dylib", "libggml.dylib"]
    else:
        names = ["libggml.so.0", "libggml.so"]
    for n in names:
        if (lib_dir / n).exists():
            return lib_dir / n
    found = sorted(p.name for p in lib_dir.glob("*ggml*")) if lib_dir.is_dir() else []
    raise OSError(f"no ggml library in {lib_dir} (found: {', '.join(found) or 'nothing'})")


_MODULE = {
    "linux": re.compile(r"^libggml-(?P<name>[a-z0-9_-]+)\.so$"),
    "darwin": re.compile(r"^libggml-(?P<name>[a-z0-9_-]+)\.(?:so|dylib)$"),
    "win32": re.compile(r"^ggml-(?P<name>[a-z0-9_-]+)\.dll$"),
}


def backend_modules(lib_dir: Path) -> list[BackendModule]:
    """Backend module files in ``lib_dir``: ``libggml-<name>.so`` files without a versioned
    twin (a linked-in library comes with its SONAME copy ``libggml-cpu.so.0``)."""
    pattern = _MODULE.get(sys.platform, _MODULE["linux"])
    if not lib_dir.is_dir():
        return []
    names = {p.name for p in lib_dir.iterdir()}
    out = []
    for n in sorted(names):
        m = pattern.match(n)
        if not m or m.group("name") == "base":
            continue
        if sys.platform.startswith("linux") and any(x.startswith(n + ".") for x in names):
            continue                      # libggml-cpu.so + libggml-cpu.so.0: linked in
        if sys.platform == "darwin" and any(re.match(rf"^libggml-{m.group('name')}\.\d+\.dylib$", x) for x in names):
            continue
        out.append(BackendModule(m.group("name"), str(lib_dir / n)))
    return out


def is_gpu_module(name: str) -> bool:
    return not name.startswith("cpu") and name not in ("blas", "rpc")


# ---------------------------------------------------------------------------------------
# ctypes bindings to the ggml registry

def _bind(lib) -> None:
    if getattr(lib, "_longhand_bound", False):
        return
    sigs = {
        "ggml_backend_load_all_from_path": (None, [ctypes.c_char_p]),
        "ggml_backend_load": (ctypes.c_void_p, [ctypes.c_char_p]),
        "ggml_backend_reg_count": (ctypes.c_size_t, []),
        "ggml_backend_reg_get": (ctypes.c_void_p, [ctypes.c_size_t]),
        "ggml_backend_reg_name": (ctypes.c_char_p, [ctypes.c_void_p]),
        "ggml_backend_reg_dev_count": (ctypes.c_size_t, [ctypes.c_void_p]),
        "ggml_backend_reg_dev_get": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_size_t]),
        "ggml_backend_dev_count": (ctypes.c_size_t, []),
        "ggml_backend_dev_get": (ctypes.c_void_p, [ctypes.c_size_t]),
        "ggml_backend_dev_name": (ctypes.c_char_p, [ctypes.c_void_p]),
        "ggml_backend_dev_description": (ctypes.c_char_p, [ctypes.c_void_p]),
        "ggml_backend_dev_type": (ctypes.c_int, [ctypes.c_void_p]),
        "ggml_backend_dev_backend_reg": (ctypes.c_void_p, [ctypes.c_void_p]),
        "ggml_backend_dev_memory": (None, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
                                           ctypes.POINTER(ctypes.c_size_t)]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name, None)
        if fn is None:
            continue
        fn.restype = res
        fn.argtypes = args
    lib._longhand_bound = True


def _open_ggml(lib_dir: Path):
    path = ggml_library_path(lib_dir)
    lib = ctypes.CDLL(str(path))         # already loaded by libllama: the same handle
    _bind(lib)
    return lib, path


def _text(b: bytes | None) -> str:
    return (b or b"").decode("utf-8", "replace")


def registered_backends(lib) -> list[str]:
    return [_text(lib.ggml_backend_reg_name(lib.ggml_backend_reg_get(i)))
            for i in range(lib.ggml_backend_reg_count())]


def list_devices(lib) -> list[Device]:
    out = []
    for i in range(lib.ggml_backend_dev_count()):
        dev = lib.ggml_backend_dev_get(i)
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        try:
            lib.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        except Exception as e:  # pragma: no cover - defensive: a driver that fails here
            log.debug("device memory unavailable: %s", e)
        reg = lib.ggml_backend_dev_backend_reg(dev) if hasattr(lib, "ggml_backend_dev_backend_reg") else None
        out.append(Device(name=_text(lib.ggml_backend_dev_name(dev)),
                          description=_text(lib.ggml_backend_dev_description(dev)),
                          type=DEVICE_TYPES.get(lib.ggml_backend_dev_type(dev), "unknown"),
                          free=int(free.value), total=int(total.value),
                          backend=_text(lib.ggml_backend_reg_name(reg)) if reg else ""))
    return out


# ---------------------------------------------------------------------------------------
# The child-process check of a GPU module

def _probe_command() -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable]          # the frozen entry runs probe_main() when PROBE_ENV is set
    return [sys.executable, "-c", "from longhand.core.backends.ggml import probe_main; probe_main()"]


def probe_module(module: BackendModule, lib_dir: Path, timeout: float = PROBE_TIMEOUT) -> tuple[bool, str]:
    """Load ``module`` in a child process: (usable, what happened)."""
    env = dict(os.environ)
    env[PROBE_ENV] = module.path
    env["LLAMA_CPP_LIB_PATH"] = str(lib_dir)
    try:
        r = subprocess.run(_probe_command(), env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"loading it did not finish within {timeout:.0f} s (a hung GPU driver?)"
    except OSError as e:
        return True, f"not checked in a child process ({e})"
    if r.returncode < 0 or r.returncode > 128:
        sig = -r.returncode if r.returncode < 0 else r.returncode - 128
        return False, f"loading it crashed a test process (signal {sig}): the GPU driver is broken"
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
        return False, f"loading it failed: {tail[0][:200]}"
    data = json.loads(lines[-1])
    if not data.get("loaded"):
        return False, data.get("reason") or "ggml could not load it"
    n = data.get("devices", 0)
    return True, f"{n} device{'s' if n != 1 else ''}"


def probe_main() -> None:
    """Child side of :func:`probe_module` (also reached through the frozen app's entry)."""
    path = os.environ.get(PROBE_ENV, "")
    try:
        lib, _ = _open_ggml(llama_lib_dir())
        reg = lib.ggml_backend_load(os.fsencode(path))
        if not reg:
            print(json.dumps({"loaded": False, "reason": "ggml could not load it (no driver for it, "
                                                         "or a library it needs, e.g. the Vulkan "
                                                         "loader libvulkan.so.1, is missing)"}))
        else:
            n = lib.ggml_backend_reg_dev_count(reg)
            print(json.dumps({"loaded": True, "devices": int(n)}))
    except Exception as e:
        print(json.dumps({"loaded": False, "reason": str(e)}))
    sys.stdout.flush()
    os._exit(0)


# ---------------------------------------------------------------------------------------
# Loading

def _env_off(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("0", "off", "no", "false", "cpu")


def load_backends(force: bool = False) -> BackendsReport:
    """Load llama.cpp's backends once (before any model opens) and say what is there.

    Never raises: a broken install is reported in ``report.error``, a GPU module that cannot
    be loaded in ``report.modules[i].reason``.
    """
    global _report
    with _lock:
        if _report is not None and not force:
            _report.devices = _refresh_devices(_report)
            return _report
        rep = BackendsReport()
        try:
            lib_dir = llama_lib_dir()
            rep.lib_dir = str(lib_dir)
            import llama_cpp  # noqa: F401 - loads libllama and, with it, its libggml
            route_logs()
            lib, path = _open_ggml(lib_dir)
            rep.ggml_library = str(path)
        except Exception as e:
            rep.error = f"llama.cpp (llama-cpp-python) cannot be loaded: {e}"
            _report = rep
            return rep
        rep.modules = backend_modules(lib_dir)
        rep.dynamic = bool(rep.modules)
        variants = [m for m in rep.modules if m.name.startswith("cpu-")]
        rep.cpu_variants = [m.name[4:] for m in variants]
        chosen = _best_cpu_variant(variants) if variants else ""
        forced = _forced_variant(rep, variants)
        rep.cpu_variant_how = "best for this CPU" if variants else ""
        if forced:
            chosen = forced
            rep.cpu_variant_how = f"forced by {CPU_VARIANT_ENV}"
        skipped = _skipped_gpu_modules(rep, lib_dir)
        now = {b.lower() for b in registered_backends(lib)}
        if any(_backend_name(m.name) not in now for m in rep.modules if m.path not in skipped):
            if not skipped and not forced:
                # the standard way: ggml loads every module and picks the best CPU variant
                lib.ggml_backend_load_all_from_path(os.fsencode(str(lib_dir)))
                rep.method = "ggml_backend_load_all_from_path"
            else:
                _load_one_by_one(lib, [m for m in rep.modules if m.path not in skipped], chosen)
                rep.method = ("ggml_backend_load (GPU module skipped)" if skipped
                              else f"ggml_backend_load ({CPU_VARIANT_ENV})")
        _mark_loaded(rep, {b.lower() for b in registered_backends(lib)}, skipped, chosen)
        rep.registered = registered_backends(lib)
        if not rep.registered:
            rep.error = ("llama.cpp has no compute backend loaded (looked in "
                         f"{lib_dir}); reinstall llama-cpp-python.")
        rep.devices = list_devices(lib)
        _report = rep
        return rep


def _skipped_gpu_modules(rep: BackendsReport, lib_dir) -> set[str]:
    """The GPU modules not to load (paths): all with LONGHAND_GPU=off, else those whose probe
    fails (unless LONGHAND_BACKEND_PROBE=off); each module's ``reason`` says why."""
    gpu_off = _env_off("LONGHAND_GPU")
    check = not _env_off("LONGHAND_BACKEND_PROBE")
    skipped: set[str] = set()
    for mod in rep.modules:
        if not is_gpu_module(mod.name):
            continue
        if gpu_off:
            mod.reason = "skipped: LONGHAND_GPU=off"
            skipped.add(mod.path)
        elif check:
            ok, why = probe_module(mod, lib_dir)
            mod.reason = why
            if not ok:
                skipped.add(mod.path)
                rep.notes.append(f"The {mod.name} backend was not loaded: {why}. Running on the CPU.")
    return skipped


def _mark_loaded(rep: BackendsReport, names: set[str], skipped: set[str], chosen: str) -> None:
    """Each module's ``loaded`` (and ``reason`` when not), given the backends ggml registered."""
    for mod in rep.modules:
        if mod.path in skipped:
            continue
        mod.loaded = _backend_name(mod.name) in names
        if mod.loaded and mod.name.startswith("cpu-"):
            # a CPU-variant build: ggml loaded only one variant (the best for this CPU)
            mod.loaded = mod.path == chosen
            if mod.loaded:
                rep.cpu_variant = mod.name[4:]
            elif _variant_score(mod.path) == 0:
                mod.reason = "this CPU lacks an instruction it uses"
            else:
                mod.reason = f"not used: {Path(chosen).name} is loaded"
        if not mod.loaded and not mod.reason:
            mod.reason = "ggml did not load it (a library it needs is missing?)"


def _forced_variant(rep: BackendsReport, variants: list[BackendModule]) -> str:
    """The path of the variant ``LONGHAND_CPU_VARIANT`` names, when this CPU can run it."""
    want = os.environ.get(CPU_VARIANT_ENV, "").strip().lower()
    if not want:
        return ""
    if not variants:
        rep.notes.append(f"{CPU_VARIANT_ENV}={want} ignored: this llama.cpp build has one CPU backend, "
                         "not one per x86-64 level.")
        return ""
    match = [m for m in variants if m.name[4:] == want]
    if not match:
        rep.notes.append(f"{CPU_VARIANT_ENV}={want} ignored: no such CPU variant (this build has "
                         f"{', '.join(m.name[4:] for m in variants)}).")
        return ""
    if _variant_score(match[0].path) == 0:
        rep.notes.append(f"{CPU_VARIANT_ENV}={want} refused: this CPU lacks an instruction that variant "
                         "uses; the best one for this CPU is loaded instead.")
        return ""
    return match[0].path


_scores: dict[str, int] = {}


def _variant_score(path: str) -> int:
    """``ggml_backend_score()`` of a CPU-variant module: 0 when this CPU cannot run it."""
    if path not in _scores:
        _scores[path] = _score(path)
    return _scores[path]


def _score(path: str) -> int:
    try:
        mod = ctypes.CDLL(path)
        fn = mod.ggml_backend_score
        fn.restype = ctypes.c_int
        return int(fn())
    except (OSError, AttributeError):
        return 0


def _best_cpu_variant(mods: list[BackendModule]) -> str:
    scored = [(_variant_score(m.path), m.path) for m in mods]
    scored = [x for x in scored if x[0] > 0]
    return max(scored)[1] if scored else ""


def _load_one_by_one(lib, mods: list[BackendModule], chosen: str = "") -> None:
    variants = [m for m in mods if m.name.startswith("cpu-")]
    best = chosen or (_best_cpu_variant(variants) if variants else "")
    for m in mods:
        if m.name.startswith("cpu-") and m.path != best:
            continue
        if not lib.ggml_backend_load(os.fsencode(m.path)):
            m.reason = "ggml could not load it"


def _backend_name(module: str) -> str:
    """Module file name -> registry name, lower case: cpu-haswell -> cpu, vulkan -> vulkan."""
    return module.split("-")[0].lower()


def _refresh_devices(rep: BackendsReport) -> list[Device]:
    """Devices with their free memory now (the registry itself does not change)."""
    if rep.error:
        return rep.devices
    try:
        lib, _ = _open_ggml(Path(rep.lib_dir))
        return list_devices(lib)
    except Exception:  # pragma: no cover
        return rep.devices


def report() -> BackendsReport:
    """The report of :func:`load_backends` (loading them if nobody did yet)."""
    return load_backends()


_log_callback = None
# The last lines llama.cpp/ggml logged (with a running count), so that a failed model load can
# say what ggml said: "failed to allocate Vulkan0 buffer of size ..." means out of GPU memory.
_recent: collections.deque[tuple[int, str]] = collections.deque(maxlen=5000)
_count = [0]


def log_mark() -> int:
    """A position in llama.cpp's log; pass it to :func:`log_since`."""
    return _count[0]


def log_since(mark: int) -> list[str]:
    return [text for n, text in list(_recent) if n > mark]


def gpu_memory_error(lines: list[str]) -> str:
    """The line of ggml's log that says a GPU allocation failed, or ''."""
    def device_alloc(low: str) -> bool:
        return "failed to allocate" in low and "pinned" not in low and " cpu" not in low
    for test in (device_alloc,
                 lambda low: "device memory allocation" in low and "failed" in low,
                 lambda low: "outofdevicememory" in low or "out of device memory" in low):
        for ln in lines:
            if test(ln.lower()):
                return ln.strip()
    return ""


def route_logs() -> None:
    """Route llama.cpp/ggml's C logging to Python logging (debug) instead of stderr."""
    global _log_callback
    if _log_callback is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback
    def _cb(level, text, user_data):  # pragma: no cover - called from C
        try:
            line = text.decode("utf-8", "replace").rstrip()
            _count[0] += 1
            _recent.append((_count[0], line))
            log.debug(line)
        except Exception:
            pass

    _log_callback = _cb
    llama_cpp.llama_log_set(_cb, ctypes.c_void_p(0))
