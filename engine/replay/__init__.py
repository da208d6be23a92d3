"""Replaying stored mail through policies: what `dry-run`, `diff` and the replay worker share.

`rows` turns one input into the row the tools print and the worker writes; `archive` reads
SES's S3 archive; `pool` fetches concurrently and hands results back in input order;
`summary` groups diff rows; `bundle` carries a policy, resolved, to the worker.
"""
