"""Handlers decide what the bot does for each kind of event or command.

They read forge-neutral :class:`bot.events.Event` objects and return proposed
:mod:`bot.actions`; they never write to a forge themselves.
"""
