"""Core: the AgentWrite engine: writer, events, plan, prompts, memory, the job session."""
