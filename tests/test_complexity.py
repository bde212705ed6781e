"""No function in cockpit/ is graded E or F by radon's cyclomatic complexity (more than 30
paths): such a function is split by concern, or its cases become a table of small
functions. The failure names each function, its file, line and grade."""

from __future__ import annotations

from pathlib import Path

from radon.complexity import add_inner_blocks, cc_rank, cc_visit

from tests.conftest import REPO

TOO_COMPLEX = ("E", "F")


def too_complex(root: Path) -> list[str]:
    """Each function, method or closure under `root` that radon grades E or F, named by its
    path from `root`'s parent (`cockpit/probes/risk.py:127 assess E (36)`)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for block in add_inner_blocks(cc_visit(path.read_text(encoding="utf-8"))):
            rank = cc_rank(block.complexity)
            if rank in TOO_COMPLEX:
                found.append(f"{path.relative_to(root.parent).as_posix()}:{block.lineno} "
                             f"{block.fullname} {rank} ({block.complexity})")
    return sorted(found)


def test_no_function_in_cockpit_is_graded_e_or_f() -> None:
    found = too_complex(REPO / "cockpit")
    assert not found, "graded E or F by radon (split it by concern, or make its cases a " \
        "table of small functions):\n" + "\n".join(found)


def test_the_check_names_a_function_graded_f(tmp_path: Path) -> None:
    """The check itself: fifty branches in one function are found and named."""
    branches = "".join(f"    if x == {n}:\n        return {n}\n" for n in range(50))
    (tmp_path / "dense.py").write_text(f"def dense(x):\n{branches}    return -1\n\n\n"
                                       "def plain(x):\n    return x\n")
    assert too_complex(tmp_path) == [f"{tmp_path.name}/dense.py:1 dense F (51)"]
