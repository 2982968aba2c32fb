"""Redaction: what is found, stable tokens, local restoration, and recall on the corpus."""

from __future__ import annotations

import pytest

from mamori.analyst.pii_corpus import generate_corpus
from mamori.analyst.redaction import Redactor, iban_valid, luhn_valid, my_number_valid


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("card 4111-1111-1111-1111 declined", "CARD"),
        ("IBAN DE89 3704 0044 0532 0130 00 ok", "IBAN"),
        ("マイナンバー：１２３４５６７８９０１８", "MYNUMBER"),
        ("携帯 ０９０－１２３４－５６７８ まで", "PHONE"),
        ("call +44 20 7946 0958 now", "PHONE"),
        ("mail to yui+alerts@mail.example.co.jp", "EMAIL"),
        ("db login password=Tr0ub4dor&3", "SECRET"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjF9.sig12345", "SECRET"),
        ("振込先 普通 1234567", "ACCOUNT"),
        ("from 10.20.1.15 to db01.corp", "IP"),
    ],
)
def test_each_kind_of_value_is_found(text: str, label: str) -> None:
    redacted = Redactor().redact(text)
    assert f"[{label}_1]" in redacted


def test_look_alikes_are_left_alone() -> None:
    r = Redactor()
    for text in (
        "card 4111 1111 1111 1112 (fails Luhn)",
        "my number 123456789012 (bad check digit)",
        "order ORD-2026-123456 of JPY 12,500 at 2026-11-02 09:15",
        "public 203.0.113.7",
    ):
        assert r.redact(text) == text


def test_the_same_value_gets_the_same_token_and_comes_back() -> None:
    r = Redactor(known={"佐藤 陽翔": "NAME"})
    a = r.redact("佐藤陽翔様のカード 4111111111111111")
    b = r.redact("card 4111-1111-1111-1111 of 佐藤 陽翔")
    assert a == "[NAME_1]様のカード [CARD_1]" and b == "card [CARD_1] of [NAME_1]"
    assert r.restore("Freeze [CARD_1]; call [NAME_1]; [CARD_9] unknown") == (
        "Freeze 4111111111111111; call 佐藤陽翔; [CARD_9] unknown"
    )


def test_kept_ids_and_unredacted_classes_stay() -> None:
    r = Redactor(classes=("pii",), keep={"123456789018"})
    assert r.redact("event 123456789018 from 10.0.0.5") == "event 123456789018 from 10.0.0.5"


def test_check_digit_helpers() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert my_number_valid("123456789018")
    assert iban_valid("DE89370400440532013000") and not iban_valid("DE88370400440532013000")


def test_recall_on_a_fresh_corpus_seed_is_at_least_99_5_percent() -> None:
    corpus = generate_corpus(records=600, decoys=300, seed=99)
    r = Redactor(known=corpus.directory)
    values = caught = 0
    for record in corpus.records:
        covered = bytearray(len(record.text))
        for s in r.spans(record.text):
            covered[s.start : s.end] = b"\x01" * (s.end - s.start)
        for v in record.pii:
            values += 1
            caught += all(covered[v.start : v.end])
    assert values == 1800 and caught / values >= 0.995
    false_positives = sum(1 for d in corpus.decoys if r.spans(d.text))
    assert false_positives <= 3


def test_the_corpus_sent_through_the_gateway_leaves_no_raw_value_on_the_wire() -> None:
    from mamori.analyst.evaluation import evaluate_redaction

    result = evaluate_redaction(records=150, decoys=20, seed=5)
    assert result["requests_sent"] == 2 and result["distinct_values"] > 300
    assert result["raw_values_on_the_wire"] == 0
    assert result["raw_values_in_audit_records_of_what_was_sent"] == 0
