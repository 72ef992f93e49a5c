"""The fake service's layers: imports inside qconnect_async.testing flow one way.

Every relative import counts, function-level and TYPE_CHECKING ones too: an import circle hidden
behind a function-level import is still a circle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import qconnect_async.testing

PACKAGE = Path(qconnect_async.testing.__file__).parent
#: Lowest first: a module may import only modules before it.
LAYERS = [
    "_model",  # botocore's model: IDs and ARNs, router, validation
    "_replies",  # replies and the one WSGI runner
    "_rows",  # quick-response rows
    "_faults",  # fault rules and rate limits
    "_state",  # settings, counters, the one clock
    "_records",  # errors, tokens, jobs, uploads, files
    "_backend",  # data and job lifecycle (moto's BaseBackend)
    "_moto",  # registration and moto's handler
    "_s3",  # presigned URLs
    "_wsgi",  # the WSGI app
    "_declare",  # the control machinery
    "_faultcontrols",  # fault controls
    "_control",  # data, settings, stats controls; RemoteQConnectServer
    "_server",  # the keep-alive HTTP server; QConnectServer, where the controls run
    "_demo",  # the data of `qconnect-async --demo` (the public face only)
    "__main__",
    "__init__",
]
#: What a process that only drives a server over HTTP imports: no moto in any of them.
WITHOUT_MOTO = ["_control", "_faultcontrols", "_declare", "_state", "_faults"]


def relative_imports(module: str) -> set[str]:
    """The sibling modules `module` imports (`from ._x import ...`), wherever the import is."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is not None:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def present() -> list[str]:
    """The modules of the package, in LAYERS' order."""
    found = {path.stem for path in PACKAGE.glob("*.py")}
    return [module for module in LAYERS if module in found]


def test_every_module_has_a_layer() -> None:
    """A new module says where it stands."""
    assert {path.stem for path in PACKAGE.glob("*.py")} <= set(LAYERS)


def test_imports_flow_one_way() -> None:
    """Each module imports only the modules below it: no circle can form."""
    modules = present()
    for index, module in enumerate(modules):
        higher = relative_imports(module) - set(modules[:index])
        assert not higher, f"{module} imports {sorted(higher)}, which are not below it"


def test_no_module_is_over_450_lines() -> None:
    """One concern a module, about 450 lines at most."""
    sizes = {path.name: len(path.read_text().splitlines()) for path in PACKAGE.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 450} == {}


def test_the_remote_side_imports_no_moto() -> None:
    """Driving a server over HTTP needs neither moto nor werkzeug."""
    modules = ", ".join(f"qconnect_async.testing.{name}" for name in WITHOUT_MOTO)
    code = (
        f"import sys, {modules}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('moto', 'werkzeug'))\n"
        "print(loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
