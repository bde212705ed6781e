"""What the cockpit asks of `git`, answered with dulwich: CI under Wine only (git_launcher.c
says why). Anything else is refused loudly (exit 2), never guessed. `status` lists the paths
git lists (empty exactly when git's is), each with one code: the gates ask only "any?".

    git -C REPO rev-parse HEAD | rev-parse --is-inside-work-tree
    git -C REPO tag --points-at HEAD
    git -C REPO status --porcelain --untracked-files=no
"""

from __future__ import annotations

import os
import sys

from dulwich import porcelain
from dulwich.errors import NotGitRepository
from dulwich.refs import Ref
from dulwich.repo import Repo


def _status(repo: Repo) -> list[str]:
    found = porcelain.status(repo, untracked_files="no")
    lines = [f"{code}  {os.fsdecode(path)}" for kind, code in
             (("add", "A"), ("delete", "D"), ("modify", "M"))
             for path in found.staged[kind]]
    staged = {line[3:] for line in lines}
    lines += [f" M {os.fsdecode(path)}" for path in found.unstaged
              if os.fsdecode(path) not in staged]
    return sorted(lines, key=lambda line: line[3:])


def _tags_at_head(repo: Repo) -> list[str]:
    head = repo.head()
    return sorted(os.fsdecode(name) for name in repo.refs.as_dict(Ref(b"refs/tags"))
                  if repo.get_peeled(Ref(b"refs/tags/" + name)) == head)


def answer(args: list[str]) -> tuple[int, list[str], str]:
    """(exit code, stdout lines, stderr) for `git ARGS`."""
    where = "."
    if args[:1] == ["-C"] and len(args) > 1:
        where, args = args[1], args[2:]
    if not os.path.isdir(where):  # git changes into it first; dulwich would look above it
        return 128, [], f"fatal: cannot change to '{where}': No such file or directory"
    try:
        repo = Repo.discover(where)
    except NotGitRepository:
        return 128, [], "fatal: not a git repository (or any of the parent directories): .git"
    with repo:
        if args == ["rev-parse", "--is-inside-work-tree"]:
            return 0, ["false" if repo.bare else "true"], ""
        if args == ["rev-parse", "HEAD"]:
            try:
                return 0, [repo.head().decode("ascii")], ""
            except KeyError:
                return 128, [], "fatal: ambiguous argument 'HEAD': unknown revision"
        if args == ["tag", "--points-at", "HEAD"]:
            return 0, _tags_at_head(repo), ""
        if args == ["status", "--porcelain", "--untracked-files=no"]:
            return 0, _status(repo), ""
    return 2, [], f"git stand-in (CI under Wine): not implemented: git {' '.join(args)}"


def main() -> int:
    code, lines, error = answer(sys.argv[1:])
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    if error:
        sys.stderr.write(error + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
