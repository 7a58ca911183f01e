"""The rehearsal's closing table: one row per order, from the document only."""

from __future__ import annotations

from toolkit.documents.rehearsal import RehearsalDocument


def summary_lines(document: RehearsalDocument) -> list[str]:
    header = (
        f"{'order':<14} {'acked':>6} {'failed':>6} {'misplaced':>9} {'lost':>5} "
        f"{'rb-unsafe':>9} {'seed ok':>8}  verdict"
    )
    lines = ["", header]
    for run in document.runs:
        t = run.totals
        if run.observed_safe:
            verdict = "safe"
        else:
            verdict = "UNSAFE" + (f" ({run.hazard})" if run.hazard else "")
        if run.expected_safe != run.observed_safe:
            verdict += " — disagrees with the prediction"
        lines.append(
            f"{run.order:<14} {t.acknowledged:>6} {t.failed:>6} {t.misplaced:>9} {t.lost:>5} "
            f"{t.rollback_unsafe:>9} {run.seed_readable:>3}/{run.seed_written:<4}  {verdict}"
        )
    for run in document.runs:
        if run.rollback is not None and run.rollback.unsafe:
            lines.append(f"rollback unsafe ({run.order}): {run.rollback.remedy}")
    safe = ", ".join(document.observed_safe_orders) or "none"
    lines.append(f"observed safe orders: {safe}")
    return lines
