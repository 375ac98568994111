"""The one reader: bytes of any supported file -> a frame (surveys) or calls and turns.

Every entry point (the upload page, ``python -m data ingest``, ``python -m nlp score|calls``, the
Ray driver) reads through here, so formats and encodings follow one set of rules:

* surveys: CSV/TSV (UTF-8, UTF-16, GBK/GB18030, Big5), XLSX, JSONL/JSON, Parquet
  (:func:`read_table`);
* transcripts: JSONL/JSON, CSV/XLSX turn tables, TXT (:func:`read_transcript_bytes`, or
  :func:`read_transcripts` for a file or directory on disk).

Problems raise :class:`InputError` (:class:`TranscriptError` for transcripts, a subclass of
``ValueError`` as well) naming the row and column.
"""

from data.reader.encoding import decode_bytes
from data.reader.errors import InputError, Problem, one_line
from data.reader.tables import excel_sheets, file_kind, read_table
from data.reader.transcripts import (
    SUPPORTED_SUFFIXES,
    TranscriptError,
    read_metadata_bytes,
    read_metadata_csv,
    read_transcript_bytes,
    read_transcripts,
)

__all__ = [
    "SUPPORTED_SUFFIXES",
    "InputError",
    "Problem",
    "TranscriptError",
    "decode_bytes",
    "excel_sheets",
    "file_kind",
    "one_line",
    "read_metadata_bytes",
    "read_metadata_csv",
    "read_table",
    "read_transcript_bytes",
    "read_transcripts",
]
