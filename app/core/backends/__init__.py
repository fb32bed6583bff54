"""Core: text-generation backends: the interface, llama.cpp, OpenAI-compatible servers, the factory, GPU fit."""
