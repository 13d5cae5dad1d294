#!/usr/bin/env python3
"""Turns the openspf.org RFC 7208 test suite (release 2014.04) into rfc7208-tests.json.

The suite is test/rfc7208-tests.yml in pyspf's source distribution
(`pip download pyspf --no-deps --no-binary :all:` gives pyspf-2.0.14.tar.gz); it was written by
the SPF council (Stuart D. Gathman and others, see the YAML's header and rfc7208-tests.LICENSE)
and is described at http://www.openspf.org/Test_Suite.

The zone data is resolved here the way pyspf's own driver (test/testspf.py) serves it, so the
Swift fake resolver only answers lookups:
  - SPF-type records are copied to TXT when a name has no TXT entry (RFC 7208 dropped type SPF
    and the suite relies on that copy); "TXT: NONE" suppresses the copy.
  - A bare TIMEOUT entry makes a query time out unless a record of the queried type came before it.
  - A CNAME is followed one level, as the driver does.
  - MX exchanges are sorted by preference, lowercased, without the final dot ("" is a null MX).
Each name then maps to {"TXT"|"A"|"AAAA"|"MX"|"PTR": [values] or "TIMEOUT"}; a type absent from
a listed name is NODATA, a name absent from the zone is NXDOMAIN.

Usage: python3 make_rfc7208_fixture.py path/to/rfc7208-tests.yml > rfc7208-tests.json
"""
import json
import sys

import yaml

QTYPES = ("TXT", "A", "AAAA", "MX", "PTR")


def rdata(entries):
    """The records of one name as (type, value) in order, 'TIMEOUT' kept as a marker."""
    records = []
    generated = []
    has_txt = False
    for entry in entries:
        if entry == "TIMEOUT":
            records.append("TIMEOUT")
            continue
        for rtype, value in entry.items():
            if rtype in ("TXT", "SPF") and isinstance(value, str):
                value = [value]
            if rtype == "TXT":
                has_txt = True
            elif rtype == "SPF":
                generated.append(("TXT", value))
            if value != ["NONE"]:
                records.append((rtype, value))
    if not has_txt:
        records.extend(generated)
    return records


def lookup(zone, name, qtype, follow=True):
    """Returns a list of values, 'TIMEOUT', or None for NXDOMAIN (testspf.py's DNSLookup)."""
    records = zone.get(name.lower().rstrip("."))
    if records is None:
        return None
    seen_type = False
    values = []
    for record in records:
        if record == "TIMEOUT":
            if not seen_type:
                return "TIMEOUT"
            break
        rtype, value = record
        if rtype == qtype:
            seen_type = True
            values.append(value)
        elif rtype == "CNAME" and follow:
            target = lookup(zone, value, qtype, follow=False)
            if target == "TIMEOUT":
                return "TIMEOUT"
            values.extend(target or [])
    return values


def present(qtype, values):
    if qtype == "TXT":
        return ["".join(strings) for strings in values]
    if qtype == "MX":
        ordered = sorted(values, key=lambda mx: mx[0])
        return [str(mx[1]).lower().rstrip(".") for mx in ordered]
    if qtype == "PTR":
        return [str(v).lower().rstrip(".") for v in values]
    return [str(v) for v in values]


def scenario(data):
    raw = {name.lower(): rdata(entries) for name, entries in data.get("zonedata", {}).items()}
    zone = {}
    for name in raw:
        answers = {}
        for qtype in QTYPES:
            values = lookup(raw, name, qtype)
            if values == "TIMEOUT":
                answers[qtype] = "TIMEOUT"
            elif values:
                answers[qtype] = present(qtype, values)
        zone[name] = answers
    tests = []
    for test_name, test in data["tests"].items():
        result = test["result"]
        case = {
            "name": test_name,
            "spec": str(test.get("spec", "")),
            "host": test["host"],
            "mailfrom": test["mailfrom"],
            "helo": test["helo"],
            "results": result if isinstance(result, list) else [result],
        }
        if "explanation" in test:
            case["explanation"] = test["explanation"]
        tests.append(case)
    return {"description": data["description"], "zone": zone, "tests": tests}


def main():
    with open(sys.argv[1], "rb") as f:
        scenarios = [scenario(doc) for doc in yaml.safe_load_all(f)]
    json.dump({"source": "openspf.org RFC 7208 test suite, release 2014.04 (pyspf-2.0.14 test/rfc7208-tests.yml)",
               "scenarios": scenarios}, sys.stdout, indent=1, ensure_ascii=True, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
