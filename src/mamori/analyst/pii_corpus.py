"""A generated corpus of bank personal data in Japanese and English text and in log lines,
with the position and kind of every value, to measure redaction.

Seeded and deterministic. Values are drawn the way they appear in a bank's data: card
numbers of several schemes with valid Luhn digits, grouped or not; IBANs of several
countries with valid check digits, compact or in groups of four; Japanese account numbers
in their usual forms; My Numbers with their check digit; Japanese mobile, landline and
free-dial numbers and international numbers, some in full-width digits; e-mail addresses;
names and addresses from the bank's customer directory (in both name orders, Japanese with
and without the space); passwords, API keys, bearer tokens and URL credentials in log lines;
internal addresses and host names. Decoy records carry look-alikes that are not personal
data (order numbers, amounts, timestamps, public IPs, 16-digit numbers failing the Luhn
check) to count false positives.

>>> corpus = generate_corpus(records=50, seed=1)
>>> record = corpus.records[0]
>>> all(record.text[p.start:p.end] == p.value for p in record.pii)
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from mamori.analyst.redaction import iban_valid, luhn_valid, my_number_valid

T = TypeVar("T")

__all__ = ["PiiCorpus", "PiiRecord", "PiiValue", "generate_corpus"]

_FIRST_EN = ("Haruto", "Yui", "Sota", "Aoi", "Ren", "Mei", "Emma", "Liam", "Olivia", "Noah")
_LAST_EN = ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Smith", "Garcia")
_FIRST_JA = ("陽翔", "結衣", "蒼", "葵", "蓮", "芽依", "湊", "陽菜")
_LAST_JA = ("佐藤", "鈴木", "高橋", "田中", "渡辺", "伊藤", "山本", "中村")
_TOWNS_EN = ("Shibuya, Tokyo", "Kita-ku, Osaka", "Naka-ku, Yokohama", "Chuo-ku, Sapporo")
_TOWNS_JA = (
    "東京都渋谷区神南",
    "大阪府大阪市北区梅田",
    "神奈川県横浜市中区山下町",
    "福岡県福岡市中央区天神",
)
_DOMAINS = ("example.jp", "mail.example.co.jp", "example.com", "corp.example.org")
_IBAN_COUNTRIES = {"GB": 22, "DE": 22, "FR": 27, "NL": 18, "ES": 24, "IT": 27, "CH": 21}

_FULL = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)} | {"-": "－"})


@dataclass(frozen=True)
class PiiValue:
    start: int
    end: int
    label: str
    value: str


@dataclass
class PiiRecord:
    text: str
    kind: str  # en_text, ja_text or log
    pii: list[PiiValue] = field(default_factory=list)


@dataclass
class PiiCorpus:
    records: list[PiiRecord]
    decoys: list[PiiRecord]
    directory: dict[str, str]  # what the bank knows: value -> label


class _Draw:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def pick(self, items: Sequence[T]) -> T:
        return items[int(self.rng.integers(len(items)))]

    def octet(self, low: int = 0) -> int:
        return int(self.rng.integers(low, 255))

    def digits(self, n: int) -> str:
        return "".join(str(d) for d in self.rng.integers(0, 10, n))

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def card(self) -> str:
        prefix, length = self.pick(
            [("4", 16), ("51", 16), ("55", 16), ("35", 16), ("37", 15), ("36", 14), ("6011", 16)]
        )
        body = prefix + self.digits(length - len(prefix) - 1)
        check = next(str(d) for d in range(10) if luhn_valid(body + str(d)))
        number = body + check
        style = int(self.rng.integers(3))
        if style == 0 or length != 16:
            return number
        sep = " " if style == 1 else "-"
        return sep.join(number[i : i + 4] for i in range(0, 16, 4))

    def iban(self) -> str:
        country = self.pick(list(_IBAN_COUNTRIES))
        length = _IBAN_COUNTRIES[country]
        bban = "".join(
            self.pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            if i < 4 and country in ("GB", "NL")
            else str(int(self.rng.integers(10)))
            for i in range(length - 4)
        )
        check = 98 - int("".join(str(int(c, 36)) for c in bban + country + "00")) % 97
        compact = f"{country}{check:02d}{bban}"
        assert iban_valid(compact)
        if self.chance(0.5):
            return compact
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))

    def my_number(self) -> str:
        body = self.digits(11)
        number = next(body + str(d) for d in range(10) if my_number_valid(body + str(d)))
        style = int(self.rng.integers(3))
        if style == 0:
            return number
        sep = " " if style == 1 else "-"
        return sep.join(number[i : i + 4] for i in range(0, 12, 4))

    def phone(self) -> str:
        style = int(self.rng.integers(8))
        if style == 0:
            return f"{self.pick(('090', '080', '070'))}-{self.digits(4)}-{self.digits(4)}"
        if style == 1:
            return f"{self.pick(('03', '06'))}-{self.digits(4)}-{self.digits(4)}"
        if style == 2:
            return f"{self.pick(('090', '080'))}{self.digits(8)}"
        if style == 3:
            return f"+81-{self.pick(('90', '80', '3'))}-{self.digits(4)}-{self.digits(4)}"
        if style == 4:
            return f"+81 {self.pick(('90', '3'))} {self.digits(4)} {self.digits(4)}"
        if style == 5:
            return self.pick(
                [
                    f"+1 {self.digits(3)} 555 {self.digits(4)}",
                    f"+44 20 {self.digits(4)} {self.digits(4)}",
                    f"+65 {self.digits(4)} {self.digits(4)}",
                    f"+49 30 {self.digits(8)}",
                ]
            )
        if style == 6:
            return f"0120-{self.digits(3)}-{self.digits(3)}"
        return f"{self.pick(('090', '080'))}-{self.digits(4)}-{self.digits(4)}".translate(_FULL)

    def email(self, name: str) -> str:
        local = name.lower().replace(" ", self.pick((".", "_", "")))
        if not local.isascii():
            local = "user" + self.digits(4)
        if self.chance(0.2):
            local += "+" + self.pick(("bank", "alerts", "2026"))
        return f"{local}@{self.pick(_DOMAINS)}"

    def account(self) -> str:
        return self.pick(
            [
                f"{self.digits(4)}-{self.digits(3)}-{self.digits(7)}",
                f"{self.digits(4)}-{self.digits(7)}",
            ]
        )

    def secret(self) -> tuple[str, str]:
        """(prefix text, secret value)"""
        token = "".join(
            self.pick("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789!#$%")
            for _ in range(int(self.rng.integers(8, 16)))
        )
        alnum = "".join(self.pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(16))
        style = int(self.rng.integers(8))
        if style == 0:
            return self.pick(("password=", "passwd=", "pwd=", "PASSWORD: ")), token
        if style == 1:
            return self.pick(('"api_key": "', "api-key=", "apikey: ", "client_secret=")), alnum
        if style == 2:
            return (
                "Authorization: Bearer ",
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ" + alnum + ".c2ln" + alnum,
            )
        if style == 3:
            return "aws_access_key_id ", "AKIA" + alnum
        if style == 4:
            return "token ", "ghp_" + alnum + alnum + "abcd"
        if style == 5:
            return "パスワード：", token
        if style == 6:
            return "--password ", token
        return "secret_key=", "sk-" + alnum + alnum


def generate_corpus(records: int = 4000, decoys: int = 1000, seed: int = 2026) -> PiiCorpus:
    """`records` records with personal data and `decoys` without, from `seed`."""
    draw = _Draw(seed)
    directory: dict[str, str] = {}
    people_en = [f"{draw.pick(_FIRST_EN)} {draw.pick(_LAST_EN)}" for _ in range(60)]
    people_ja = [f"{draw.pick(_LAST_JA)} {draw.pick(_FIRST_JA)}" for _ in range(60)]
    homes_en = [
        f"{draw.rng.integers(1, 9)}-{draw.rng.integers(1, 30)}-{draw.rng.integers(1, 20)} "
        f"{draw.pick(_TOWNS_EN)}"
        for _ in range(60)
    ]
    homes_ja = [
        f"{draw.pick(_TOWNS_JA)}{draw.rng.integers(1, 9)}-{draw.rng.integers(1, 30)}-"
        f"{draw.rng.integers(1, 20)}"
        for _ in range(60)
    ]
    directory.update({p: "NAME" for p in people_en + people_ja})
    directory.update({h: "ADDRESS" for h in homes_en + homes_ja})

    def person(ja: bool) -> str:
        name = draw.pick(people_ja if ja else people_en)
        if ja and draw.chance(0.4):
            return name.replace(" ", "")
        if not ja and draw.chance(0.3):
            first, last = name.split()
            return f"{last.upper()} {first}"
        return name

    values: dict[str, Callable[[bool], tuple[str, str, str]]] = {
        "CARD": lambda ja: ("", draw.card(), ""),
        "IBAN": lambda ja: ("", draw.iban(), ""),
        "MYNUMBER": lambda ja: ("マイナンバー " if ja else "My Number ", draw.my_number(), ""),
        "PHONE": lambda ja: ("", draw.phone(), ""),
        "EMAIL": lambda ja: ("", draw.email(draw.pick(people_en)), ""),
        "ACCOUNT": lambda ja: (
            (
                draw.pick(
                    ("口座番号：", "普通 ", "口座 ") if ja else ("account no. ", "acct ", "A/C ")
                ),
                draw.digits(7),
                "",
            )
            if draw.chance(0.5)
            else ("", draw.account(), "")
        ),
        "NAME": lambda ja: ("", person(ja), ""),
        "ADDRESS": lambda ja: ("", draw.pick(homes_ja if ja else homes_en), ""),
        "SECRET": lambda ja: (*draw.secret(), ""),
        "IP": lambda ja: (
            "",
            draw.pick(
                [
                    f"10.{draw.octet()}.{draw.octet()}.{draw.octet(1)}",
                    f"192.168.{draw.octet()}.{draw.octet(1)}",
                    f"172.{draw.rng.integers(16, 32)}.{draw.octet()}.{draw.octet(1)}",
                ]
            ),
            "",
        ),
        "HOST": lambda ja: (
            "",
            f"{draw.pick(('db', 'app', 'core', 'ad'))}{draw.rng.integers(1, 40):02d}."
            f"{draw.pick(('corp.bank.local', 'internal', 'branch.lan', 'dc.intra'))}",
            "",
        ),
    }
    en = (
        "Customer {0} called about a payment; details: {1}. Follow up with {2}.",
        "Please verify {0} before releasing the transfer ({1}, {2}).",
        "Chargeback dispute from {0}: {1}, {2}.",
        "KYC refresh for {0} – documents list {1} and {2}.",
        "Fraud desk note: {0} reported {1} lost; new contact {2}.",
    )
    ja = (
        "お客様{0}様より入金の件で問い合わせ。{1}を確認済み、折り返し{2}へ。",
        "{0}の振込を保留。{1}、{2}。",
        "本人確認：{0}、{1}。担当より{2}へ連絡。",
        "不正利用の申告あり（{0}）。{1}／{2}",
    )
    logs = (
        '2026-11-02T09:{m:02d}:11Z app=core-banking level=WARN msg="payment held" {0} {1} {2}',
        "Nov  2 09:{m:02d}:03 gw01 sshd[4411]: Accepted password for ops from {0} {1} {2}",
        '{{"ts":"2026-11-02T09:{m:02d}:00Z","event":"login","detail":"{0}","ctx":"{1} {2}"}}',
        "[2026-11-02 09:{m:02d}:42] ERROR db connect failed {0}; retry with {1} ({2})",
    )
    labels = list(values)
    log_labels = ["SECRET", "IP", "HOST", "EMAIL", "CARD", "PHONE", "ACCOUNT", "NAME"]
    out: list[PiiRecord] = []
    for i in range(records):
        kind = ("en_text", "ja_text", "log")[i % 3]
        template = draw.pick(ja if kind == "ja_text" else en if kind == "en_text" else logs)
        slots = []
        for _ in range(3):
            label = draw.pick(log_labels if kind == "log" else labels)
            prefix, value, suffix = values[label](kind == "ja_text")
            slots.append((prefix, value, suffix, label))
        out.append(_fill(template, slots, kind, int(draw.rng.integers(60))))
    decoy_slots = (
        lambda: f"ORD-2026-{draw.digits(6)}",
        lambda: f"JPY {draw.rng.integers(1, 999)},{draw.digits(3)}",
        lambda: f"2026-11-{draw.rng.integers(1, 28):02d} {draw.octet() % 24:02d}:{draw.digits(2)}",
        lambda: f"{draw.rng.integers(11, 99)}.{draw.octet()}.{draw.octet()}.{draw.octet(1)}",
        lambda: _not_luhn(draw),
        lambda: f"txn {draw.digits(8)}",
        lambda: f"alert al-{draw.digits(4)}",
        lambda: f"v{draw.rng.integers(1, 9)}.{draw.rng.integers(0, 20)}.{draw.rng.integers(0, 9)}",
    )
    fake: list[PiiRecord] = []
    for i in range(decoys):
        parts = [draw.pick(decoy_slots)() for _ in range(3)]
        text = draw.pick(
            (
                "Batch {0} settled at {1}; ref {2}.",
                "処理 {0} 完了 {1} {2}",
                "job={0} took {1} build {2}",
            )
        ).format(*parts)
        fake.append(PiiRecord(text, ("en_text", "ja_text", "log")[i % 3]))
    return PiiCorpus(out, fake, directory)


def _fill(
    template: str, slots: list[tuple[str, str, str, str]], kind: str, minute: int
) -> PiiRecord:
    """Fill a template's {0} {1} {2}, recording where each value landed."""
    text, pii = "", []
    rest = template.replace("{m:02d}", f"{minute:02d}").replace("{{", "{").replace("}}", "}")
    for n, (prefix, value, suffix, label) in enumerate(slots):
        head, rest = rest.split("{" + str(n) + "}", 1)
        text += head + prefix
        pii.append(PiiValue(len(text), len(text) + len(value), label, value))
        text += value + suffix
    return PiiRecord(text + rest, kind, pii)


def _not_luhn(draw: _Draw) -> str:
    while True:
        number = "4" + draw.digits(15)
        if not luhn_valid(number):
            return number
