"""Role agents: the analyst, architect, developer, QA, devops, writer and reviewer.

:mod:`agents.roles.contract` is the stable surface the workflow engine (``handlers/``)
and the shell (``bot/``) speak: a :class:`~agents.roles.contract.RoleTask` goes in, a
typed :class:`~agents.roles.contract.RoleResult` comes out. Nothing here writes to a
forge; a role's writes are a staged change set that the executor may later commit.
"""
