"""The BGL evaluation: the figure on the sample, and proof that the scored part's labels
play no part in the verdicts."""

import polars as pl
import pytest

from mamori.detect.logs.bgl import evaluate_bgl
from mamori.detect.logs.labelled import TemplateVerdicts


@pytest.fixture(scope="module")
def bgl(data_root):
    return data_root / "logs" / "loghub" / "BGL_2k.log"


def test_time_split_figures_on_the_sample(bgl):
    result = evaluate_bgl(bgl)
    split = (result["train_lines"], result["test_lines"], result["test_anomalies"])
    assert split == (1000, 1000, 47)
    assert result["f1"] >= 0.95 and result["recall"] == 1.0
    assert result["f1"] > result["baseline_severity_only"]["f1"] + 0.3
    assert sum(r["lines"] for r in result["routes"].values()) == 1000


def test_labels_of_the_scored_part_do_not_change_any_verdict(bgl, tmp_path):
    lines = bgl.read_text().splitlines()
    blinded = lines[:1000] + ["-" + line[line.index(" ") :] for line in lines[1000:]]
    copy = tmp_path / "BGL_blinded.log"
    copy.write_text("\n".join(blinded) + "\n")
    real, blind = evaluate_bgl(bgl), evaluate_bgl(copy)
    flagged = lambda r: r["true_positives"] + r["false_positives"]  # noqa: E731
    assert flagged(real) == flagged(blind) == 50
    assert blind["test_anomalies"] == 0


def test_a_new_template_unlike_any_labelled_one_is_judged_by_its_severity():
    model = TemplateVerdicts().fit(
        pl.Series(["APP info job started", "KERNEL fatal data TLB error"]),
        pl.Series([False, True]),
    )
    out = model.predict(
        pl.Series(["DISK error controller reset", "NET fatal link lost", "APP info job started"]),
        pl.Series(["error", "FATAL", "info"]),
    )
    assert out.rows() == [(False, "new"), (True, "new"), (False, "known")]


def test_refuses_a_split_that_leaves_nothing_to_score(bgl):
    with pytest.raises(ValueError, match="train_fraction"):
        evaluate_bgl(bgl, train_fraction=1.0)
