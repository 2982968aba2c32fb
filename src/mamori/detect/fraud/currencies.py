"""ISO 4217 currency codes a payment may be in (list A.1, current codes).

Fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW) and the IMF's XDR are accepted,
as banks settle in them; precious metals (XAU, XAG, XPD, XPT), the bond-market units
(XBA-XBD), XSU, XUA, the testing code XTS and XXX ("no currency") are not payment
currencies and are refused. Withdrawn codes (HRK, SLL, ZWL, …) are refused too; ANG stays
until the Caribbean guilder (XCG) has fully replaced it.

>>> is_currency("JPY"), is_currency("jpy"), is_currency("XXX"), is_currency("HRK")
(True, False, False, False)
"""

from __future__ import annotations

_LIST_A1 = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD
    EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD
    IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL
    MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN
    PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN
    SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES
    VND VUV WST XAF XCD XCG XDR XOF XPF YER ZAR ZMW ZWG
"""
CURRENCIES: frozenset[str] = frozenset(_LIST_A1.split())


def is_currency(code: str) -> bool:
    """Whether `code` is a current ISO 4217 payment currency (upper case, as the standard
    writes it)."""
    return code in CURRENCIES
