"""The rule catalogue: which compliance rules exist, their kind, name and explanation.

Everything here is derived from ``resources/call_rules.yaml`` (its ``catalog`` section), so a new
rule is one entry in that file plus its test.
"""

from __future__ import annotations

from pathlib import Path

from nlp.labels import RULE_CATALOG

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
RULES_PATH = RESOURCES / "call_rules.yaml"
PROFILES_PATH = RESOURCES / "profiles.toml"

TRANSCRIPT_RULES: tuple[str, ...] = tuple(
    rid for rid, spec in RULE_CATALOG.items() if spec["kind"] == "transcript"
)
"""Rules found in what the agent says (patterns under ``rules:`` in the data file)."""
METADATA_RULES: tuple[str, ...] = tuple(
    rid for rid, spec in RULE_CATALOG.items() if spec["kind"] == "metadata"
)
"""Rules found in the call log (start time, frequency)."""
RULE_IDS: tuple[str, ...] = tuple(RULE_CATALOG)
"""Every rule, profile-only ones (``mini_miranda``) included, in display order."""


class RulesError(ValueError):
    """The rules data file is missing a key or holds an invalid pattern."""


def catalog_explanations() -> dict[str, str]:
    """Explanations the catalogue itself holds (call and metadata rules)."""
    return {
        rid: str(spec["explanation"])
        for rid, spec in RULE_CATALOG.items()
        if spec.get("explanation")
    }
