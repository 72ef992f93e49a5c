"""Benchmarks of qconnect_async against raw aiobotocore and boto3: `python -m benchmarks`.

Every row of the table is measured in the same run, against a fake service
(`python -m qconnect_async.testing`) running in its own process on 127.0.0.1. `--smoke` runs
tiny sizes once, `--only NAME` one section, `--json PATH` saves the results, `--awscli` adds
awscli's rows (its venv is built once, from the package index), and `--profile` prints where
the CPU of qconnect_async's per-page path goes.
"""
