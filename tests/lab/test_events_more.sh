#!/bin/bash
# tests/lab/test_events_more.sh - test_events.sh for the other lab faults:
# load sharing (split), a rogue announcing the address (hijack), a dead
# service behind a routing daemon without a health check (blackhole, one
# instance_down), and a branch cut off from every service (branch_isolated).
# Same checks, same environment (see test_events.sh).
EV_FAULTS=${EV_FAULTS:-"ecmp:br2 rogue service-down-unguarded:site-c isolate:br4"} \
	exec bash "$(dirname "$0")/test_events.sh"
