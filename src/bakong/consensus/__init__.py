"""Tendermint consensus (Algorithm 1 of Buchman, Kwon, Milosevic 2018) as a pure state machine.

Modules, from the wire inwards (design section 4; docs/consensus.md):
- `messages`: signed proposals and votes, canonical decoding, domain-separated signatures.
- `proposer`: proposer(h, r), weighted round robin by voting power.
- `vote_keeper`: weighted tallies per round; each threshold emitted once; equivocation evidence.
- `round`: the round state machine, one `match` arm per upon-rule of the paper.
- `driver`: the mux from proposals and thresholds to round inputs; one driver per height.
- `commit`: a decided block's commit: building it and verifying it against a validator set.
- `evidence`: proof that a validator signed two conflicting messages.

Nothing here reads a clock, a random source, a file or the network: time arrives as inputs
(timeouts that come back) and everything else is an output the host performs.
"""
