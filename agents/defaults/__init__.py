"""Shipped defaults of the model layer: provider definitions, routes per role, prices.

The YAML files here are read by :mod:`bot.repoconfig.models`; a repository's
``.agentforge/config.yaml`` overrides them key by key.
"""
