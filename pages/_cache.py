"""The store opened once, and the dashboard queries cached by their arguments.

Each name below is a ``data.queries`` function with the store filled in and its result cached
with ``st.cache_data`` (keyed by the remaining arguments, ``Filters`` included, until
``data_changed()`` or the TTL): pages call ``cache.kpis(f)``,
``cache.records(f, complaint_only=True)``, with the query's own signature and types.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

import streamlit as st

from data import active, borrowers, inbox, queries, warnings
from data.settings import settings
from data.store import Store, open_store

TTL_S = 300
P = ParamSpec("P")
R = TypeVar("R")


@st.cache_resource(show_spinner=False)
def store() -> Store:
    """The process-wide DuckDB store (opened and migrated once), and the inbox worker that
    imports files the command line queued while this process holds the database.

    Raises ``StoreBusy`` while another process holds the file (not cached: the next run
    tries again).
    """
    opened = open_store()
    inbox.start(opened, settings().inbox_for(opened.path), on_change=data_changed)
    return opened


def data_changed() -> None:
    """Call after any write so every cached query is recomputed."""
    st.cache_data.clear()


def _cached(query: Callable[Concatenate[Store, P], R]) -> Callable[P, R]:
    """``query(store(), ...)`` as a function of the other arguments, its results cached."""

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return query(store(), *args, **kwargs)

    functools.update_wrapper(run, query)
    # st.cache_data keys a cache by module + qualname + source: one cache per query. The
    # signature without ``store`` names the positional arguments in the value keys.
    run.__module__, run.__qualname__ = __name__, query.__name__
    signature = inspect.signature(query)
    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=list(signature.parameters.values())[1:]
    )
    return st.cache_data(ttl=TTL_S, show_spinner=False)(run)


filter_options = _cached(queries.filter_options)
kpis = _cached(queries.kpis)
sentiment_by_tactic = _cached(queries.sentiment_by_tactic)
trend = _cached(queries.trend)
breakdown = _cached(queries.breakdown)
emotions_by_tactic = _cached(queries.emotions_by_tactic)
csat_by_tactic = _cached(queries.csat_by_tactic)
records = _cached(queries.records)
records_page = _cached(queries.records_page)
complaint_queue = _cached(queries.complaint_queue)
complaint_page = _cached(queries.complaint_page)
calls_table = _cached(queries.calls_table)
calls_page = _cached(queries.calls_page)
plan_outcomes = _cached(queries.plan_outcomes)
violation_outcomes = _cached(queries.violation_outcomes)
agent_scorecard = _cached(queries.agent_scorecard)
call_turns = _cached(queries.call_turns)
uncertain_page = _cached(active.uncertain_page)  # 投诉复核 「模型最没把握」


@st.cache_data(max_entries=4, show_spinner="正在读取文件…")
def read_table(raw: bytes, name: str, sheet: str | int | None = None):
    """``data.reader.read_table``, cached by the file's bytes: the upload page reads a file
    once, however often the page reruns while the user maps its columns."""
    from data.reader import read_table as read

    return read(raw, name, sheet)


case_counts = _cached(warnings.case_counts)
case_queue = _cached(warnings.case_queue)
borrower_timeline = _cached(borrowers.timeline)
falling_borrowers = _cached(borrowers.falling_borrowers)
