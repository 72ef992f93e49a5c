"""The demo data of ``qconnect-async --demo``: a few knowledge bases and jobs of every status.

Kept beside the fake service (not in the CLI), so that the command line imports moto only
when ``--demo`` asks for it; uses only the public controls of ``qconnect_async.testing``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qconnect_async.testing import ServerControls

__all__ = ["DEMO_KNOWLEDGE_BASES", "seed_demo"]

#: Each demo knowledge base: its name, and the statuses of its jobs (oldest first).
DEMO_KNOWLEDGE_BASES = (
    ("support-faq", ("COMPLETE", "COMPLETE", "FAILED", "COMPLETE", "START_IN_PROGRESS")),
    ("billing-answers", ("COMPLETE", "DELETE_IN_PROGRESS", "FAILED", "COMPLETE")),
    ("onboarding", ("DELETED", "COMPLETE", "START_IN_PROGRESS")),
)


def seed_demo(server: ServerControls) -> None:
    """Create the demo knowledge bases and their import jobs on ``server``."""
    for name, statuses in DEMO_KNOWLEDGE_BASES:
        kb = server.create_knowledge_base(name)
        for status in statuses:
            server.add_import_jobs(kb, 1, status=status)
