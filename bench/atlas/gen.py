#!/usr/bin/env python3
# bench/atlas/gen.py - writes N RIPE Atlas DNS results (JSON lines) to stdout:
# PROBES probes, one result every 240 s each (a day of a 4-minute
# measurement), NSID answers captured from NSD and Knot (two instances),
# 2 % timeouts. Usage: gen.py PROBES RESULTS > file
import base64, json, sys

probes, total = int(sys.argv[1]), int(sys.argv[2])
abufs = [base64.b64encode(open('tests/fixtures/dns/%s/nsid.bin' % s, 'rb').read()).decode()
         for s in ('nsd', 'knot')]
T0 = 1764748800
out = sys.stdout
w = out.write
i = 0
step = 0
while i < total:
    ts = T0 + 240 * step
    for p in range(probes):
        if i == total:
            break
        prb = 10000 + p
        r = {'fw': 5080, 'lts': 12, 'af': 4, 'dst_addr': '198.18.255.53', 'from': '192.0.2.1',
             'msm_id': 70001, 'prb_id': prb, 'proto': 'UDP', 'timestamp': ts + p % 240,
             'type': 'dns', 'msm_name': 'Tdig', 'group_id': 70001}
        if (prb * 7 + step) % 50 == 0:
            r['error'] = {'timeout': 5000}
        else:
            r['result'] = {'ANCOUNT': 1, 'ARCOUNT': 1, 'ID': 4097, 'NSCOUNT': 0, 'QDCOUNT': 1,
                           'abuf': abufs[prb % 2], 'rt': 10.0 + (prb % 90), 'size': 60}
        w(json.dumps(r, separators=(',', ':')))
        w('\n')
        i += 1
    step += 1
