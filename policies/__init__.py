"""Policies: pure yes/no answers over read-only snapshots.

Approvers, protected paths, secret scanning, budgets, privacy routing rules, rate
limits. A policy never calls out to a forge, a model or a store.
"""
