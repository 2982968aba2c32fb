"""`mamori eval nsl-kdd` and `mamori eval cicids` on small files: their JSON keys and figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from mamori.cli import main

NORMAL = ("0,tcp,http,SF,{b},{d},0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,{c},{c},0.00,0.00,0.00,0.00,"
          "1.00,0.00,0.00,{h},255,1.00,0.00,0.03,0.04,0.00,0.00,0.00,0.00,normal,21")
NEPTUNE = ("0,tcp,private,S0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,{c},{s},1.00,1.00,0.00,0.00,"
           "0.05,0.07,0.00,255,{s},0.10,0.05,0.00,0.00,1.00,1.00,0.00,0.00,neptune,19")
SMURF = ("0,icmp,ecr_i,SF,{b},0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,{c},{c},0.00,0.00,0.00,0.00,"
         "1.00,0.00,0.00,255,255,1.00,0.00,1.00,0.00,0.00,0.00,0.00,0.00,smurf,20")  # fmt: skip


def kdd_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(2)
    lines = [NORMAL.format(b=int(rng.integers(150, 400)), d=int(rng.integers(300, 9000)),
                           c=int(rng.integers(1, 20)), h=int(rng.integers(1, 255)))
             for _ in range(300)]
    lines += [NEPTUNE.format(c=int(rng.integers(100, 300)), s=int(rng.integers(1, 30)))
              for _ in range(150)]
    lines += [SMURF.format(b=int(rng.choice([520, 1032])), c=int(rng.integers(300, 511)))
              for _ in range(60)]  # fmt: skip
    (tmp_path / "attack-types.csv").write_bytes(b"neptune,dos\rsmurf,dos\rnormal,normal\r")
    path = tmp_path / "train.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_eval_nsl_kdd_json(tmp_path: Path) -> None:
    train = kdd_file(tmp_path)
    result = CliRunner().invoke(
        main, ["eval", "nsl-kdd", "--train", str(train), "--holdout-types", "smurf", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    for key in ("accuracy", "precision", "recall", "f1", "category_recall", "supervised",
                "novelty", "holdout_recall", "train_rows", "test_rows"):  # fmt: skip
        assert key in figures
    assert figures["train_rows"] + figures["test_rows"] == 510
    assert set(figures["category_recall"]) == {"DoS"}
    assert figures["accuracy"] >= 0.95
    # smurf was never trained on: the classifier alone misses it, the novelty score does not
    assert figures["holdout_recall"]["novelty"]["smurf"] == 1.0
    assert figures["holdout_recall"]["combined"]["smurf"] == 1.0


def test_eval_nsl_kdd_with_a_test_file_and_unknown_names(tmp_path: Path) -> None:
    train = kdd_file(tmp_path)
    test = tmp_path / "test.txt"
    test.write_text(train.read_text().replace("smurf,20", "mailbomb,20"))
    result = CliRunner().invoke(
        main, ["eval", "nsl-kdd", "--train", str(train), "--test", str(test), "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["test_rows"] == 510
    assert set(figures["category_recall"]) == {"DoS", "unknown"}


def test_eval_nsl_kdd_refuses_an_unknown_holdout_type(tmp_path: Path) -> None:
    train = kdd_file(tmp_path)
    result = CliRunner().invoke(
        main, ["eval", "nsl-kdd", "--train", str(train), "--holdout-types", "teardrop"]
    )
    assert result.exit_code == 2
    assert "holdout types not in the training file: teardrop" in result.output


def test_eval_cicids_json(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    header = ("Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,"
              "Total Fwd Packet,Total Bwd packets,SYN Flag Count,Label")  # fmt: skip
    for label, n, fwd in (("BENIGN", 700, (1, 30)), ("DDoS", 600, (100, 200)), ("Bot", 40, (1, 3))):
        rows = [
            f"10.0.0.{i % 250},{40000 + i},10.0.1.1,80,6,2017-07-0{3 + i * 3 // n} "
            f"10:{i % 60:02d}:00,{int(rng.integers(1, 10**6))},{int(rng.integers(*fwd))},"
            f"{int(rng.integers(1, 20))},1,{label}"
            for i in range(n)
        ]
        (tmp_path / f"{label}.csv").write_text("\n".join([header, *rows]) + "\n")
    result = CliRunner().invoke(
        main, ["eval", "cicids", str(tmp_path), "--forward-validation", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["macro_f1_classes"] == ["BENIGN", "DDoS"]  # Bot has fewer than 500 flows
    forward = figures["forward_validation"]  # fitted and scored on training flows only
    assert forward["cuts"] == [0.6, 0.75, 0.9] and len(forward["macro_f1"]) == 3
    assert all(0.9 <= f <= 1.0 for f in forward["macro_f1"])
    assert set(figures["per_class_f1"]) == {"BENIGN", "Bot", "DDoS"}
    assert figures["train_rows"] == 490 + 420 + 28
    assert figures["macro_f1"] >= 0.95
    novelty = figures["novelty"]
    assert novelty["budget"] == 0.01 and set(novelty["recall"]) == {"Bot", "DDoS"}
    assert novelty["benign_false_positive_rate"] <= 0.05
    # the confusion counts add up to the test flows, the validation split is carved from
    # the training flows, and the merged-scan figure appears only when both scans are there
    assert sum(n for row in figures["confusion"].values() for n in row.values()) == 402
    assert figures["validation"]["rows"] == 98 + 84 + 6
    assert figures["validation"]["macro_f1"] >= 0.9
    assert "same_scan_merged" not in figures
    plain = CliRunner().invoke(main, ["eval", "cicids", str(tmp_path), "--json"])
    assert "forward_validation" not in json.loads(plain.stdout)


def test_confusion_and_merged_scans() -> None:
    from mamori.detect.intrusion.evaluation import SAME_SCAN, class_scores, confusion

    truth = np.array(["BENIGN", "Portscan", "Portscan", SAME_SCAN[0]])
    predicted = np.array(["BENIGN", SAME_SCAN[0], "Portscan", "Portscan"])
    assert confusion(truth, predicted) == {
        "BENIGN": {"BENIGN": 1},
        SAME_SCAN[0]: {"Portscan": 1},
        "Portscan": {SAME_SCAN[0]: 1, "Portscan": 1},
    }
    f1, macro = class_scores(truth, predicted, sorted(set(truth)), ["BENIGN", "Portscan"])
    assert f1 == {"BENIGN": 1.0, SAME_SCAN[0]: 0.0, "Portscan": 0.5} and macro == 0.75
