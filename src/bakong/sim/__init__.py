"""The deterministic whole-network simulator (design section 9; TigerBeetle's VOPR in spirit).

One process, one seeded PRNG (`random.Random(seed)`), one simulated clock in integer
milliseconds. N validators run the real consensus driver (`bakong.consensus`) and the real
ledger (`bakong.ledger`) behind simulated hosts; simulated gateways submit a steady flow of
signed transfers; a packet simulator delays, drops, duplicates, reorders and partitions their
messages; validators crash and lose the writes they had not synced; up to f of them are
Byzantine, and attack the ledger too. After every step a checker asserts agreement, quorum
commits, identical app hashes, conservation, no negative balance, expired holds voided,
exactly-once execution of acknowledged transactions, refused attacks and, once the faults
stop, liveness. A failing run names its seed; the seed replays it byte for byte (the trace
hash covers every event in order).

| module | what it holds |
|---|---|
| `scheduler.py` | the event queue on the simulated clock, and the trace hash |
| `events.py` | the events of a run and their lines in the trace |
| `world.py` | one run's clock, PRNG, network, memo, checker and nodes |
| `node.py` | a simulated validator: the real host (`bakong.node.host`) on simulated I/O |
| `network.py` | the packet simulator: delay, loss, duplication, reordering, partitions |
| `disk.py` | a node's simulated disk: ordered writes, `sync`, a crash keeps a random prefix |
| `chain.py` | the simulated chain's genesis, keys and constants |
| (shared) | `bakong.node`: `host`, `replica`, `catchup`, `relay`, `admission`, `mempool`, ... |
| `byzantine.py` | Byzantine behaviours: equivocation, double votes, invalid blocks, silence |
| `attacks.py` | Byzantine attacks on the ledger: bad transactions in proposals, false catch-up |
| `workload.py` | simulated gateways submitting transfers and resubmitting until committed |
| `checker.py` | the invariants, checked after every step |
| `faults.py` | the fault plan drawn from each seed |
| `mutants.py` | deliberately broken rules, one per checker, to prove each can fail |
| `run.py` | one seed to one run, and many seeds to a summary |

Rules:
1. Nothing here reads the wall clock, starts a thread, opens a socket or draws real
   randomness: every random choice comes from the run's one `random.Random(seed)`.
2. Nothing iterates an unsorted set, or a dict whose order depends on hashing, where the order
   could reach the trace: dicts are insertion-ordered and filled in event order.
3. The real code runs inside the nodes. Pure functions of their inputs (message decoding,
   signature and commit verification) are memoised across nodes of one run, which changes
   what is computed how often, never what it answers.
"""
