"""Role agents, prompts, tools, model providers and routing, cost accounting.

This is AgentForge's own ``agents`` package (not the ``openai-agents`` SDK, whose
top-level package has the same name and must never be installed alongside).
"""
