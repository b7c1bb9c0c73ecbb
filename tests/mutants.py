"""A mutation run: how much of the module's behaviour the tests pin.

    python tests/mutants.py [--per-section N] [--seed S] [--tests PATH ...] [--section NAME ...]

It samples N small changes per banner section of assistant_stream.py (a fixed
seed: the same sample every time), each one of:

    compare    a comparison flipped (== to !=, < to >=, in to not in, ...)
    condition  an if, while or ternary condition negated
    boolean    `and` and `or` swapped
    statement  a statement replaced by `pass` (an assignment, a call, a return)
    constant   a number changed (n to n + 1, 0 to 1) or a string key changed

runs the tests against each mutant (the mutated module in a directory of its
own, first on PYTHONPATH; -x: the first failure kills it) and prints the
score per section, then every surviving mutant with its line, for review: a
survivor either changes nothing a user can observe (an equivalent mutant:
say why) or shows a behaviour no test pins (write the test).

By default each section's mutants meet the fast layers (unit, stream,
corpus) and the tests of that section's own concern (the Client's meet the
socket tests, the command line's its tests): about 10 to 40 s per mutant.
--tests PATH ... runs those for every section (--tests tests: all of them,
about 90 s per mutant).
"""

import argparse
import ast
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from typing import Dict, Iterator, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULE = os.path.join(ROOT, "assistant_stream.py")
BANNER = re.compile(r"^# -{20,}\n# (.+)\n# -{20,}$", re.MULTILINE)

FLIPPED = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}

Mutant = Tuple[str, int, int, int, int, str]  # kind, line, column, end line, end column, replacement

# Survivors reviewed and found equivalent: they change nothing a user can
# observe.  (the function they are in, the line as it starts, the replacement) -> why.
EQUIVALENT = {
    ("APIStatusError.__init__", "super().__init__(message)", "pass"): "BaseException.__new__ already keeps the message as args",
    (
        "_PayloadError.__init__",
        "super().__init__()",
        "pass",
    ): "an internal exception, handled at once, with nothing run while it is: its args are never seen",
    ("_Framer.blocks", 'if len(head) > 2 and head.find(b"\\n\\n") + 2 == len(head):', "3"): (
        "a 3-byte block then takes the batched path, which hands over the same block"
    ),
    ("_carries_text", "return False", "pass"): "None is as false as False where it is used",
    ("Stream._unrouted", "return None", "pass"): "the last statement: the function returns None all the same",
    ("_DeadlineSocket._read", "self._sliced = False", "pass"): "the same timeout is set again on the next read, nothing else",
    ("", "_UNKNOWN_NAMES = 256", "257"): "the size of a cache of names",
}


def function_at(tree: ast.Module, line: int) -> str:
    """The qualified name of the innermost function around a line ("" at module level)."""
    found = ""

    def visit(node: ast.AST, prefix: str) -> None:
        nonlocal found
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.ClassDef)) and child.lineno <= line <= (child.end_lineno or child.lineno):
                name = prefix + child.name
                if isinstance(child, ast.FunctionDef):
                    found = name
                visit(child, name + ".")

    visit(tree, "")
    return found


FAST = ["tests/unit", "tests/stream", "tests/corpus"]
CONCERNS = {  # the tests of each section's own concern, beyond the fast layers
    "Constants and types": [  # where the documented limits, timeouts and statuses are pinned
        "tests/sockets/test_client.py",
        "tests/sockets/test_hostile.py",
        "tests/sockets/test_security.py",
        "tests/sockets/test_keep_alive.py",
        "tests/docs/test_cli.py",
    ],
    "Wire": [
        "tests/sockets/test_hostile.py",
        "tests/sockets/test_faults.py",
        "tests/sockets/test_streaming.py",
        "tests/sockets/test_keep_alive.py",
    ],
    "Stream": ["tests/sockets/test_keep_alive.py", "tests/sockets/test_interruption.py", "tests/sockets/test_run_lifecycle.py"],
    "Exceptions": ["tests/sockets/test_client.py"],
    "Handlers": ["tests/sockets/test_run_lifecycle.py", "tests/sockets/test_response_lifecycle.py"],
    "Client": ["tests/sockets"],
    "Command line": ["tests/docs/test_cli.py"],
}


def sections(source: str) -> List[Tuple[int, str]]:
    """(first line, title) of each banner section."""
    found = []
    for match in BANNER.finditer(source):
        found.append((source.count("\n", 0, match.start()) + 1, match.group(1).split(":")[0].strip()))
    return found


def section_of(line: int, banners: List[Tuple[int, str]]) -> str:
    title = "Preamble"
    for first, name in banners:
        if first <= line:
            title = name
    return title


def _span(node: ast.AST) -> Tuple[int, int, int, int]:
    return node.lineno, node.col_offset, node.end_lineno or node.lineno, node.end_col_offset or 0  # type: ignore[attr-defined]


def candidates(tree: ast.Module) -> Iterator[Mutant]:
    """Every mutation the operators allow, as a span of source and its replacement."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in FLIPPED:
            changed = ast.Compare(left=node.left, ops=[FLIPPED[type(node.ops[0])]()], comparators=node.comparators)
            yield ("compare",) + _span(node) + (ast.unparse(changed),)
        elif isinstance(node, (ast.If, ast.While, ast.IfExp)) and not isinstance(node.test, ast.Constant):
            yield ("condition",) + _span(node.test) + ("not (%s)" % ast.unparse(node.test),)
        elif isinstance(node, ast.BoolOp):
            other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            yield ("boolean",) + _span(node) + ("(%s)" % ast.unparse(ast.BoolOp(op=other, values=node.values)),)
        elif isinstance(node, ast.Constant) and type(node.value) is int and not isinstance(node.value, bool):
            yield ("constant",) + _span(node) + (repr(node.value + 1),)
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and type(node.slice.value) is str:
            yield ("constant",) + _span(node.slice) + (repr(node.slice.value + "_"),)
        if isinstance(node, (ast.FunctionDef, ast.If, ast.For, ast.While, ast.With, ast.Try)):
            for body in (node.body, getattr(node, "orelse", [])):
                for statement in body:
                    if isinstance(statement, (ast.Assign, ast.AugAssign, ast.Expr, ast.Return)) and len(body) > 1:
                        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                            continue  # a docstring
                        yield ("statement",) + _span(statement) + ("pass",)


def apply(source: str, mutant: Mutant) -> str:
    _, line, column, end_line, end_column, replacement = mutant
    lines = source.splitlines(keepends=True)
    head = lines[line - 1][:column]
    tail = lines[end_line - 1][end_column:]
    return "".join(lines[: line - 1]) + head + replacement + tail + "".join(lines[end_line:])


def killed(mutated: str, tests: List[str], timeout: float) -> Optional[bool]:
    """True if the tests fail against the mutant; None if it does not import (not counted)."""
    with tempfile.TemporaryDirectory() as where:
        with open(os.path.join(where, "assistant_stream.py"), "w", encoding="utf-8") as file:
            file.write(mutated)
        env = dict(os.environ, PYTHONPATH=where + os.pathsep + os.environ.get("PYTHONPATH", ""))
        if subprocess.run([sys.executable, "-c", "import assistant_stream"], env=env, capture_output=True, cwd=where).returncode:
            return None
        # (python -m pytest would put the repository, and its module, first on sys.path)
        run = "import sys; sys.path.insert(0, %r); import pytest; sys.exit(pytest.main(sys.argv[1:]))" % where
        command = [sys.executable, "-c", run, "-x", "-q", "-p", "no:cacheprovider", "--no-cov", "-o", "addopts=", *tests]
        try:
            done = subprocess.run(command, env=env, capture_output=True, cwd=ROOT, timeout=timeout)
        except subprocess.TimeoutExpired:
            return True  # a mutant that hangs the tests is caught by them (their timeouts)
        return done.returncode != 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-section", type=int, default=8)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--tests", nargs="*", help="the tests every mutant meets (default: the fast layers and its section's)")
    parser.add_argument("--section", nargs="*", help="only these sections (titles as printed)")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    source = open(MODULE, encoding="utf-8").read()
    banners = sections(source)
    by_section: Dict[str, List[Mutant]] = {}
    tree = ast.parse(source)
    for mutant in sorted(candidates(tree), key=lambda m: m[1:5]):
        by_section.setdefault(section_of(mutant[1], banners), []).append(mutant)
    rng = random.Random(args.seed)
    scores: Dict[str, Tuple[int, int]] = {}
    survivors: List[Tuple[str, Mutant]] = []
    began = time.monotonic()
    for name, found in by_section.items():
        if args.section and name not in args.section:
            continue
        sample = rng.sample(found, min(args.per_section, len(found)))
        caught = tried = 0
        for mutant in sample:
            verdict = killed(apply(source, mutant), args.tests or FAST + CONCERNS.get(name, []), args.timeout)
            if verdict is None:
                continue
            tried += 1
            caught += verdict
            if not verdict:
                survivors.append((name, mutant))
        scores[name] = (caught, tried)
        print("%-60s %3d/%-3d" % (name[:60], caught, tried), flush=True)
    caught = sum(c for c, _ in scores.values())
    tried = sum(t for _, t in scores.values())
    print("%-60s %3d/%-3d %.1f%%  (%.0f s)" % ("all", caught, tried, 100.0 * caught / max(tried, 1), time.monotonic() - began))
    equivalent: Dict[str, int] = {}
    for name, (kind, line, _, _, _, replacement) in survivors:
        original = source.splitlines()[line - 1].strip()
        where = function_at(tree, line)
        why = next(
            (why for (at, start, to), why in EQUIVALENT.items() if (at, to) == (where, replacement) and original.startswith(start)), None
        )
        if why is not None:
            equivalent[name] = equivalent.get(name, 0) + 1
        label = "equivalent" if why else "SURVIVED"
        print("%-10s %-10s line %-5d %-24s %s  ->  %s" % (label, kind, line, name[:24], original[:60], replacement[:40]))
        if why:
            print("          %s" % why)
    print("\nbehaviour-changing mutants (the equivalent ones set aside):")
    for name, (killed_here, tried_here) in scores.items():
        counted = tried_here - equivalent.get(name, 0)
        print("%-60s %3d/%-3d %5.1f%%" % (name[:60], killed_here, counted, 100.0 * killed_here / max(counted, 1)))
    counted = tried - sum(equivalent.values())
    print("%-60s %3d/%-3d %5.1f%%" % ("all", caught, counted, 100.0 * caught / max(counted, 1)))


if __name__ == "__main__":
    main()
