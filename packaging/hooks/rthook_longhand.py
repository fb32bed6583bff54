"""Packaging: PyInstaller runtime hook, run before the entry script of the frozen app.

Points llama-cpp-python at the llama.cpp libraries inside the bundle. llama_cpp looks in
``llama_cpp/lib`` next to its own ``__file__``, which the spec reproduces inside
``_internal``; ``LLAMA_CPP_LIB_PATH`` makes that explicit (and lets a user point the app at
another build, e.g. a CUDA one, by setting it themselves).
"""

import os
import sys

_lib = os.path.join(getattr(sys, "_MEIPASS", os.path.dirname(sys.executable)), "llama_cpp", "lib")
if os.path.isdir(_lib):
    os.environ.setdefault("LLAMA_CPP_LIB_PATH", _lib)
    if sys.platform == "win32":
        os.add_dll_directory(_lib)
        os.environ["PATH"] = _lib + os.pathsep + os.environ.get("PATH", "")
del _lib
