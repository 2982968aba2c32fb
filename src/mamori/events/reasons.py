"""Why a record was quarantined: one short, stable code per cause.

Counts in a `ReadSummary` and lines in a quarantine file carry these codes; the `detail`
beside each says which column and value, in words.
"""

from __future__ import annotations

BROKEN_JSON = "broken_json"  #: the line is not valid JSON (or not UTF-8)
NOT_AN_OBJECT = "not_an_object"  #: valid JSON, but an array, string, number or null
BROKEN_CSV_ROW = "broken_csv_row"  #: a CSV row whose field count differs from the header's
CORRUPT_CHUNK = "corrupt_chunk"  #: a record lost with a damaged EVTX chunk (zeroed, truncated)
CORRUPT_RECORD = "corrupt_record"  #: an EVTX record the parser could not read
MISSING_KIND = "missing_kind"  #: no kind from the caller, the record or its folder
UNKNOWN_KIND = "unknown_kind"  #: a kind that `mamori.events.schema.KINDS` does not declare
KIND_MISMATCH = "kind_mismatch"  #: the record names a kind other than the one asked for
MISSING_TIME = "missing_time"
UNPARSEABLE_TIME = "unparseable_time"
TIME_OUT_OF_RANGE = "time_out_of_range"  #: before 1990, or more than a day in the future
WRONG_TYPE = "wrong_type"  #: a value that does not fit its column's type (amount "abc")
BAD_VALUE = "bad_value"  #: a value of the right type that no bank would accept (amount -5)

#: Every reason, in the order checks are made: a record gets the first that applies.
ALL = (
    BROKEN_JSON,
    NOT_AN_OBJECT,
    BROKEN_CSV_ROW,
    CORRUPT_CHUNK,
    CORRUPT_RECORD,
    MISSING_KIND,
    UNKNOWN_KIND,
    KIND_MISMATCH,
    MISSING_TIME,
    UNPARSEABLE_TIME,
    TIME_OUT_OF_RANGE,
    WRONG_TYPE,
    BAD_VALUE,
)
