"""Behavioural network detection that needs no labels: one detector per behaviour.

* `scan.ScanDetector`: port scans and host sweeps (unanswered probes in a sliding window);
* `bruteforce.BruteForce`: password guessing on one account, and password spraying;
* `dos.SourceFlood`: connection floods from one source against a service;
* `beacon.Beaconing`: regular callbacks to a rare external address;
* `exfil.ExfiltrationBaseline`: uploads far above the host's own baseline to a rare address;
* `dns_tunnel.DnsTunnel`: long random names, or very many unique names, under one domain;
* `lateral.NewInternalPeers`: a host reaching several new internal admin peers.

Each alert explains what it counted against which threshold; see docs/network-behaviour.md.
"""

from mamori.detect.network.beacon import Beaconing
from mamori.detect.network.bruteforce import BruteForce
from mamori.detect.network.dns_tunnel import DnsTunnel
from mamori.detect.network.dos import SourceFlood
from mamori.detect.network.exfil import ExfiltrationBaseline
from mamori.detect.network.lateral import NewInternalPeers
from mamori.detect.network.scan import ScanDetector

__all__ = [
    "Beaconing",
    "BruteForce",
    "DnsTunnel",
    "ExfiltrationBaseline",
    "NewInternalPeers",
    "ScanDetector",
    "SourceFlood",
]
