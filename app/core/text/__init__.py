"""Core: text helpers: word counting, sentences, titles."""
