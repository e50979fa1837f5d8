"""What ``qac verify`` reports: one ``Check`` per kernel and method, a ``Report`` per program."""

from __future__ import annotations

from dataclasses import dataclass, field

from qac.errors import QacError

PASSING = ("equivalent", "equivalent_up_to_global_phase")


class VerifyInputError(QacError):
    """A program directory given to ``qac verify`` is missing a file or is malformed."""


@dataclass(frozen=True)
class Check:
    """One verdict: a kernel (or template) checked by one method."""

    kernel: str
    template: str
    method: str
    verdict: str
    ok: bool
    seconds: float
    detail: str = ""

    def line(self, widths: tuple[int, int, int, int] = (14, 28, 16, 30)) -> str:
        status = "PASS" if self.ok else "FAIL"
        detail = f"  ({self.detail})" if self.detail else ""
        k, t, m, v = widths
        return (f"{status}  {self.kernel:<{k}} {self.template:<{t}} {self.method:<{m}} "
                f"{self.verdict:<{v}} {self.seconds:8.3f}s{detail}")


@dataclass
class Report:
    """Every check of one compiled program; ``ok`` only if there is at least one and all pass."""

    source: str
    target: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def summary(self) -> str:
        total = sum(c.seconds for c in self.checks)
        if self.ok:
            return f"verify: {len(self.checks)} checks passed for {self.source} on {self.target} ({total:.2f}s)"
        names = sorted({f"{c.kernel} ({c.template})" for c in self.failures}) or ["no checks ran"]
        return (f"verify: FAILED {len(self.failures)} of {len(self.checks)} checks for {self.source} on "
                f"{self.target}: {', '.join(names)}")


def print_report(report: Report, console) -> None:
    """One line per check, then a summary line."""
    widths = tuple(max([len(getattr(c, key)) for c in report.checks] + [minimum])
                   for key, minimum in (("kernel", 9), ("template", 20), ("method", 14), ("verdict", 10)))
    for check in report.checks:
        console.print(check.line(widths), markup=False, highlight=False, soft_wrap=True)
    console.print(report.summary(), markup=False, highlight=False, soft_wrap=True)
