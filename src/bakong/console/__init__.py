"""The central bank's console: its complete stream in its own store, supervision and audit."""
