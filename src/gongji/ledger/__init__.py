"""The ledger: members, personal accounts, yearly state and a double-entry journal.

It remembers, exactly once, what the engine computes: every money movement is a balanced
journal entry; entries are never changed, a cancellation is a new entry pointing at the one
it reverses; balances follow from entries and `gongji db check` recomputes them.
"""
