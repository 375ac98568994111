"""Planted borrower journeys: contacts over weeks whose mood falls and whose words raise flags.

They give the 预警 page and the borrower view real cases on first run. The phrases and the
expected outcome of each journey live in ``data/resources/demo/journeys.yaml``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd

from data.demo.common import AGENTS, CALL_COLUMNS, TIMEZONE, TURN_COLUMNS, load_table

AGENT = AGENTS[2]  # one agent calls every planted borrower (its id, name and team)
SECONDS_PER_CHAR = 0.22


def expected() -> dict[str, dict]:
    """Borrower id -> what the journey should show (``falling``, ``flags``, ``promise_kept``)."""
    return {b["id"]: b["expect"] for b in load_table("journeys")["borrowers"]}


def generate_journeys(today: date) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(surveys, calls, turns)`` of the planted journeys, the survey frame with a
    ``borrower_id`` column, ending the days before ``today``."""
    surveys, calls, turns = [], [], []
    for borrower in load_table("journeys")["borrowers"]:
        bid = borrower["id"]
        for n, contact in enumerate(borrower["contacts"], start=1):
            at = datetime.combine(today - timedelta(days=contact["days"]), time(contact["hour"]))
            if contact["kind"] == "survey":
                surveys.append(
                    {
                        "response_id": f"demo-j-{bid}-{n}",
                        "respondent_id": bid,
                        "borrower_id": bid,
                        "submitted_at": pd.Timestamp(at.date()),
                        "product": borrower["product"],
                        "region": "广东",
                        "overdue_bucket": borrower["bucket"],
                        "channel": contact["channel"],
                        "csat": contact["csat"],
                        "nps": None,
                        "text": contact["text"],
                    }
                )
                continue
            call_id = f"demo-j-{bid}-{n}"
            clock = 1.0
            for index, (speaker, text) in enumerate(contact["turns"]):
                end = round(clock + len(text) * SECONDS_PER_CHAR, 2)
                turns.append((call_id, index, speaker, text, clock, end))
                clock = round(end + 0.6, 2)
            calls.append(
                (
                    call_id,
                    bid,
                    *AGENT,
                    pd.Timestamp(at, tz=TIMEZONE),
                    int(clock),
                    contact["outcome"],
                    borrower["product"],
                    borrower["bucket"],
                )
            )
    survey_frame = pd.DataFrame(surveys)
    survey_frame["csat"] = survey_frame["csat"].astype("Int64")
    survey_frame["nps"] = survey_frame["nps"].astype("Int64")
    return (
        survey_frame,
        pd.DataFrame(calls, columns=list(CALL_COLUMNS)),
        pd.DataFrame(turns, columns=list(TURN_COLUMNS)),
    )
