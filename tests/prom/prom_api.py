#!/usr/bin/env python3
# tests/prom/prom_api.py - read a Prometheus server's HTTP API for the shell tests
#
# targets URL JOB   one line per target of JOB: "HEALTH SCRAPE_URL LAST_ERROR"
# query URL EXPR    one line per series: its labels as compact sorted JSON, a space, the value
# alerts URL        one line per alert: "ALERTNAME STATE LABELS_JSON"
# rules URL         one line per rule: "NAME HEALTH"
# Exits 1 when the API does not answer with status "success".
import json
import sys
import urllib.parse
import urllib.request


def get(url, path, **params):
    q = ("?" + urllib.parse.urlencode(params)) if params else ""
    with urllib.request.urlopen(url + path + q, timeout=10) as r:
        j = json.load(r)
    if j.get("status") != "success":
        print("API error:", j, file=sys.stderr)
        sys.exit(1)
    return j["data"]


def main():
    cmd, url = sys.argv[1], sys.argv[2].rstrip("/")
    if cmd == "targets":
        for t in get(url, "/api/v1/targets")["activeTargets"]:
            if t["labels"].get("job") == sys.argv[3]:
                print(t["health"], t["scrapeUrl"], t.get("lastError", "") or "-")
    elif cmd == "query":
        for s in get(url, "/api/v1/query", query=sys.argv[3])["result"]:
            print(json.dumps(s["metric"], sort_keys=True, separators=(",", ":")), s["value"][1])
    elif cmd == "alerts":
        for a in get(url, "/api/v1/alerts")["alerts"]:
            labels = json.dumps(a["labels"], sort_keys=True, separators=(",", ":"))
            print(a["labels"]["alertname"], a["state"], labels)
    elif cmd == "rules":
        for g in get(url, "/api/v1/rules")["groups"]:
            for r in g["rules"]:
                print(r["name"], r["health"])
    else:
        sys.exit("unknown command " + cmd)


main()
