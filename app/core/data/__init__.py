"""Core: data at scale — batch AgentWrite runs and training data (SFT records, DPO pairs)."""
