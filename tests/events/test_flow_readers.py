"""Flow readers: CICFlowMeter, NSL-KDD, Zeek conn.log and NetFlow v5/v9/IPFIX, with real
sample lines, quarantined bad rows and counts that add up."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import polars as pl
import pytest

from mamori.events.cicflowmeter import read_cicflowmeter
from mamori.events.flowread import FlowRead
from mamori.events.netflow import BROKEN_PACKET, UNKNOWN_TEMPLATE, parse_exports, read_netflow
from mamori.events.nslkdd import FEATURES, attack_categories, read_nslkdd
from mamori.events.quarantine import Quarantine
from mamori.events.schema import schema
from mamori.events.zeek import read_zeek

# Real rows of CIC-IDS2017 (improved) and NSL-KDD, as the files hold them.
CIC_HEADER = (
    "id,Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,"
    "Total Fwd Packet,Total Bwd packets,Total Length of Fwd Packet,Total Length of Bwd Packet,"
    "Fwd Packet Length Max,Fwd Packet Length Min,Fwd Packet Length Mean,Fwd Packet Length Std,"
    "Bwd Packet Length Max,Bwd Packet Length Min,Bwd Packet Length Mean,Bwd Packet Length Std,"
    "Flow Bytes/s,Flow Packets/s,Flow IAT Mean,Flow IAT Std,Flow IAT Max,Flow IAT Min,"
    "Fwd IAT Total,Fwd IAT Mean,Fwd IAT Std,Fwd IAT Max,Fwd IAT Min,Bwd IAT Total,Bwd IAT Mean,"
    "Bwd IAT Std,Bwd IAT Max,Bwd IAT Min,Fwd PSH Flags,Bwd PSH Flags,Fwd URG Flags,"
    "Bwd URG Flags,Fwd RST Flags,Bwd RST Flags,Fwd Header Length,Bwd Header Length,"
    "Fwd Packets/s,Bwd Packets/s,Packet Length Min,Packet Length Max,Packet Length Mean,"
    "Packet Length Std,Packet Length Variance,FIN Flag Count,SYN Flag Count,RST Flag Count,"
    "PSH Flag Count,ACK Flag Count,URG Flag Count,CWR Flag Count,ECE Flag Count,Down/Up Ratio,"
    "Average Packet Size,Fwd Segment Size Avg,Bwd Segment Size Avg,Fwd Bytes/Bulk Avg,"
    "Fwd Packet/Bulk Avg,Fwd Bulk Rate Avg,Bwd Bytes/Bulk Avg,Bwd Packet/Bulk Avg,"
    "Bwd Bulk Rate Avg,Subflow Fwd Packets,Subflow Fwd Bytes,Subflow Bwd Packets,"
    "Subflow Bwd Bytes,FWD Init Win Bytes,Bwd Init Win Bytes,Fwd Act Data Pkts,"
    "Fwd Seg Size Min,Active Mean,Active Std,Active Max,Active Min,Idle Mean,Idle Std,Idle Max,"
    "Idle Min,ICMP Code,ICMP Type,Total TCP Flow Time,Label,Attempted Category"
)
CIC_BOTNET = (
    "62557,192.168.10.5-205.174.165.73-53709-8080-6,192.168.10.5,53709,205.174.165.73,8080,6,"
    "2017-07-07 13:39:36.267908,81379,5,4,196,128,196,0,39.2,87.65386471799175,128,0,32.0,"
    "64.0,3981.371115398321,110.5936420943978,10172.375,27662.385301227576,78629,31,81379,"
    "20344.75,39749.43681257216,79967,31,80830,26943.333333333336,44763.55209691623,78629,632,"
    "1,1,0,0,0,0,112,92,61.44091227466545,49.15272981973236,0,196,36.0,73.43023900274328,"
    "5392.0,2,2,0,2,8,0,0,0,0.8,36.0,39.2,32.0,0,0,0,0,0,0,0,21,0,14,8192,237,1,20,0.0,0.0,0,"
    "0,0.0,0.0,0,0,-1,-1,81379,Botnet,-1"
)
CIC_BENIGN = (
    "154994,192.168.10.5-192.168.10.3-53633-53-17,192.168.10.5,53633,192.168.10.3,53,17,"
    "2017-07-07 12:59:21.088203,25324,2,2,108,224,54,54,54.0,0.0,112,112,112.0,0.0,"
    "13110.093192228716,157.95293002685202,8441.333333333332,14576.668286454673,25273,3,48,"
    "48.0,0.0,48,48,3,3.0,0.0,3,3,0,0,0,0,0,0,16,16,78.97646501342601,78.97646501342601,54,"
    "112,83.0,33.48631561299829,1121.3333333333333,0,0,0,0,0,0,0,0,1.0,83.0,54.0,112.0,0,0,0,"
    "0,0,0,0,27,0,56,0,0,1,8,0.0,0.0,0,0,0.0,0.0,0,0,-1,-1,0,BENIGN,-1"
)
KDD_NORMAL = (
    "0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,"
    "0.00,0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20"
)
KDD_NEPTUNE = (
    "0,tcp,private,S0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,123,6,1.00,1.00,0.00,0.00,0.05,0.07,"
    "0.00,255,26,0.10,0.05,0.00,0.00,1.00,1.00,0.00,0.00,neptune,19"
)
KDD_SMURF = (
    "0,icmp,ecr_i,SF,1032,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,263,263,0.00,0.00,0.00,0.00,1.00,"
    "0.00,0.00,255,255,1.00,0.00,1.00,0.00,0.00,0.00,0.00,0.00,smurf,20"
)


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def counts_add_up(read: FlowRead) -> None:
    assert read.summary.read == read.summary.accepted + read.summary.quarantined
    assert read.summary.accepted == read.events.height == read.features.height
    assert read.summary.quarantined == read.quarantine.count
    assert read.events["event_id"].to_list() == read.features["event_id"].to_list()
    assert read.events.schema == pl.Schema(schema("flow"))


# --- CICFlowMeter -------------------------------------------------------------------------


def test_cicflowmeter_real_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "flows.csv", [CIC_HEADER, CIC_BOTNET, CIC_BENIGN])
    read = read_cicflowmeter(path, tenant="bank-a")
    counts_add_up(read)
    rows = read.events.select(
        "src_ip", "dst_ip", "dst_port", "protocol", "service", "bytes_out", "bytes_in",
        "packets", pl.col("duration").round(6), "state", "tenant", "source",
    ).rows()  # fmt: skip
    assert rows == [
        ("192.168.10.5", "205.174.165.73", 8080, "tcp", "http", 196, 128, 9, 0.081379,
         "established", "bank-a", "cicflowmeter:flows.csv"),
        ("192.168.10.5", "192.168.10.3", 53, "udp", "dns", 108, 224, 4, 0.025324, None,
         "bank-a", "cicflowmeter:flows.csv"),
    ]  # fmt: skip
    assert str(read.events["time"][0]) == "2017-07-07 13:39:36.267908+00:00"
    features = read.features
    assert features["label"].to_list() == ["Botnet", "BENIGN"]
    assert features["flow_bytes_s"][0] == pytest.approx(3981.371115398321)
    assert features["fwd_init_win_bytes"].to_list() == [8192.0, 0.0]
    for not_a_feature in ("src_ip", "timestamp", "flow_id", "id", "src_port"):
        assert not_a_feature not in features.columns
    assert features.width == 1 + 83 + 2  # event_id, dst_port, protocol, 81 statistics, labels


def test_cicflowmeter_quarantines_bad_rows_with_line_and_reason(tmp_path: Path) -> None:
    short = ",".join(CIC_BOTNET.split(",")[:40])
    not_a_number = CIC_BENIGN.replace(",25324,", ",abc,", 1)
    bad_port = CIC_BENIGN.replace(",53633,192.168.10.3,53,", ",53633,192.168.10.3,70000,", 1)
    no_time = CIC_BENIGN.replace("2017-07-07 12:59:21.088203", "", 1)
    path = write(
        tmp_path / "flows.csv",
        [CIC_HEADER, CIC_BOTNET, short, not_a_number, bad_port, no_time, CIC_BENIGN],
    )
    quarantine = Quarantine(tmp_path / "q.jsonl")
    read = read_cicflowmeter(path, quarantine=quarantine)
    counts_add_up(read)
    assert read.summary.read == 6 and read.summary.accepted == 2
    rows = quarantine.records().sort("line").select("file", "line", "reason", "detail").rows()
    assert rows == [
        (str(path), 3, "broken_csv_row", "40 fields where the header has 91"),
        (str(path), 4, "wrong_type", 'flow_duration="abc": not a number'),
        (str(path), 5, "bad_value", "dst_port=70000: must be a port from 0 to 65535"),
        (str(path), 6, "missing_time", "no time"),
    ]


def test_cicflowmeter_old_headers_and_day_first_times(tmp_path: Path) -> None:
    header = (
        " Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp,"
        " Flow Duration, Total Fwd Packets, Total Backward Packets, Flow Bytes/s, Label"
    )
    row = "172.16.0.1,33898,192.168.10.50,80,6,5/7/2017 1:39:36 PM,100,2,0,Infinity,DoS Hulk"
    read = read_cicflowmeter(write(tmp_path / "old.csv", [header, row]))
    counts_add_up(read)
    assert read.events.select("src_ip", "dst_port", "protocol").row(0) == (
        "172.16.0.1", 80, "tcp",
    )  # fmt: skip
    assert str(read.events["time"][0]) == "2017-07-05 13:39:36+00:00"
    assert read.features["flow_bytes_s"][0] == float("inf")


def test_cicflowmeter_reads_the_cicids_folder(data_root: Path) -> None:
    folder = data_root / "network" / "cicids2017-improved"
    if not folder.is_dir():
        pytest.skip("CIC-IDS2017 sample not present")
    read = read_cicflowmeter(folder)
    counts_add_up(read)
    assert read.summary.read == 25_127 and read.summary.quarantined == 0
    assert read.features["label"].n_unique() == 16


# --- NSL-KDD -----------------------------------------------------------------------------


def test_nslkdd_real_rows_and_bad_rows(tmp_path: Path) -> None:
    garbled = KDD_NORMAL.replace("491", "lots", 1)
    kdd99 = KDD_SMURF.rsplit(",", 2)[0] + ",smurf."  # KDD'99: 42 fields, trailing dot
    lines = [KDD_NORMAL, KDD_NEPTUNE, "0,tcp,http,SF", garbled, kdd99]
    quarantine = Quarantine()
    read = read_nslkdd(write(tmp_path / "kdd.txt", lines), quarantine=quarantine)
    counts_add_up(read)
    assert read.events.select("protocol", "service", "state", "bytes_out", "bytes_in").rows() == [
        ("tcp", "ftp_data", "established", 491, 0),
        ("tcp", "private", "syn_only", 0, 0),
        ("icmp", "ecr_i", "established", 1032, 0),
    ]
    assert read.features.select("label", "difficulty").rows() == [
        ("normal", 20), ("neptune", 19), ("smurf", None),
    ]  # fmt: skip
    assert set(FEATURES) <= set(read.features.columns)
    assert read.features["dst_host_serror_rate"].to_list() == [0.0, 1.0, 0.0]
    assert read.events["time"].is_sorted()
    rows = quarantine.records().select("line", "reason", "detail").rows()
    assert rows == [
        (3, "broken_csv_row", "4 fields where 41 to 43 belong"),
        (4, "wrong_type", 'src_bytes="lots": not a number'),
    ]


def test_attack_categories_with_cr_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "attack-types.csv"
    path.write_bytes(b"back,dos\rnmap,probe\rnormal,normal\r")
    assert attack_categories(path) == {"back": "dos", "nmap": "probe", "normal": "normal"}


# --- Zeek --------------------------------------------------------------------------------

ZEEK_TSV = """#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tconn
#open\t2024-05-01-10-00-00
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]
1714557600.123456\tCHhAvVGS1DHFjwGM9\t10.1.2.3\t52814\t93.184.216.34\t443\ttcp\tssl\t1.204573\t517\t4345\tSF\tT\tF\t0\tShADadFf\t9\t897\t8\t4773\t(empty)
1714557601.500000\tC4J4Th3PJpwUYZZ6gc\t10.1.2.3\t50001\t10.1.9.9\t445\ttcp\t-\t-\t-\t-\tREJ\tT\tT\t0\tSr\t1\t44\t1\t40\t-
1714557602.0\tCbad\t10.1.2.3\t50002
1714557603.0\tCport\t10.1.2.3\t50003\t10.1.9.9\t99999\ttcp\t-\t-\t-\t-\tS0\tT\tT\t0\tS\t1\t44\t0\t0\t-
#close\t2024-05-01-11-00-00
"""


def test_zeek_tsv_with_header_lines(tmp_path: Path) -> None:
    path = tmp_path / "conn.log"
    path.write_text(ZEEK_TSV)
    read = read_zeek(path, tenant="bank-a")
    counts_add_up(read)
    assert read.events.select(
        "src_ip", "src_port", "dst_ip", "dst_port", "protocol", "service", "bytes_out",
        "bytes_in", "packets", "duration", "state",
    ).rows() == [
        ("10.1.2.3", 52814, "93.184.216.34", 443, "tcp", "ssl", 517, 4345, 17, 1.204573,
         "established"),
        ("10.1.2.3", 50001, "10.1.9.9", 445, "tcp", None, None, None, 2, None, "rejected"),
    ]  # fmt: skip
    assert str(read.events["time"][0]) == "2024-05-01 10:00:00.123456+00:00"
    assert read.features.select("uid", "conn_state", "history", "orig_ip_bytes").rows() == [
        ("CHhAvVGS1DHFjwGM9", "SF", "ShADadFf", 897.0),
        ("C4J4Th3PJpwUYZZ6gc", "REJ", "Sr", 44.0),
    ]
    rows = read.quarantine.records().sort("line").select("line", "reason", "detail").rows()
    assert rows == [
        (11, "broken_csv_row", "4 fields, 21 in #fields"),
        (12, "bad_value", "dst_port=99999: must be a port from 0 to 65535"),
    ]


def test_zeek_json_lines(tmp_path: Path) -> None:
    records = [
        {"ts": 1714557600.5, "uid": "C1", "id.orig_h": "10.1.2.3", "id.orig_p": 51000,
         "id.resp_h": "10.1.0.53", "id.resp_p": 53, "proto": "udp", "service": "dns",
         "duration": 0.01, "orig_bytes": 40, "resp_bytes": 90, "conn_state": "SF",
         "orig_pkts": 1, "resp_pkts": 1},
        {"ts": "2024-05-01T10:00:02.000000Z", "uid": "C2", "id.orig_h": "10.1.2.3",
         "id.orig_p": 51001, "id.resp_h": "10.1.9.9", "id.resp_p": 22, "proto": "tcp",
         "conn_state": "S0", "orig_pkts": 2},
        {"ts": 1714557603.0, "uid": "C3", "id.orig_h": "10.1.2.3", "orig_bytes": -4},
    ]  # fmt: skip
    path = tmp_path / "conn.json"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n{not json\n")
    read = read_zeek(path)
    counts_add_up(read)
    assert read.events.select("dst_port", "service", "bytes_out", "packets", "state").rows() == [
        (53, "dns", 40, 2, "established"),
        (22, None, None, 2, "syn_only"),
    ]
    assert str(read.events["time"][1]) == "2024-05-01 10:00:02+00:00"
    reasons = read.quarantine.records().sort("line").select("line", "reason").rows()
    assert reasons == [(3, "bad_value"), (4, "broken_json")]


# --- NetFlow v5, v9, IPFIX ---------------------------------------------------------------

EXPORT_TIME = 1_714_557_600  # 2024-05-01 10:00:00 UTC


def v5_packet(*flows: tuple[int, int, int, int, int, int, int]) -> bytes:
    """A v5 export of (src, dst, src_port, dst_port, proto, octets, flags) flows, uptime 60 s,
    each flow's first packet at uptime 59 s and last at 59.5 s."""
    header = struct.pack("!HHIIIIBBH", 5, len(flows), 60_000, EXPORT_TIME, 0, 1, 0, 0, 0)
    body = b"".join(
        struct.pack("!IIIHHIIIIHHxBBBHHBBxx", src, dst, 0, 1, 2, 3, octets, 59_000, 59_500,
                    sport, dport, flags, proto, 0, 0, 0, 24, 24)
        for src, dst, sport, dport, proto, octets, flags in flows
    )  # fmt: skip
    return header + body


# v9/IPFIX template: src addr, dst addr, src port, dst port, protocol, bytes, packets, flags
V9_FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 4), (2, 4), (6, 1)]


def v9_template() -> bytes:
    fields = b"".join(struct.pack("!HH", t, n) for t, n in V9_FIELDS)
    record = struct.pack("!HH", 256, len(V9_FIELDS)) + fields
    flowset = struct.pack("!HH", 0, 4 + len(record)) + record
    return struct.pack("!HHIIII", 9, 1, 60_000, EXPORT_TIME, 1, 0) + flowset


def flow_record(src: int, dst: int, sport: int, dport: int, proto: int, octets: int) -> bytes:
    return struct.pack("!IIHHBIIB", src, dst, sport, dport, proto, octets, 3, 0x02)


def v9_data(*records: bytes) -> bytes:
    body = b"".join(records)
    pad = (-len(body)) % 4
    flowset = struct.pack("!HH", 256, 4 + len(body) + pad) + body + b"\0" * pad
    return struct.pack("!HHIIII", 9, len(records), 60_000, EXPORT_TIME, 2, 0) + flowset


def ipfix_packet(with_template: bool, *records: bytes) -> bytes:
    sets = b""
    if with_template:
        fields = b"".join(struct.pack("!HH", t, n) for t, n in V9_FIELDS)
        record = struct.pack("!HH", 300, len(V9_FIELDS)) + fields
        sets += struct.pack("!HH", 2, 4 + len(record)) + record
    body = b"".join(records)
    if body:
        sets += struct.pack("!HH", 300, 4 + len(body)) + body
    return struct.pack("!HHIII", 10, 16 + len(sets), EXPORT_TIME, 1, 0) + sets


def test_netflow_v5_packets() -> None:
    packet = v5_packet(
        (0x0A000005, 0x0A000009, 51000, 443, 6, 4000, 0x18),
        (0x0A000005, 0x0A000010, 51001, 22, 6, 60, 0x02),
    )
    read = parse_exports([packet])
    counts_add_up(read)
    assert read.events.select(
        "src_ip", "dst_ip", "dst_port", "protocol", "service", "bytes_out", "bytes_in",
        "packets", "duration", "state",
    ).rows() == [
        ("10.0.0.5", "10.0.0.9", 443, "tcp", "https", 4000, None, 3, 0.5, "established"),
        ("10.0.0.5", "10.0.0.16", 22, "tcp", "ssh", 60, None, 3, 0.5, "syn_only"),
    ]  # fmt: skip
    assert str(read.events["time"][0]) == "2024-05-01 09:59:59+00:00"
    assert read.features.select("INPUT", "OUTPUT", "export_version").row(0) == (1.0, 2.0, 5.0)


def test_netflow_v9_template_then_data_and_data_before_its_template() -> None:
    early = v9_data(flow_record(0x0A000001, 0x0A000002, 40000, 53, 17, 80))
    read = parse_exports([early, v9_template(), v9_data(flow_record(1, 2, 1, 445, 6, 99))])
    counts_add_up(read)
    rows = read.events.sort("dst_port").select("src_ip", "dst_port", "protocol", "bytes_out")
    assert rows.rows() == [("10.0.0.1", 53, "udp", 80), ("0.0.0.1", 445, "tcp", 99)]
    lonely = parse_exports([early])
    assert lonely.events.height == 0
    assert lonely.quarantine.records()["reason"].to_list() == [UNKNOWN_TEMPLATE]
    assert lonely.summary.read == lonely.summary.quarantined == 1


def test_ipfix_packets_and_broken_packets() -> None:
    record = flow_record(0xC0A80001, 0x08080808, 50000, 443, 6, 1500)
    packets = [ipfix_packet(True, record), ipfix_packet(False, record), b"\x00\x0a\x00"]
    read = parse_exports(packets, file="exports")
    counts_add_up(read)
    assert read.events.select("src_ip", "dst_ip", "dst_port", "bytes_out", "state").rows() == [
        ("192.168.0.1", "8.8.8.8", 443, 1500, "syn_only"),
        ("192.168.0.1", "8.8.8.8", 443, 1500, "syn_only"),
    ]
    assert str(read.events["time"][0]) == "2024-05-01 10:00:00+00:00"  # the export time
    bad = read.quarantine.records()
    assert bad.select("file", "line", "reason").rows() == [("exports", 3, BROKEN_PACKET)]


def test_netflow_from_a_pcap_capture(tmp_path: Path) -> None:
    payload = v5_packet((0x0A000005, 0x0A000009, 51000, 443, 6, 4000, 0x18))
    udp = struct.pack("!HHHH", 50000, 2055, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + udp  # fmt: skip
    frame = b"\x00" * 12 + b"\x08\x00" + ip
    pcap = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    pcap += struct.pack("<IIII", EXPORT_TIME, 0, len(frame), len(frame)) + frame
    path = tmp_path / "exports.pcap"
    path.write_bytes(pcap)
    read = read_netflow(path)
    counts_add_up(read)
    assert read.events.select("src_ip", "dst_port", "bytes_out").rows() == [("10.0.0.5", 443, 4000)]
    with pytest.raises(ValueError, match="not a pcap"):
        read_netflow(write(tmp_path / "x.pcap", ["hello world, not a capture"]))
