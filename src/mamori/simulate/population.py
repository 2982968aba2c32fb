"""One bank's world: customers and their habits, staff, hosts, merchants and the internet.

Built once per tenant from its own seed stream, fully vectorised, so a bank of a million
customers takes seconds. Generators index into these arrays; `reference()` turns them into
the tables the detectors and the console look entities up in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from mamori.simulate import vocab
from mamori.simulate.config import SimConfig
from mamori.simulate.frames import (
    choose,
    digit_strings,
    ip_int,
    ip_strings,
    luhn_complete,
    numbered,
    pick,
    random_digits,
    random_hex,
)
from mamori.simulate.seeds import stream

#: First octets of consumer broadband and mobile ranges customers come from.
CONSUMER_OCTETS = np.array(
    [
        1,
        14,
        27,
        36,
        42,
        49,
        58,
        60,
        61,
        101,
        106,
        110,
        114,
        118,
        119,
        121,
        122,
        124,
        126,
        133,
        153,
        180,
        182,
        202,
        210,
        219,
        220,
        221,
    ]
)
#: First octets of hosting and cloud ranges (services staff use; where attackers rent).
HOSTING_OCTETS = np.array(
    [
        13,
        20,
        23,
        31,
        34,
        35,
        37,
        40,
        45,
        46,
        52,
        54,
        62,
        77,
        78,
        79,
        80,
        85,
        88,
        89,
        91,
        92,
        94,
        104,
        108,
        128,
        135,
        136,
        138,
        139,
        141,
        142,
        143,
        146,
        151,
        157,
        158,
        159,
        162,
        164,
        167,
        172,
        173,
        176,
        178,
        185,
        188,
        192,
        193,
        194,
        195,
        198,
        199,
        204,
        205,
        206,
        207,
        209,
        212,
        213,
        216,
        217,
    ]
)

NOSTRO_CUSTOMER = "BANK-NOSTRO"


def public_ips(rng: np.random.Generator, n: int, octets: np.ndarray) -> np.ndarray:
    """`n` public-looking IPv4 addresses (as integers) whose first octet is one of `octets`."""
    first = rng.choice(octets, size=n).astype(np.int64)
    rest = rng.integers(1 << 8, 1 << 24, size=n, dtype=np.int64)
    return (first << 24) | rest | 1  # never a .0 network address


def external_accounts(rng: np.random.Generator, n: int) -> pl.Series:
    """`n` account numbers at other banks (4-digit bank code, 7-digit account)."""
    banks = rng.integers(1, 10000, size=n)
    accounts = rng.integers(0, 10_000_000, size=n)
    return (
        pl.Series(banks).cast(pl.String).str.zfill(4)
        + "-"
        + pl.Series(accounts).cast(pl.String).str.zfill(7)
    )


def scattered_numbers(rng: np.random.Generator, n: int, modulus: int) -> np.ndarray:
    """`n` distinct numbers below `modulus` (n <= modulus) in a scrambled order."""
    stride = int(rng.integers(modulus // 3, modulus // 2)) | 1
    while np.gcd(stride, modulus) != 1:
        stride += 2
    return (int(rng.integers(modulus)) + np.arange(n, dtype=np.int64) * stride) % modulus


def owned_table(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For per-customer item counts: the owner of each item and each customer's first item."""
    owner = np.repeat(np.arange(len(counts)), counts)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return owner, start


def own_item(
    rng: np.random.Generator, who: np.ndarray, start: np.ndarray, count: np.ndarray
) -> np.ndarray:
    """For each customer index in `who` (all with count > 0), one of their items at random."""
    return start[who] + (rng.random(len(who)) * count[who]).astype(np.int64)


@dataclass
class Population:
    """Everything about one tenant that does not change from day to day."""

    tenant: str
    country: str
    currency: str
    bank_code: str
    domain: str  # the Windows domain, e.g. BANKA
    # customers
    customer: pl.Series
    name: pl.Series
    address: pl.Series
    phone: pl.Series
    email: pl.Series
    home_country: pl.Series
    home_ip: np.ndarray
    home_ip_str: pl.Series
    spend_rate: np.ndarray
    login_rate: np.ndarray
    mobile: np.ndarray
    typical_amount: np.ndarray
    salary: np.ndarray  # 0 where the customer has no salary paid in
    payday: np.ndarray
    # accounts: the first `n` are each customer's main account, in customer order
    account: pl.Series
    account_owner: np.ndarray
    # cards, devices, payees and bills, each with owner / first item / count per customer
    card: pl.Series
    card_owner: np.ndarray
    card_start: np.ndarray
    card_count: np.ndarray
    device: pl.Series
    device_agent: pl.Series
    device_start: np.ndarray
    device_count: np.ndarray
    payee: pl.Series
    payee_start: np.ndarray
    payee_count: np.ndarray
    bill_owner: np.ndarray
    bill_day: np.ndarray
    bill_amount: np.ndarray
    bill_payee: pl.Series
    # staff
    user: pl.Series
    employee_name: pl.Series
    role: pl.Series
    workstation: pl.Series
    workstation_ip: pl.Series
    admin_account: pl.Series
    # hosts
    host: pl.Series
    host_ip: pl.Series
    host_role: pl.Series
    # merchants
    merchant: pl.Series
    merchant_mcc: pl.Series
    merchant_weight: np.ndarray
    merchant_cnp: np.ndarray
    merchant_scale: np.ndarray
    merchant_terminal: pl.Series
    travel_merchant: pl.Series
    travel_mcc: pl.Series
    travel_country: pl.Series
    # the internet the bank talks to
    internet_ip: np.ndarray
    internet_ip_str: pl.Series
    internet_weight: np.ndarray
    mobile_ip: np.ndarray
    mail_relay: pl.Series
    swift_peer: pl.Series
    correspondent: pl.Series
    correspondent_country: pl.Series
    nostro_account: str

    @property
    def customers(self) -> int:
        return len(self.customer)

    def server_ip(self, name: str) -> str:
        """The address of one of the bank's servers by name (e.g. "DC01")."""
        return self.host_ip[self.host.to_list().index(name)]

    def addresses(self, hosts: pl.Series) -> pl.Series:
        """The address of each of the bank's hosts named in `hosts`."""
        lookup = dict(zip(self.host.to_list(), self.host_ip.to_list(), strict=True))
        return hosts.replace_strict(lookup, return_dtype=pl.String)

    def staff_with_role(self, role: str) -> np.ndarray:
        """Indices of employees with a role."""
        return np.flatnonzero((self.role == role).to_numpy())

    def reference(self) -> dict[str, pl.DataFrame]:
        """The customers, employees and hosts tables, as the bank's systems would list them."""
        n = self.customers
        account_owner = pl.Series(self.account_owner)

        def grouped(values: pl.Series, owner: np.ndarray) -> pl.Series:
            lists = (
                pl.DataFrame({"o": owner, "v": values}).group_by("o", maintain_order=True).agg("v")
            )
            full = pl.DataFrame({"o": np.arange(n)}).join(lists, on="o", how="left")
            return full["v"].fill_null(pl.lit([], pl.List(pl.String)))

        customers = pl.DataFrame(
            {
                "tenant": self.tenant,
                "customer": self.customer,
                "name": self.name,
                "address": self.address,
                "phone": self.phone,
                "email": self.email,
                "country": self.home_country,
                "home_ip": self.home_ip_str,
                "accounts": grouped(self.account, account_owner.to_numpy()),
                "cards": grouped(self.card, self.card_owner),
                "devices": grouped(self.device, np.repeat(np.arange(n), self.device_count)),
                "payees": grouped(self.payee, np.repeat(np.arange(n), self.payee_count)),
            }
        )
        employees = pl.DataFrame(
            {
                "tenant": self.tenant,
                "user": self.user,
                "name": self.employee_name,
                "role": self.role,
                "workstation": self.workstation,
                "ip": self.workstation_ip,
                "admin_account": self.admin_account,
            }
        )
        hosts = pl.DataFrame(
            {"tenant": self.tenant, "host": self.host, "ip": self.host_ip, "role": self.host_role}
        )
        return {"customers": customers, "employees": employees, "hosts": hosts}


def build_population(cfg: SimConfig, tenant: str) -> Population:
    """Draw one tenant's population from its own seed stream."""
    rng = stream(cfg.seed, tenant, "population")
    n = cfg.customers
    bank_code = f"{int(rng.integers(1, 10000)):04d}"

    # --- customers -------------------------------------------------------------------------
    customer = numbered("C", np.arange(1, n + 1), 6)
    first = choose(rng, vocab.FIRST_NAMES, n)
    last = choose(rng, vocab.LAST_NAMES, n)
    name = first + " " + last
    address = (
        pl.Series(rng.integers(1, 9, n)).cast(pl.String)
        + "-"
        + pl.Series(rng.integers(1, 40, n)).cast(pl.String)
        + "-"
        + pl.Series(rng.integers(1, 30, n)).cast(pl.String)
        + " "
        + choose(rng, vocab.TOWNS, n)
        + ", "
        + choose(rng, vocab.CITIES, n)
    )
    phone = (
        "+81-"
        + choose(rng, ["70", "80", "90"], n)
        + "-"
        + digit_strings(random_digits(rng, n, 4))
        + "-"
        + digit_strings(random_digits(rng, n, 4))
    )
    email = (
        first.str.to_lowercase()
        + "."
        + last.str.to_lowercase()
        + pl.Series(rng.integers(1, 99, n)).cast(pl.String)
        + "@"
        + choose(rng, vocab.MAIL_DOMAINS, n)
    )
    others, other_w = zip(*vocab.OTHER_HOME_COUNTRIES, strict=True)
    home_country = choose(rng, (cfg.country, *others), n, (85, *other_w))
    home_ip = public_ips(rng, n, CONSUMER_OCTETS)

    spend_rate = rng.gamma(2.0, 0.65, n)  # card payments per day, mean 1.3
    login_rate = rng.gamma(1.5, 0.45, n)  # app or web logins per day, mean 0.7
    mobile = rng.random(n) < 0.65
    typical_amount = rng.lognormal(np.log(28.0), 0.55, n)
    salary = np.where(rng.random(n) < 0.7, rng.lognormal(np.log(3200.0), 0.35, n), 0.0)
    payday = rng.choice(np.array([10, 15, 20, 25, 25, 25, 28]), n)

    n_accounts = rng.choice([1, 2], n, p=[0.7, 0.3])
    extra_owner = np.flatnonzero(n_accounts == 2)
    account_owner = np.concatenate([np.arange(n), extra_owner])
    account_numbers = scattered_numbers(rng, len(account_owner), 10_000_000)
    account = f"{bank_code}-" + pl.Series(account_numbers).cast(pl.String).str.zfill(7)

    card_count = rng.choice([0, 1, 2], n, p=[0.18, 0.62, 0.2])
    card_owner, card_start = owned_table(card_count)
    bin_digits = np.array([4, 5, 3, 9, 0, int(bank_code[-1])], dtype=np.uint8)
    body = np.concatenate(
        [np.tile(bin_digits, (len(card_owner), 1)), random_digits(rng, len(card_owner), 9)],
        axis=1,
    )
    card = digit_strings(luhn_complete(body))

    device_count = rng.choice([1, 2], n, p=[0.6, 0.4])
    _, device_start = owned_table(device_count)
    device = random_hex(rng, int(device_count.sum()), 16)
    device_agent = choose(rng, vocab.USER_AGENTS_MOBILE + vocab.USER_AGENTS_WEB, len(device))

    payee_count = rng.integers(1, 6, n)
    _, payee_start = owned_table(payee_count)
    payee_rng = stream(cfg.seed, tenant, "payees")
    payee = external_accounts(payee_rng, int(payee_count.sum()))

    bill_counts = rng.integers(1, 5, n)
    bill_owner = np.repeat(np.arange(n), bill_counts)
    billers = external_accounts(payee_rng, 40)
    bill_payee = pick(billers, rng.integers(0, 40, len(bill_owner)))
    bill_day = rng.integers(1, 29, len(bill_owner))
    bill_amount = np.round(rng.lognormal(np.log(90.0), 0.7, len(bill_owner)), 2)

    # --- staff -----------------------------------------------------------------------------
    e = max(20, n // 25)
    roles, role_share = zip(*vocab.ROLES, strict=True)
    role_idx = rng.choice(len(roles), e, p=role_share)
    role_idx[:2] = roles.index("payments_operator")  # every bank has these few people
    role_idx[2:4] = roles.index("it_admin")
    role_idx[4:8] = roles.index("teller")
    role = pick(roles, role_idx)
    e_first = choose(rng, vocab.FIRST_NAMES, e)
    e_last = choose(rng, vocab.LAST_NAMES, e)
    user = (
        e_first.str.slice(0, 1).str.to_lowercase()
        + e_last.str.to_lowercase()
        + pl.Series(np.arange(1, e + 1)).cast(pl.String).str.zfill(3)
    )
    workstation = numbered("WS-", np.arange(1, e + 1), 4)
    ws_ip = (10 << 24) | (20 << 16) | (np.arange(e) + 10)  # 10.20.x.y, ample room
    admin_account = pl.when(role == "it_admin").then("adm." + user).otherwise(None)
    admin_account = pl.select(admin_account).to_series()

    # --- hosts -----------------------------------------------------------------------------
    server_names, octet, server_roles = zip(*vocab.SERVERS, strict=True)
    server_ip = ip_strings(np.array([ip_int(f"10.10.0.{o}") for o in octet]))
    web_ip = ip_strings(public_ips(rng, 1, HOSTING_OCTETS))[0]
    server_ip = server_ip.scatter(server_names.index("WEB01"), web_ip)
    host = pl.concat([pl.Series(server_names), workstation])
    host_ip = pl.concat([server_ip, ip_strings(ws_ip)])
    host_role = pl.concat([pl.Series(server_roles), pl.Series(["workstation"] * e)])

    # --- merchants -------------------------------------------------------------------------
    m = 300 + n // 20
    mccs, brands, weights, cnp, scale = zip(*vocab.MERCHANT_CATEGORIES, strict=True)
    cat = rng.choice(len(mccs), m, p=np.array(weights) / sum(weights))
    cat[: len(mccs)] = np.arange(len(mccs))  # every category exists
    brand_of = pl.Series([b for bs in brands for b in bs])
    brand_start = np.concatenate([[0], np.cumsum([len(b) for b in brands])[:-1]])
    brand_n = np.array([len(b) for b in brands])
    brand = pick(brand_of, brand_start[cat] + (rng.random(m) * brand_n[cat]).astype(int))
    merchant = (
        brand
        + " "
        + choose(rng, vocab.TOWNS, m).str.to_uppercase()
        + " "
        + pl.Series(rng.integers(1, 99, m)).cast(pl.String)
    )
    merchant_mcc = pick(mccs, cat)
    merchant_weight = np.array(weights, dtype=float)[cat] * rng.lognormal(0, 0.8, m)
    merchant_weight /= merchant_weight.sum()
    merchant_terminal = random_hex(rng, m, 8).str.to_uppercase()
    t = 200
    travel_cat = rng.choice(len(mccs), t, p=np.array(weights) / sum(weights))
    countries, country_w = zip(*vocab.TRAVEL_COUNTRIES, strict=True)
    travel_country = choose(rng, countries, t, country_w)
    travel_merchant = (
        pick(
            [
                "MARKET",
                "CAFE",
                "HOTEL",
                "DEPT STORE",
                "RESTAURANT",
                "TRANSIT",
                "PHARMACY",
                "BOUTIQUE",
            ],
            rng.integers(0, 8, t),
        )
        + " "
        + pl.Series(rng.integers(100, 999, t)).cast(pl.String)
        + " "
        + travel_country
    )

    # --- internet ----------------------------------------------------------------------------
    internet_ip = np.unique(public_ips(rng, 600, HOSTING_OCTETS))
    internet_weight = 1.0 / np.arange(1, len(internet_ip) + 1) ** 1.1
    internet_weight = rng.permutation(internet_weight / internet_weight.sum())
    mobile_ip = public_ips(rng, 2000, CONSUMER_OCTETS)
    correspondent = external_accounts(payee_rng, 25)
    correspondent = "SWIFT-" + correspondent
    correspondent_country = choose(rng, vocab.CORRESPONDENT_COUNTRIES, 25)

    return Population(
        tenant=tenant,
        country=cfg.country,
        currency=cfg.currency,
        bank_code=bank_code,
        domain=tenant.upper().replace("-", "").replace("_", "")[:15],
        customer=customer,
        name=name,
        address=address,
        phone=phone,
        email=email,
        home_country=home_country,
        home_ip=home_ip,
        home_ip_str=ip_strings(home_ip),
        spend_rate=spend_rate,
        login_rate=login_rate,
        mobile=mobile,
        typical_amount=typical_amount,
        salary=salary,
        payday=payday,
        account=account,
        account_owner=account_owner,
        card=card,
        card_owner=card_owner,
        card_start=card_start,
        card_count=card_count,
        device=device,
        device_agent=device_agent,
        device_start=device_start,
        device_count=device_count,
        payee=payee,
        payee_start=payee_start,
        payee_count=payee_count,
        bill_owner=bill_owner,
        bill_day=bill_day,
        bill_amount=bill_amount,
        bill_payee=bill_payee,
        user=user,
        employee_name=e_first + " " + e_last,
        role=role,
        workstation=workstation,
        workstation_ip=ip_strings(ws_ip),
        admin_account=admin_account,
        host=host,
        host_ip=host_ip,
        host_role=host_role,
        merchant=merchant,
        merchant_mcc=merchant_mcc,
        merchant_weight=merchant_weight,
        merchant_cnp=np.array(cnp)[cat],
        merchant_scale=np.array(scale)[cat],
        merchant_terminal=merchant_terminal,
        travel_merchant=travel_merchant,
        travel_mcc=pick(mccs, travel_cat),
        travel_country=travel_country,
        internet_ip=internet_ip,
        internet_ip_str=ip_strings(internet_ip),
        internet_weight=internet_weight,
        mobile_ip=mobile_ip,
        mail_relay=ip_strings(public_ips(rng, 12, HOSTING_OCTETS)),
        swift_peer=ip_strings(public_ips(rng, 2, HOSTING_OCTETS)),
        correspondent=correspondent,
        correspondent_country=correspondent_country,
        nostro_account=f"{bank_code}-NOSTRO-{cfg.currency}",
    )
