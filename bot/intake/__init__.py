"""The intake process: what runs in ``agentforge serve``'s own process.

Verify a delivery, dedupe it, append it to the fsync'd journal and acknowledge it
(:mod:`bot.intake.server`, :mod:`bot.intake.verify`, :mod:`bot.intake.journal`), plus
the read-only admin API and the local forge's feed. Nothing here runs handlers.
"""
