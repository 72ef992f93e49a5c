"""Score a mutation run: `mutmut results --all true` on stdin, the known equivalents beside it.

`make mutate` ends with this: the count of each verdict, the score (mutants detected, by a test
or by `mypy --strict`, of those that change a behaviour), and the survivors not yet written
down as equivalent, which each need a test. It exits 1 while any is left.
Usage: mutmut results --all true | python scripts/mutation_report.py tests/mutation_equivalents.txt
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r"^\s*(qconnect_async\.\S+): (.+?)\s*$")
#: Verdicts that say a mutant was detected: a test failed or hung, or the type check refused it.
DETECTED = ("killed", "timeout", "caught by type check")


@dataclass(frozen=True)
class Report:
    """What one run found."""

    verdicts: Counter[str]
    equivalent: list[str]  # survivors listed as equivalent
    unexplained: list[str]  # survivors with neither a test nor a reason
    stale: list[str]  # listed as equivalent, but detected by this run or no mutant now

    @property
    def detected(self) -> int:
        return sum(self.verdicts[v] for v in DETECTED)

    @property
    def checked(self) -> int:
        """Mutants with a verdict of this run (not those it never reached)."""
        return sum(n for v, n in self.verdicts.items() if v != "not checked")

    @property
    def score(self) -> float:
        """Detected, of the checked mutants that change a behaviour (not equivalent)."""
        relevant = self.checked - len(self.equivalent)
        return self.detected / relevant if relevant else 1.0


def verdicts(results: Iterable[str]) -> dict[str, str]:
    """Mutant name -> verdict, from the lines of `mutmut results --all true`."""
    found: dict[str, str] = {}
    for line in results:
        match = _LINE.match(line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def equivalents(listing: str) -> set[str]:
    """The mutant names of the equivalents file (its reasons are indented below each)."""
    return {line.strip() for line in listing.splitlines() if line.startswith("qconnect_async.")}


def report(found: dict[str, str], listed: set[str]) -> Report:
    """The run's verdicts held against the list of known equivalents."""
    survivors = sorted(name for name, verdict in found.items() if verdict == "survived")
    return Report(
        verdicts=Counter(found.values()),
        equivalent=[name for name in survivors if name in listed],
        unexplained=[name for name in survivors if name not in listed],
        stale=sorted(name for name in listed if found.get(name, "killed") in DETECTED),
    )


def main(argv: list[str]) -> int:
    found = verdicts(sys.stdin)
    result = report(found, equivalents(Path(argv[1]).read_text(encoding="utf-8")))
    print(", ".join(f"{n} {verdict}" for verdict, n in result.verdicts.most_common()))
    print(
        f"score: {result.detected} detected of {result.checked - len(result.equivalent)} "
        f"checked and not equivalent = {result.score:.1%} "
        f"({len(result.equivalent)} equivalent, {len(found) - result.checked} not checked)"
    )
    for name in result.stale:
        print(f"listed as equivalent, but detected or no mutant now: {name}")
    for name in result.unexplained:
        print(f"survived, no test and no reason: {name}")
    return 1 if result.unexplained else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
