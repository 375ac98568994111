"""`make model` stays quiet about the two expected notices, and only about them."""

from __future__ import annotations

import logging

import pytest

from training.modelbuild import _dropped, _expected_load_report, _preprocessing_advice

POOLER_REPORT = (
    "\x1b[1mBertModel LOAD REPORT\x1b[0m from: models/e5-small-base\n"
    "Key                 | Status  | \n"
    "--------------------+---------+-\n"
    "pooler.dense.weight | MISSING | \n"
    "pooler.dense.bias   | MISSING | \n\n"
    "Notes:\n- MISSING:\tthose params were newly initialized because missing from the "
    "checkpoint. Consider training on your downstream task."
)
ADVICE = (
    "Please consider to run pre-processing before quantization. Refer to example: "
    "https://github.com/microsoft/onnxruntime-inference-examples/blob/main/quantization/"
)


def _record(msg: str) -> logging.LogRecord:
    return logging.LogRecord("transformers.modeling_utils", logging.WARNING, "", 0, msg, (), None)


def test_only_a_pooler_only_load_report_counts_as_expected():
    assert _expected_load_report(_record(POOLER_REPORT))
    other = POOLER_REPORT.replace("pooler.dense.bias  ", "encoder.layer.0.w")
    assert not _expected_load_report(_record(other))
    unexpected = POOLER_REPORT.replace("| MISSING | \n\n", "| UNEXPECTED | \n\n")
    assert not _expected_load_report(_record(unexpected))
    assert not _expected_load_report(_record("some other warning"))


def test_the_quantization_advice_is_dropped_and_other_warnings_still_show(
    caplog: pytest.LogCaptureFixture,
):
    root = logging.getLogger()
    with caplog.at_level(logging.WARNING), _dropped(root, _preprocessing_advice):
        logging.warning(ADVICE)
        logging.warning("quantization failed: real problem")
    assert [r.getMessage() for r in caplog.records] == ["quantization failed: real problem"]
    caplog.clear()
    logging.warning(ADVICE)  # the filter is gone after the block
    assert [r.getMessage() for r in caplog.records] == [ADVICE]
