"""Compliance checks and borrower-mood analysis of collection calls.

The rules and their catalogue live in ``nlp/resources/call_rules.yaml``, the jurisdiction
profiles in ``nlp/resources/profiles.toml``; the code only normalises, scores and applies them.

Public API:

* :func:`score_calls` -> :class:`ScoredCalls`: the one batch function for calls (turn labels
  + one :class:`CallAnalysis` per call), used by ingest, the CLI and the Ray job alike
* :func:`analyze_calls`: the rules alone, given a turn-sentiment scorer
* :func:`load_profile` -> :class:`Profile` (``china`` default, ``us_reg_f``)
* :class:`RuleEngine` / :func:`default_engine`: the compiled rule set
* :func:`evaluate_calls`: per-rule precision / recall against hand labels
"""

from nlp.compliance.batch import (
    ScoredCalls,
    TextScorer,
    TurnSentiment,
    analyze_calls,
    score_calls,
    stand_in_sentiment,
)
from nlp.compliance.catalog import (
    METADATA_RULES,
    PROFILES_PATH,
    RULE_IDS,
    RULES_PATH,
    TRANSCRIPT_RULES,
    RulesError,
)
from nlp.compliance.compiled import ClauseScore
from nlp.compliance.engine import RuleEngine, default_engine
from nlp.compliance.evaluate import evaluate_calls
from nlp.compliance.metadata import local_start_times, metadata_violations
from nlp.compliance.normalise import NormText
from nlp.compliance.profiles import (
    Profile,
    ProfileError,
    available_profiles,
    load_profile,
    parse_window,
)
from nlp.compliance.results import OUTPUT_KEYS, CallAnalysis, Evidence

__all__ = [
    "METADATA_RULES",
    "OUTPUT_KEYS",
    "PROFILES_PATH",
    "RULES_PATH",
    "RULE_IDS",
    "TRANSCRIPT_RULES",
    "CallAnalysis",
    "ClauseScore",
    "Evidence",
    "NormText",
    "Profile",
    "ProfileError",
    "RuleEngine",
    "RulesError",
    "ScoredCalls",
    "TextScorer",
    "TurnSentiment",
    "analyze_calls",
    "available_profiles",
    "default_engine",
    "evaluate_calls",
    "load_profile",
    "local_start_times",
    "metadata_violations",
    "parse_window",
    "score_calls",
    "stand_in_sentiment",
]
