"""Speed and memory benchmarks of pruning: prefill speed-up against the FLOP ideal, scoring cost, KV-cache bytes and
decode time."""
